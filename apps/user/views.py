"""Profile pages: a member's public profile, their threads and posts, the avatar, and the edit form.

Every page works without JavaScript: plain links and POST forms; refusals come back as form errors
with their status (400, 413), or as the friendly error page (404 for an unknown member).

The equipped frame (the frame app, later) has its place already: ``templates/user/_frame.html`` is
included around the avatar with ``frame`` in the context, None for now. When the frame app publishes
its read (say ``apps.frame.services.frames_equipped_for(user_ids=[...])``), ``_frame_of`` below asks
it, and the partial draws it; nothing else in the pages changes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.user import forms, services
from forum.errors import ApplicationError
from forum.forms import add_application_error
from forum.paging import page_number
from forum.uploads import THUMBNAIL_CONTENT_TYPE, serve_download

# How many of a member's threads and posts the profile shows; the lists of their own pages are longer.
RECENT_COUNT = 5
PER_PAGE = 20


def _viewer_id(request: HttpRequest) -> int | None:
    return int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None


def _member_id(request: HttpRequest) -> int:
    user_id = request.user.pk
    assert user_id is not None, "login_required lets only members in"
    return int(user_id)


def _frame_of(user_id: int) -> Any:
    """The member's equipped frame, for templates/user/_frame.html; None until the frame app has one."""
    return None


def profile(request: HttpRequest, user_id: int) -> HttpResponse:
    member = services.member_profile(user_id=user_id)
    viewer_id = _viewer_id(request)
    context = {
        "member": member,
        "frame": _frame_of(user_id),
        "is_owner": viewer_id == user_id,
        "following": viewer_id is not None
        and viewer_id != user_id
        and services.follows(user_id=viewer_id, target_id=user_id),
        "threads": services.member_threads(
            viewer_id=viewer_id, author_id=user_id, page=1, per_page=RECENT_COUNT
        ),
        "posts": services.member_posts(viewer_id=viewer_id, author_id=user_id, page=1, per_page=RECENT_COUNT),
    }
    return render(request, "user/profile.html", context)


def _activity(request: HttpRequest, user_id: int, kind: str) -> HttpResponse:
    member = services.member_profile(user_id=user_id)
    lister = services.member_threads if kind == "threads" else services.member_posts
    page = lister(
        viewer_id=_viewer_id(request),
        author_id=user_id,
        page=page_number(request.GET.get("page")),
        per_page=PER_PAGE,
    )
    return render(request, "user/activity.html", {"member": member, "kind": kind, "page": page})


def threads(request: HttpRequest, user_id: int) -> HttpResponse:
    return _activity(request, user_id, "threads")


def posts(request: HttpRequest, user_id: int) -> HttpResponse:
    return _activity(request, user_id, "posts")


def avatar(request: HttpRequest, user_id: int, version: str) -> HttpResponseBase:
    """The avatar shown (its WebP thumbnail). Avatars are public: only the member's existence counts.

    The URL carries the avatar's version, so it may be cached for long; an old version leads to the
    current one, and 404 when there is none.
    """
    key = services.avatar_storage_key(user_id=user_id)
    if version != services.avatar_version(key):
        return redirect("user:avatar", user_id=user_id, version=services.avatar_version(key))
    response = serve_download(
        request,
        storage_key=key,
        content_type=THUMBNAIL_CONTENT_TYPE,
        filename=f"avatar-{user_id}.webp",
        as_attachment=False,
        public=True,
    )
    # Public, and the bytes under this URL never change; an hour keeps a removed avatar from lingering.
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _edit_page(
    request: HttpRequest,
    *,
    profile_form: forms.ProfileForm | None = None,
    avatar_form: forms.AvatarForm | None = None,
    status: int = 200,
) -> HttpResponse:
    source = services.profile_source_get(user_id=_member_id(request))
    context = {
        "source": source,
        "profile_form": profile_form
        or forms.ProfileForm(
            initial={
                "bio": source.bio,
                "signature": source.signature,
                "website": source.website,
                "location": source.location,
            }
        ),
        "avatar_form": avatar_form or forms.AvatarForm(),
    }
    return render(request, "user/profile_edit.html", context, status=status)


@never_cache
@login_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _edit_page(request)
    form = forms.ProfileForm(request.POST)
    if not form.is_valid():
        return _edit_page(request, profile_form=form, status=400)
    try:
        services.profile_update(user_id=_member_id(request), **form.cleaned_data)
    except ApplicationError as error:
        add_application_error(form, error)
        return _edit_page(request, profile_form=form, status=error.status)
    messages.success(request, _("Your profile is saved."))
    return redirect("user:profile-edit")


@never_cache
@login_required
@require_POST
def avatar_upload(request: HttpRequest) -> HttpResponse:
    form = forms.AvatarForm(request.POST, request.FILES)
    if not form.is_valid():
        return _edit_page(request, avatar_form=form, status=400)
    file = form.cleaned_data["avatar"]
    try:
        services.avatar_set(user_id=_member_id(request), file=file, filename=file.name or "")
    except ApplicationError as error:
        add_application_error(form, error)
        return _edit_page(request, avatar_form=form, status=error.status)
    messages.success(request, _("Your avatar is changed."))
    return redirect("user:profile-edit")


@never_cache
@login_required
@require_POST
def avatar_delete(request: HttpRequest) -> HttpResponse:
    services.avatar_remove(user_id=_member_id(request))
    messages.success(request, _("Your avatar is removed."))
    return redirect("user:profile-edit")


@never_cache
@login_required
@require_POST
def follow_toggle(request: HttpRequest, user_id: int) -> HttpResponse:
    """The profile's follow button: ``action=follow`` or ``action=unfollow``, back to the profile."""
    member_id = _member_id(request)
    if request.POST.get("action") == "unfollow":
        services.unfollow(user_id=member_id, target_id=user_id)
        messages.success(request, _("You no longer follow this member."))
    else:
        services.follow(user_id=member_id, target_id=user_id)
        messages.success(request, _("You follow this member now."))
    return redirect("user:profile", user_id=user_id)

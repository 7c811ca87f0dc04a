"""Profile pages: a member's public profile, their threads and posts, the avatar, and the edit form.

Every page works without JavaScript: plain links and POST forms; refusals come back as form errors
with their status (400, 413), or as the friendly error page (404 for an unknown member).

The frame the member wears (the frame app's, read by ``services.member_profile`` through
``apps.frame.services.equipped_frames_for``) is drawn around the avatar by ``templates/user/_frame.html``.
"""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.authorization.services import permission_key_for
from apps.status.services import automatic_progress_for
from apps.user import forms, services
from forum.errors import ApplicationError
from forum.forms import add_application_error
from forum.pagecache import guest_page
from forum.paging import page_number
from forum.uploads import THUMBNAIL_CONTENT_TYPE, serve_download
from forum.versioned_cache import kept

# How many of a member's threads and posts the profile shows; the lists of their own pages are longer.
RECENT_COUNT = 5
PER_PAGE = 20


def _viewer_id(request: HttpRequest) -> int | None:
    return int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None


def _member_id(request: HttpRequest) -> int:
    user_id = request.user.pk
    assert user_id is not None, "login_required lets only members in"
    return int(user_id)


def _activity_html(request: HttpRequest, user_id: int, viewer_id: int | None) -> str:
    """The profile's lists of the member's threads and posts, as HTML.

    What they hold depends on the member, on what the reader may see (their permission set: two readers
    with the same permissions see the same lists) and on the language, and changes with the thread app's
    data: built once per member, permission set and language and kept until the thread app's version
    moves (forum.versioned_cache; every thread event moves it). The owner may see their own threads
    awaiting moderation, so their lists are kept for them alone.
    """

    def build() -> str:
        context = {
            "member_id": user_id,
            "threads": services.member_threads(
                viewer_id=viewer_id, author_id=user_id, page=1, per_page=RECENT_COUNT
            ),
            "posts": services.member_posts(
                viewer_id=viewer_id, author_id=user_id, page=1, per_page=RECENT_COUNT
            ),
        }
        return render_to_string("user/_profile_activity.html", context)

    reader = ("owner",) if viewer_id == user_id else ("readers", permission_key_for(user_id=viewer_id))
    parts = (user_id, reader, get_language(), timezone.get_current_timezone_name())
    return mark_safe(kept("user.profile_activity", parts, ACTIVITY_SCOPES, build, local=True))  # noqa: S308  rendered by Django, escaped


# The profile's lists show the thread app's data (titles, posts, what is deleted, moved or held).
ACTIVITY_SCOPES = ("thread",)
# What a guest's profile page shows besides the lists: the account and profile (this app), the status
# badges, the frame, a ban (each app's events move its scope; forum.versioned_cache).
GUEST_PROFILE_SCOPES = (services.PAGES_SCOPE, "status", "frame", "moderation", "authorization")


# What the profile's header shows but its badges: the account and profile, the post count and score,
# the frame worn.
MEMBER_SCOPES = (services.PAGES_SCOPE, "thread", "frame")


def _member(user_id: int) -> services.MemberProfile:
    """The member's public profile, kept per language until one of ``MEMBER_SCOPES`` moves; the status
    badges are read for each request (a status's end moves no version: it is noticed by a task, up to a
    minute later, while the badges follow the clock)."""
    member = kept(
        "user.member_profile",
        (user_id, get_language()),
        MEMBER_SCOPES,
        lambda: services.member_profile(user_id=user_id, with_badges=False),
        local=True,
    )
    return replace(member, badges=services.member_badges(user_id=user_id))


@guest_page("thread", also=GUEST_PROFILE_SCOPES)
def profile(request: HttpRequest, user_id: int) -> HttpResponse:
    member = _member(user_id)
    viewer_id = _viewer_id(request)
    context = {
        "member": member,
        "frame": member.frame,
        "is_owner": viewer_id == user_id,
        "following": viewer_id is not None
        and viewer_id != user_id
        and services.follows(user_id=viewer_id, target_id=user_id),
        "activity": _activity_html(request, user_id, viewer_id),
        # The statuses given by rules and the owner's progress toward them (the status app's section).
        "automatic_statuses": automatic_progress_for(user_id=user_id) if viewer_id == user_id else [],
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

"""Server-rendered pages of the thread app: the forum index, a forum, a thread, and their forms.

Every page works without JavaScript: plain links and POST forms. Refusals of the services come back
as form errors with their status (400, 403, 409, 429 with Retry-After), or as the friendly error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.thread import forms, selectors, services
from forum.errors import ApplicationError, NotFound
from forum.uploads import THUMBNAIL_CONTENT_TYPE, serve_download


def _viewer(request: HttpRequest) -> selectors.Viewer:
    user_id = request.user.pk if request.user.is_authenticated else None
    return selectors.viewer_for(user_id=None if user_id is None else int(user_id))


def _member_id(request: HttpRequest) -> int:
    assert request.user.pk is not None, "login_required lets only members in"
    return int(request.user.pk)


def _refused(
    request: HttpRequest, template: str, context: dict[str, Any], form: Any, error: ApplicationError
) -> HttpResponse:
    forms.add_application_error(form, error)
    response = render(request, template, context, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _thread_url(thread_id: int, *, page: int = 1, post_id: int | None = None) -> str:
    url = reverse("thread-detail", args=[thread_id])
    if page > 1:
        url += f"?page={page}"
    if post_id is not None:
        url += f"#post-{post_id}"
    return url


def index(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    return render(request, "thread/index.html", {"forums": selectors.forum_index(viewer=viewer)})


def _visible_forum(
    viewer: selectors.Viewer, forum_id: int
) -> tuple[selectors.ForumNode, dict[int, selectors.ForumNode]]:
    forums = selectors.forums_visible(viewer=viewer)
    forum = forums.get(forum_id)
    if forum is None:
        raise NotFound(_("There is no such forum."))
    return forum, forums


def forum_detail(request: HttpRequest, forum_id: int) -> HttpResponse:
    viewer = _viewer(request)
    forum, forums = _visible_forum(viewer, forum_id)
    threads = selectors.thread_page(
        viewer=viewer, forum_id=forum_id, page=forms.page_number(request.GET.get("page"))
    )
    context = {
        "forum": forum,
        "path": selectors.forum_path(forums=forums, forum_id=forum_id),
        "subforums": [forums[child] for child in forum.children],
        "threads": threads,
        "can_start": viewer.user_id is not None
        and not forum.is_category
        and viewer.can(forum.post_permission),
    }
    return render(request, "thread/forum.html", context)


def _uploaded(member_id: int, files: Sequence[UploadedFile[bytes]]) -> list[int]:
    """Store the files of a page's form as the member's pending uploads (all or none)."""
    services.attachment_count_check(user_id=member_id, attachment_ids=range(len(files)))
    ids: list[int] = []
    try:
        for file in files:
            ids.append(
                services.attachment_upload(uploader_id=member_id, file=file, field_name="attachments").id
            )
    except BaseException:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        raise
    return ids


@login_required
def thread_new(request: HttpRequest, forum_id: int) -> HttpResponse:
    viewer = _viewer(request)
    forum, forums = _visible_forum(viewer, forum_id)
    form = forms.ThreadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    context = {"forum": forum, "path": selectors.forum_path(forums=forums, forum_id=forum_id), "form": form}
    if request.method == "POST" and form.is_valid():
        member_id = _member_id(request)
        ids: list[int] = []
        try:
            ids = _uploaded(member_id, form.cleaned_data["attachments"])
            thread = services.thread_create(
                author_id=member_id,
                forum_id=forum_id,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                attachment_ids=ids,
            )
        except ApplicationError as error:
            services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
            return _refused(request, "thread/thread_new.html", context, form, error)
        return redirect(_thread_url(thread.id))
    return render(request, "thread/thread_new.html", context, status=400 if form.errors else 200)


def _thread_or_404(
    viewer: selectors.Viewer, thread_id: int
) -> tuple[selectors.ThreadRow, dict[int, selectors.ForumNode]]:
    thread = selectors.thread_row(viewer=viewer, thread_id=thread_id)
    forums = selectors.forums_visible(viewer=viewer)
    if thread is None or thread.forum_id not in forums:
        raise NotFound(_("There is no such thread."))
    return thread, forums


def _read_position(viewer: selectors.Viewer, thread: selectors.ThreadRow) -> int | None:
    """How far the viewer has read: None for guests, 0 for a member who never opened the thread."""
    if viewer.user_id is None:
        return None
    return thread.read_position or 0


def thread_detail(request: HttpRequest, thread_id: int) -> HttpResponse:
    viewer = _viewer(request)
    thread, forums = _thread_or_404(viewer, thread_id)
    read_position = _read_position(viewer, thread)
    if "unread" in request.GET and read_position is not None:
        position = selectors.first_unread_position(thread_id=thread_id, read_position=read_position)
        if position is not None:
            page = selectors.page_of_position(thread_id=thread_id, position=position)
            return HttpResponseRedirect(_thread_url(thread_id, page=page) + f"#position-{position}")
    posts = selectors.post_page(
        thread=thread,
        page=forms.page_number(request.GET.get("page")),
        read_position=read_position,
        viewer_id=viewer.user_id,
    )
    if viewer.user_id is not None and posts.items:
        services.thread_mark_read(
            user_id=viewer.user_id, thread_id=thread_id, position=posts.items[-1].position
        )
    forum = forums[thread.forum_id]
    context = {
        "thread": thread,
        "forum": forum,
        "path": selectors.forum_path(forums=forums, forum_id=thread.forum_id),
        "posts": posts,
        "moderator": viewer.moderator,
        "can_reply": viewer.user_id is not None
        and thread.state == "approved"
        and (not thread.closed or viewer.moderator)
        and viewer.can(forum.post_permission),
        "reply_form": forms.ReplyForm(),
        "can_react": viewer.user_id is not None and thread.state == "approved" and viewer.can("reaction.add"),
        "reject_form": forms.RejectForm(),
        "move_targets": [node for node in forums.values() if not node.is_category and node.id != forum.id]
        if viewer.moderator
        else [],
    }
    return render(request, "thread/thread.html", context)


@login_required
@require_POST
def post_new(request: HttpRequest, thread_id: int) -> HttpResponse:
    viewer = _viewer(request)
    thread, forums = _thread_or_404(viewer, thread_id)
    form = forms.ReplyForm(request.POST, request.FILES)
    context = {
        "thread": thread,
        "path": selectors.forum_path(forums=forums, forum_id=thread.forum_id),
        "form": form,
    }
    if not form.is_valid():
        return render(request, "thread/post_new.html", context, status=400)
    member_id = _member_id(request)
    ids: list[int] = []
    try:
        ids = _uploaded(member_id, form.cleaned_data["attachments"])
        post = services.post_create(
            author_id=member_id, thread_id=thread_id, body=form.cleaned_data["body"], attachment_ids=ids
        )
    except ApplicationError as error:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        return _refused(request, "thread/post_new.html", context, form, error)
    return redirect(reverse("thread-post", args=[post.id]))


def post_goto(request: HttpRequest, post_id: int) -> HttpResponse:
    """A link to one post: the page of its thread where it stands."""
    viewer = _viewer(request)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    _thread_or_404(viewer, location.thread_id)
    page = selectors.page_of_position(thread_id=location.thread_id, position=location.position)
    return HttpResponseRedirect(_thread_url(location.thread_id, page=page, post_id=post_id))


@login_required
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    viewer = _viewer(request)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    thread, forums = _thread_or_404(viewer, location.thread_id)
    body = selectors.post_body(post_id=post_id)
    form = forms.PostForm(request.POST if request.method == "POST" else None, initial={"body": body})
    context = {
        "thread": thread,
        "post_id": post_id,
        "path": selectors.forum_path(forums=forums, forum_id=thread.forum_id),
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        try:
            services.post_edit(editor_id=_member_id(request), post_id=post_id, body=form.cleaned_data["body"])
        except ApplicationError as error:
            return _refused(request, "thread/post_edit.html", context, form, error)
        return redirect(reverse("thread-post", args=[post_id]))
    return render(request, "thread/post_edit.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def post_delete(request: HttpRequest, post_id: int) -> HttpResponse:
    location = selectors.post_location(post_id=post_id)
    services.post_delete(user_id=_member_id(request), post_id=post_id)
    assert location is not None  # the service would have refused
    return redirect(_thread_url(location.thread_id))


@login_required
@require_POST
def thread_moderate(request: HttpRequest, thread_id: int) -> HttpResponse:
    """The moderators' buttons on a thread page: one POST form per action."""
    moderator_id = _member_id(request)
    action = request.POST.get("action", "")
    simple = {
        "close": services.thread_close,
        "reopen": services.thread_reopen,
        "pin": services.thread_pin,
        "unpin": services.thread_unpin,
        "approve": services.thread_approve,
    }
    if action in simple:
        simple[action](moderator_id=moderator_id, thread_id=thread_id)
    elif action == "reject":
        services.thread_reject(
            moderator_id=moderator_id, thread_id=thread_id, reason=request.POST.get("reason", "")
        )
    elif action == "move":
        raw = request.POST.get("forum_id", "")
        forum_id = int(raw) if raw.isdigit() and len(raw) < 19 else 0
        services.thread_move(moderator_id=moderator_id, thread_id=thread_id, forum_id=forum_id)
    elif action == "delete":
        location = selectors.thread_forum_id(thread_id=thread_id)
        services.thread_delete(moderator_id=moderator_id, thread_id=thread_id)
        return redirect(reverse("thread-forum", args=[location]) if location else reverse("home"))
    else:
        raise NotFound(_("There is no such action."))
    return redirect(_thread_url(thread_id))


@login_required
@require_POST
def post_react(request: HttpRequest, post_id: int) -> HttpResponse:
    """The reaction buttons under a post: pressing one's own kind again takes the reaction back."""
    member_id = _member_id(request)
    kind = request.POST.get("kind", "")
    if kind and kind == selectors.my_reaction(user_id=member_id, post_id=post_id):
        services.reaction_clear(user_id=member_id, post_id=post_id)
    else:
        services.reaction_set(user_id=member_id, post_id=post_id, kind=kind)
    return redirect(reverse("thread-post", args=[post_id]))


def attachment_download(
    request: HttpRequest, attachment_id: int, name: str, thumbnail: bool = False
) -> HttpResponseBase:
    """The only way to an attachment's bytes: 404 unless the viewer may see its post (or, before it
    is on a post, is its uploader), whatever the id or name guessed. The name is for the browser."""
    found = selectors.attachment_for_download(viewer=_viewer(request), attachment_id=attachment_id)
    if found is None or (thumbnail and not found.thumbnail_key):
        raise NotFound(_("There is no such file."))
    return serve_download(
        request,
        storage_key=found.thumbnail_key if thumbnail else found.storage_key,
        content_type=THUMBNAIL_CONTENT_TYPE if thumbnail else found.content_type,
        filename=found.original_name,
        as_attachment=not found.content_type.startswith("image/"),
    )

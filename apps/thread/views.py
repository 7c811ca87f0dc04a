"""Server-rendered pages of the thread app: the forum index, a forum, a thread, and their forms.

Every page works without JavaScript: plain links and POST forms. Refusals of the services come back
as form errors with their status (400, 403, 409, 429 with Retry-After), or as the friendly error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.thread import forms, kept_lists, kept_pages, selectors, services
from forum.errors import ApplicationError, Forbidden, NotFound, ValidationFailed
from forum.forms import add_application_error
from forum.fragments import render_fragment
from forum.kept_html import render_kept
from forum.markup import quote_markup
from forum.pagecache import guest_page
from forum.paging import page_number
from forum.slots import hole, stand_in
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
    add_application_error(form, error)
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


@guest_page("thread")
def index(request: HttpRequest) -> HttpResponse:
    table = kept_lists.index_table(viewer=_viewer(request))
    return render(request, "thread/index.html", {"forum_table": table})


def _visible_forum(
    viewer: selectors.Viewer, forum_id: int
) -> tuple[selectors.ForumNode, dict[int, selectors.ForumNode]]:
    forums = selectors.forums_visible(viewer=viewer)
    forum = forums.get(forum_id)
    if forum is None:
        raise NotFound(_("There is no such forum."))
    return forum, forums


@guest_page("thread")
def forum_detail(request: HttpRequest, forum_id: int) -> HttpResponse:
    viewer = _viewer(request)
    shown = kept_lists.forum_page(viewer=viewer, forum_id=forum_id, page=page_number(request.GET.get("page")))
    if shown is None:
        raise NotFound(_("There is no such forum."))
    forum = shown.forum
    context = {
        "forum": forum,
        "path_html": shown.path_html,
        "subforums": shown.subforums,
        "threads": shown.threads,
        "thread_list": shown.thread_list,
        "pager": shown.pager,
        # What services.thread_start_check asks, from the permissions the page has already read.
        "can_start": viewer.user_id is not None
        and not forum.is_category
        and viewer.can("thread.create")
        and viewer.can(forum.post_permission),
    }
    return render(request, "thread/forum.html", context)


def _uploaded(member_id: int, files: Sequence[UploadedFile[bytes]], ready: Sequence[int] = ()) -> list[int]:
    """Store the files of a page's form as the member's pending uploads (all or none) and return their
    ids. ``ready``: the uploads the composer made beforehand, counted with them against the limit;
    they are not discarded when the post is refused, so that the form shown again still carries them."""
    services.attachment_count_check(user_id=member_id, attachment_ids=[*ready, *range(-len(files), 0)])
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
    # Refused before the form is shown, as its submission would be (403 for a forum one may not post in).
    services.thread_start_check(author_id=_member_id(request), forum_id=forum_id)
    form = forms.ThreadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        initial=_draft_initial(viewer, forum_id=forum_id),
    )
    context = {"forum": forum, "path": selectors.forum_path(forums=forums, forum_id=forum_id), "form": form}
    if request.method == "POST" and form.is_valid():
        member_id = _member_id(request)
        ids: list[int] = []
        try:
            ready = form.cleaned_data["attachment_ids"]
            ids = _uploaded(member_id, form.cleaned_data["attachments"], ready)
            thread = services.thread_create(
                author_id=member_id,
                forum_id=forum_id,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                attachment_ids=[*ready, *ids],
            )
        except ApplicationError as error:
            services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
            return _refused(request, "thread/thread_new.html", context, form, error)
        return redirect(_thread_url(thread.id))
    return render(request, "thread/thread_new.html", context, status=400 if form.errors else 200)


def _thread_or_404(
    viewer: selectors.Viewer, thread_id: int
) -> tuple[selectors.ThreadRow, dict[int, selectors.ForumNode]]:
    thread = selectors.thread_row(viewer=viewer, thread_id=thread_id, with_names=False)
    # The forums' structure (kept): the thread's pages show no forum counters.
    forums = selectors.forums_visible(viewer=viewer, counters=False)
    if thread is None or thread.forum_id not in forums:
        raise NotFound(_("There is no such thread."))
    return thread, forums


def _read_position(viewer: selectors.Viewer, thread: selectors.ThreadRow) -> int | None:
    """How far the viewer has read: None for guests, 0 for a member who never opened the thread."""
    if viewer.user_id is None:
        return None
    return thread.read_position or 0


def _can_reply(viewer: selectors.Viewer, thread: selectors.ThreadRow, forum: selectors.ForumNode) -> bool:
    """What services.post_create checks, from the permissions the page has read already."""
    return (
        viewer.user_id is not None
        and thread.state == "approved"
        and (not thread.closed or viewer.moderator)
        and viewer.can("post.create")
        and viewer.can(forum.post_permission)
    )


def _can_react(viewer: selectors.Viewer, thread: selectors.ThreadRow) -> bool:
    return viewer.user_id is not None and thread.state == "approved" and viewer.can("reaction.add")


def _can_report(viewer: selectors.Viewer) -> bool:
    """Whether the Report buttons show (the support app's quota, from the permissions read already:
    no query); whether today's reports are used up is told by the report form."""
    return viewer.user_id is not None and viewer.can("report.create_per_day")


def _posts_context(
    viewer: selectors.Viewer, thread: selectors.ThreadRow, forum: selectors.ForumNode
) -> dict[str, Any]:
    """What thread/_posts.jinja needs besides the posts, the same on the page and in a fragment."""
    return {
        "viewer_id": viewer.user_id,
        "moderator": viewer.moderator,
        "can_react": _can_react(viewer, thread),
        "can_reply": _can_reply(viewer, thread, forum),
        "can_report": _can_report(viewer),
        # Staff who may warn get "Warn" on others' posts: the admin's warning form, author filled in.
        "can_warn": viewer.user_id is not None and viewer.can("moderation.warn"),
        "reaction_labels": selectors.reaction_labels(),
    }


@guest_page("thread")
def thread_detail(request: HttpRequest, thread_id: int) -> HttpResponse:
    viewer = _viewer(request)
    thread, forums = _thread_or_404(viewer, thread_id)
    read_position = _read_position(viewer, thread)
    if "unread" in request.GET and read_position is not None:
        position = selectors.first_unread_position(thread_id=thread_id, read_position=read_position)
        if position is not None:
            page = selectors.page_of_position(thread_id=thread_id, position=position)
            return HttpResponseRedirect(_thread_url(thread_id, page=page) + f"#position-{position}")
    forum = forums[thread.forum_id]
    for_posts = _posts_context(viewer, thread, forum)
    # The posts' HTML kept per thread, page, permission set and language; the member's marks, draft and
    # own posts filled in for this request.
    shown = kept_pages.post_page(
        viewer=viewer,
        thread=thread,
        page=page_number(request.GET.get("page")),
        read_position=read_position,
        context=for_posts,
        request=request,
    )
    posts, draft = shown.posts, shown.draft
    # The mark only moves forward: a page already read costs no write.
    if viewer.user_id is not None and posts.items and posts.items[-1].position > (read_position or 0):
        services.thread_mark_read(
            user_id=viewer.user_id, thread_id=thread_id, position=posts.items[-1].position
        )
    context = {
        "thread": thread,
        "forum": forum,
        "path": selectors.forum_path(forums=forums, forum_id=thread.forum_id),
        "posts": posts,
        "moderator": viewer.moderator,
        "can_reply": for_posts["can_reply"],
        "reply_form": forms.ReplyForm(
            initial={} if draft is None else {"title": draft.title, "body": draft.body}
        ),
        "can_react": for_posts["can_react"],
        "can_report": for_posts["can_report"],
        "reject_form": forms.RejectForm(),
        "move_targets": [node for node in forums.values() if not node.is_category and node.id != forum.id]
        if viewer.moderator
        else [],
    }
    context["posts_html"] = shown.html
    # Replies awaiting approval that the viewer may see (their own; all, for moderators), under the
    # last page: nobody reacts to, quotes, keeps or reports them yet.
    # Whether there are any is asked on every page (with the member's marks: kept_pages.post_page), so
    # that every page of a thread costs the same queries; they are read only when there are some.
    held = (
        selectors.held_posts(viewer=viewer, thread=thread, with_author_cards=True)
        if shown.held_waiting
        else ()
    )
    context["held_html"] = (
        render_fragment(
            "thread/_posts.jinja",
            {**for_posts, "posts": held, "can_react": False, "can_reply": False, "can_report": False},
            request,
        )
        if held and not posts.has_next
        else ""
    )
    if viewer.user_id is None or context["held_html"]:
        return render(request, "thread/thread.html", context)
    return _kept_thread_page(request, viewer, context, shown.html, draft)


def _kept_thread_page(
    request: HttpRequest,
    viewer: selectors.Viewer,
    context: dict[str, Any],
    posts_html: str,
    draft: Any,
) -> HttpResponse:
    """A member's thread page from the page kept for its shape (forum/kept_html.py): the thread's row,
    path, page and the member's flags are the shape; the posts (with the member's marks), the watch
    button, the draft and the page's top are filled per request."""
    thread: selectors.ThreadRow = context["thread"]
    posts = context["posts"]
    draft_body = "" if draft is None else str(draft.body or "")
    draft_shown = draft is not None and bool(draft.body or draft.title)
    shape = (
        # Everything of the row the page shows (the viewer's read position is not shown).
        replace(thread, read_position=None),
        tuple((node.id, node.name) for node in context["path"]),
        (posts.number, posts.total, posts.per_page, posts.has_next),
        context["moderator"],
        context["can_reply"],
        context["can_react"],
        context["can_report"],
        thread.author_id == viewer.user_id,
        tuple((node.id, node.name) for node in context["move_targets"]),
    )
    page_context = {
        **context,
        "posts_html": hole("posts"),
        "watch_hole": hole("watch"),
        "draft_hidden_hole": hole("draft_hidden"),
        # Built only when the page is (a kept page's fill needs no form).
        "reply_form": SimpleLazyObject(lambda: forms.ReplyForm(initial={"body": stand_in("draft")})),
    }
    return render_kept(
        request,
        "thread/thread.html",
        page_context,
        shape=shape,
        stand_ins=("draft",),
        # The watch button with the page's top, in one render (its state is the member's).
        live={"watch": "thread/_watch_thread.html"},
        live_context={"thread_id": thread.id},
        fillers={
            "posts": lambda _arg: posts_html,
            "draft": lambda _arg: escape(draft_body),
            "draft_hidden": lambda _arg: "" if draft_shown else " hidden",
        },
    )


def _reply_initial(request: HttpRequest, thread_id: int) -> dict[str, str]:
    """The reply page's form as it opens (``GET``): the member's draft, and with ``?quote=<post id>``
    a quote of that post after it (the Quote button of a post, without JavaScript). A member who may
    not reply there is refused before the form is shown, as its submission would be."""
    viewer = _viewer(request)
    thread, forums = _thread_or_404(viewer, thread_id)
    if not _can_reply(viewer, thread, forums[thread.forum_id]):
        raise Forbidden(
            _("The thread is closed.") if thread.closed else _("You may not reply in this thread.")
        )
    initial = _draft_initial(viewer, thread_id=thread_id)
    raw = request.GET.get("quote", "")
    quoted = _quote_of(viewer, int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
    if quoted:
        draft = initial.get("body", "").rstrip()
        initial["body"] = f"{draft}\n\n{quoted}" if draft else quoted
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def post_new(request: HttpRequest, thread_id: int) -> HttpResponse:
    """``/threads/<id>/reply/``: the reply form of its own (``GET``, see ``_reply_initial``), and where
    both it and the thread page's reply form are sent."""
    if request.method == "GET":
        form = forms.ReplyForm(initial=_reply_initial(request, thread_id))
    else:
        form = forms.ReplyForm(request.POST, request.FILES)

    def context() -> dict[str, Any]:
        """The page around a refused reply (404 for a thread the member may not see); the service
        checks the same before it writes, so a reply that goes through does not read it twice."""
        thread, forums = _thread_or_404(_viewer(request), thread_id)
        return {
            "thread": thread,
            "path": selectors.forum_path(forums=forums, forum_id=thread.forum_id),
            "form": form,
        }

    if request.method == "GET":
        return render(request, "thread/post_new.html", context())
    if not form.is_valid():
        return render(request, "thread/post_new.html", context(), status=400)
    member_id = _member_id(request)
    ids: list[int] = []
    try:
        ready = form.cleaned_data["attachment_ids"]
        ids = _uploaded(member_id, form.cleaned_data["attachments"], ready)
        post = services.post_create(
            author_id=member_id,
            thread_id=thread_id,
            body=form.cleaned_data["body"],
            attachment_ids=[*ready, *ids],
        )
    except ApplicationError as error:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        return _refused(request, "thread/post_new.html", context(), form, error)
    if post.held:
        messages.info(
            request,
            _("Your reply awaits a moderator's approval: until then only you and the moderators see it."),
        )
    if post.page:  # straight to where it stands (post_goto would send the browser there on a second hop)
        return redirect(_thread_url(post.thread_id, page=post.page, post_id=post.id))
    return redirect(reverse("thread-post", args=[post.id]))


def post_goto(request: HttpRequest, post_id: int) -> HttpResponse:
    """A link to one post: the page of its thread where it stands."""
    viewer = _viewer(request)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.hidden_from(viewer):
        raise NotFound(_("There is no such post."))
    thread, _forums = _thread_or_404(viewer, location.thread_id)
    if location.held:  # listed under the thread's last page, awaiting approval
        page = max(1, -(-(thread.reply_count + 1) // selectors.POSTS_PER_PAGE))
        return HttpResponseRedirect(_thread_url(location.thread_id, page=page, post_id=post_id))
    page = selectors.page_of_position(thread_id=location.thread_id, position=location.position)
    return HttpResponseRedirect(_thread_url(location.thread_id, page=page, post_id=post_id))


@login_required
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    """The text, plus a checkbox per attachment to remove and files to add (multipart)."""
    viewer = _viewer(request)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.hidden_from(viewer):
        raise NotFound(_("There is no such post."))
    thread, forums = _thread_or_404(viewer, location.thread_id)
    # Someone else's post (or one past the edit window) is refused on the form as on its submission.
    services.post_edit_check(editor_id=_member_id(request), post_id=post_id)
    body = selectors.post_body(post_id=post_id)
    attachments = selectors.attachments_of(post_ids=[post_id]).get(post_id, ())
    posted = request.method == "POST"
    form = forms.PostEditForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        initial={"body": body},
        attachments=[
            (item.id, f"{item.original_name} ({filesizeformat(item.size)})") for item in attachments
        ],
    )
    context = {
        "thread": thread,
        "post_id": post_id,
        "path": selectors.forum_path(forums=forums, forum_id=thread.forum_id),
        "form": form,
    }
    if posted and form.is_valid():
        member_id = _member_id(request)
        ids: list[int] = []
        try:
            ready = form.cleaned_data["attachment_ids"]
            ids = _uploaded(member_id, form.cleaned_data["attachments"], ready)
            services.post_edit(
                editor_id=member_id,
                post_id=post_id,
                body=form.cleaned_data["body"],
                attachment_ids=[*ready, *ids],
                remove_attachment_ids=form.cleaned_data.get("remove_attachment_ids", []),
            )
        except ApplicationError as error:
            services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
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
    if _wants_fragment(request):  # pressed with JavaScript: the post's new state, no reload
        return _post_fragment(request, post_id)
    return redirect(reverse("thread-post", args=[post_id]))


def _post_fragment(request: HttpRequest, post_id: int) -> HttpResponse:
    """One post rendered as the thread page renders it for this viewer, or a 404 for a post that
    page would not show them (deleted, or in a thread or forum they may not read)."""
    viewer = _viewer(request)
    location = selectors.post_location(post_id=post_id) if 0 < post_id < 2**63 else None
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    thread, forums = _thread_or_404(viewer, location.thread_id)
    post = selectors.post_row(
        thread=thread, post_id=post_id, viewer_id=viewer.user_id, with_author_cards=True
    )
    if post is None:
        raise NotFound(_("There is no such post."))
    if viewer.user_id is not None:
        # The page shows it now: read, as if the page had been loaded with it.
        services.thread_mark_read(user_id=viewer.user_id, thread_id=thread.id, position=post.position)
    context = {"posts": [post], **_posts_context(viewer, thread, forums[thread.forum_id])}
    return HttpResponse(render_fragment("thread/_posts.jinja", context, request))


def post_fragment(request: HttpRequest, post_id: int) -> HttpResponse:
    """``GET /posts/<id>/fragment/``: the live thread page (static/thread/live.js) fetches a post that
    arrived or changed, since pushes carry ids only."""
    return _post_fragment(request, post_id)


def _visible_post(
    viewer: selectors.Viewer, post_id: int
) -> tuple[selectors.PostLocation, selectors.ThreadRow, dict[int, selectors.ForumNode]]:
    """A post the viewer may see, as its thread page would show it, with its thread and the forums the
    viewer sees; a 404 otherwise, the same as for no such post (three queries)."""
    location = selectors.post_location(post_id=post_id) if 0 < post_id < 2**63 else None
    if location is None or location.hidden_from(viewer):
        raise NotFound(_("There is no such post."))
    try:
        thread, forums = _thread_or_404(viewer, location.thread_id)
    except NotFound:
        raise NotFound(_("There is no such post.")) from None
    return location, thread, forums


def _quote_of(viewer: selectors.Viewer, post_id: int) -> str | None:
    """The text quoting a post (forum.markup.quote_markup), or None for a post the viewer may not see."""
    try:
        _visible_post(viewer, post_id)
    except NotFound:
        return None
    return quote_markup(post_id, selectors.post_body(post_id=post_id))


@require_GET
def post_quote(request: HttpRequest, post_id: int) -> HttpResponse:
    """``GET /posts/<id>/quote/``: the text that quotes the whole post, as plain text, for the Quote
    button of the thread page (static/thread/posts.js) to put in the reply form."""
    quoted = _quote_of(_viewer(request), post_id)
    if quoted is None:
        raise NotFound(_("There is no such post."))
    return HttpResponse(quoted, content_type="text/plain; charset=utf-8")


@require_GET
def post_reactions(request: HttpRequest, post_id: int) -> HttpResponse:
    """``GET /posts/<id>/reactions/``: who reacted to a post, the latest first, a page at a time, of
    one kind with ``?kind=``. With htmx (the post's "Who reacted" on the thread page) the list alone;
    without, a page of its own. A 404 for a post the viewer may not see."""
    viewer = _viewer(request)
    location, thread, forums = _visible_post(viewer, post_id)
    kinds = selectors.reaction_kinds()
    kind = request.GET.get("kind", "")
    kind = kind if kind in kinds else ""
    reactors = selectors.reactor_page(post_id=post_id, kind=kind, page=page_number(request.GET.get("page")))
    url = reverse("thread-post-reactions", args=[post_id])
    context: dict[str, Any] = {"reactors": reactors, "post_id": post_id, "kind": kind, "reactions_url": url}
    if _wants_fragment(request):
        return HttpResponse(render_fragment("thread/_reactors.jinja", {**context, "compact": True}, request))
    counts = selectors.post_reaction_counts(post_id=post_id) or {}
    context.update(
        thread=thread,
        position=location.position,
        path=selectors.forum_path(forums=forums, forum_id=thread.forum_id),
        kinds=[reaction for reaction in selectors.reaction_counts_of(counts) if reaction.count],
        reactors_html=render_fragment("thread/_reactors.jinja", {**context, "compact": False}, request),
    )
    return render(request, "thread/reactions.html", context)


def _wants_fragment(request: HttpRequest) -> bool:
    """An htmx request from the page itself (not a boosted navigation), which swaps in a fragment."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


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


# --- Bookmarks and drafts -----------------------------------------------------------------------------


@login_required
def bookmarks(request: HttpRequest) -> HttpResponse:
    """``/bookmarks/``: the member's bookmarks of posts they may still see, newest first."""
    page = selectors.bookmark_page(viewer=_viewer(request), page=page_number(request.GET.get("page")))
    context = {"bookmarks": page, "note_max_length": forms.BookmarkForm.base_fields["note"].max_length}
    return render(request, "thread/bookmarks.html", context)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """To the page named by the form's ``next`` when it is one of ours, else to ``fallback``."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if target and allowed else fallback)


@login_required
@require_POST
def post_bookmark(request: HttpRequest, post_id: int) -> HttpResponse:
    """The bookmark button under a post (``action`` add or remove) and the note form of the bookmarks
    page. With htmx the button comes back in its new state; without, the page it was pressed on."""
    member_id = _member_id(request)
    form = forms.BookmarkForm(request.POST)
    if not form.is_valid():
        fields = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
        raise ValidationFailed(next(iter(fields.values()))[0], fields=fields)
    action = form.cleaned_data["action"]
    if action == "remove":
        services.bookmark_remove(user_id=member_id, post_id=post_id)
    else:
        note = form.cleaned_data["note"] if "note" in request.POST else None
        services.bookmark_set(user_id=member_id, post_id=post_id, note=note)
    if _wants_fragment(request):
        post = {"id": post_id, "bookmarked": action != "remove"}
        return HttpResponse(render_fragment("thread/_bookmark_button.jinja", {"post": post}, request))
    return _back(request, reverse("thread-post", args=[post_id]))


def _draft_initial(
    viewer: selectors.Viewer, *, thread_id: int | None = None, forum_id: int | None = None
) -> dict[str, str]:
    """The member's draft for a form of a page (one query; none for guests), so that what they typed
    before is there again without JavaScript."""
    if viewer.user_id is None:
        return {}
    draft = selectors.draft_of(user_id=viewer.user_id, thread_id=thread_id, forum_id=forum_id)
    return {} if draft is None else {"title": draft.title, "body": draft.body}


@login_required
@require_POST
def thread_draft_discard(request: HttpRequest, thread_id: int) -> HttpResponse:
    """The "Discard draft" button of the reply form, without JavaScript."""
    services.draft_delete(user_id=_member_id(request), thread_id=thread_id)
    return redirect(reverse("thread-detail", args=[thread_id]) + "#reply-title")


@login_required
@require_POST
def forum_draft_discard(request: HttpRequest, forum_id: int) -> HttpResponse:
    """The "Discard draft" button of the new-thread form, without JavaScript."""
    services.draft_delete(user_id=_member_id(request), forum_id=forum_id)
    return redirect(reverse("thread-new", args=[forum_id]))

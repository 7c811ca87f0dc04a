"""Who may see what, for other apps: threads, forums, and the posts and threads a member reports."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from apps.authorization.services import permissions_for_many
from apps.thread import selectors
from apps.thread.models import (
    MAX_DEPTH,
    Forum,
    Post,
    Thread,
    ThreadState,
)
from apps.thread.services.refs import ThreadRef, _thread_ref


# Other apps (notifications first) ask here before they tell a member about a thread, so that nobody
# learns of a thread they could not open. The answers are the thread page's own rules.
def thread_visible_to(*, user_id: int, thread_id: int) -> bool:
    """Whether the member may read the thread, as its page decides (False for no such thread)."""
    return selectors.thread_is_readable(viewer=selectors.viewer_for(user_id=user_id), thread_id=thread_id)


def thread_get(*, viewer_id: int | None, thread_id: int) -> ThreadRef | None:
    """The thread (its forum, state, whether it is closed or pinned) when the viewer may read it, as
    its page decides; None otherwise, as for no such thread. Two queries (none for a bad id)."""
    if not 0 < thread_id < 2**63:
        return None
    viewer = selectors.viewer_for(user_id=viewer_id)
    thread = selectors.threads_visible_to(viewer).filter(pk=thread_id).first()
    if thread is None or thread.forum_id not in selectors.forums_visible(viewer=viewer):
        return None
    return _thread_ref(thread)


def forum_visible_to(*, user_id: int, forum_id: int) -> bool:
    """Whether the member may see the forum (its read permission and its parents')."""
    return forum_id in selectors.forums_visible(viewer=selectors.viewer_for(user_id=user_id))


def thread_readers_filter(*, thread_id: int, user_ids: Collection[int]) -> set[int]:
    """The members among ``user_ids`` who may read the thread, in three queries whatever their number
    (the thread, the forum tree, everyone's permissions at once): what a reply to a thread with a
    thousand watchers costs. Accounts that are gone or deactivated are left out."""
    wanted = {user_id for user_id in user_ids if 0 < user_id < 2**63}
    if not wanted or not 0 < thread_id < 2**63:
        return set()
    thread = (
        Thread.objects.filter(pk=thread_id, deleted_at__isnull=True)
        .values("forum_id", "state", "author_id")
        .first()
    )
    if thread is None:
        return set()
    forums = {
        pk: (parent_id, read)
        for pk, parent_id, read in Forum.objects.values_list("pk", "parent_id", "read_permission")
    }
    chain: list[str] = []
    forum_id: int | None = thread["forum_id"]
    while forum_id is not None and len(chain) <= MAX_DEPTH:
        if forum_id not in forums:
            return set()
        forum_id, read_permission = forums[forum_id]
        chain.append(read_permission)
    readers = set()
    for user_id, held in permissions_for_many(user_ids=wanted).items():
        if held.user_id is None:  # no account, or a deactivated one
            continue
        viewer = selectors.Viewer(user_id=user_id, permissions=held)
        if not all(viewer.can(permission) for permission in chain):
            continue
        if (
            thread["state"] != ThreadState.APPROVED
            and thread["author_id"] != user_id
            and not viewer.moderator
        ):
            continue
        readers.add(user_id)
    return readers


def thread_titles_visible_to(*, user_id: int | None, thread_ids: Collection[int]) -> dict[int, str]:
    """The titles of the threads among ``thread_ids`` the member may read (three queries); the others
    are left out, as if they did not exist."""
    wanted = [thread_id for thread_id in set(thread_ids) if 0 < thread_id < 2**63]
    if not wanted:
        return {}
    viewer = selectors.viewer_for(user_id=user_id)
    forums = selectors.forums_visible(viewer=viewer)
    rows = (
        selectors.threads_visible_to(viewer)
        .filter(pk__in=wanted, forum_id__in=list(forums))
        .values_list("pk", "title")
    )
    return {int(pk): str(title) for pk, title in rows}


def forum_names_visible_to(*, user_id: int | None, forum_ids: Collection[int]) -> dict[int, str]:
    """The names of the forums among ``forum_ids`` the member may see (two queries)."""
    forums = selectors.forums_visible(viewer=selectors.viewer_for(user_id=user_id))
    return {forum_id: forums[forum_id].name for forum_id in set(forum_ids) if forum_id in forums}


# What a report keeps of the words reported, as plain Markdown source on one line.
REPORT_EXCERPT_LENGTH = 500


@dataclass(frozen=True)
class ReportedContent:
    """A post or a thread as the member reporting it sees it (the support app files the report)."""

    kind: str  # "post" or "thread"
    id: int
    thread_id: int
    thread_title: str
    author_id: int
    excerpt: str  # the post's (or the opening post's) source, on one line, shortened


def _report_excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= REPORT_EXCERPT_LENGTH else text[: REPORT_EXCERPT_LENGTH - 1] + "…"


def post_brief_for_report(*, viewer_id: int, post_id: int) -> ReportedContent | None:
    """The post, when the member may see it (not deleted, in a thread and forum they may read); None
    otherwise, as for no such post. Two queries."""
    if not 0 < post_id < 2**63:
        return None
    viewer = selectors.viewer_for(user_id=viewer_id)
    forums = selectors.forums_visible(viewer=viewer)
    row = (
        Post.objects.filter(
            pk=post_id,
            deleted_at__isnull=True,
            held=False,
            thread__in=selectors.threads_visible_to(viewer).filter(forum_id__in=list(forums)),
        )
        .values("id", "thread_id", "thread__title", "author_id", "body")
        .first()
    )
    if row is None:
        return None
    return ReportedContent(
        kind="post",
        id=row["id"],
        thread_id=row["thread_id"],
        thread_title=row["thread__title"],
        author_id=row["author_id"],
        excerpt=_report_excerpt(row["body"]),
    )


def thread_brief_for_report(*, viewer_id: int, thread_id: int) -> ReportedContent | None:
    """The thread (its opening post's words as the excerpt), when the member may read it; None
    otherwise, as for no such thread. Three queries."""
    if not selectors.thread_is_readable(viewer=selectors.viewer_for(user_id=viewer_id), thread_id=thread_id):
        return None
    row = Thread.objects.filter(pk=thread_id).values("id", "title", "author_id", "first_post_id").first()
    if row is None:
        return None
    first_body = ""
    if row["first_post_id"] is not None:
        first_body = (
            Post.objects.filter(pk=row["first_post_id"], deleted_at__isnull=True)
            .values_list("body", flat=True)
            .first()
            or ""
        )
    return ReportedContent(
        kind="thread",
        id=row["id"],
        thread_id=row["id"],
        thread_title=row["title"],
        author_id=row["author_id"],
        excerpt=_report_excerpt(first_body),
    )

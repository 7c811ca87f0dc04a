"""The thread app's search documents: posts and threads, as the kernel's search indexes them.

A post document holds the post's text (its rendered HTML as plain text, so Markdown syntax is not
searched) and its thread's title for display; a thread document holds the title (weighted above
bodies) and the opening post. Both carry their forum's id and a ``visible`` flag: a thread waiting
for moderation or rejected, a deleted thread and a deleted post are kept but never found
(forum.search.base). Which forums a viewer may read is decided when searching, from the forum ids,
so a change of a forum's read permission needs no reindexing; a move does (the forum id changes).

``refresh_*`` read the current state, so the event handlers that call them (handlers.py) are
idempotent and may run in any order. ``forum_directory`` answers which forums a viewer may search.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence

from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils.html import strip_tags

from apps.thread import selectors
from apps.thread.models import Post, PostAttachment, Thread, ThreadState
from forum.search.base import (
    KIND_POST,
    KIND_THREAD,
    Document,
    DocumentSource,
    ForumChoice,
    detect_language,
    refresh,
    register_forum_directory,
    register_source,
)

APP = "thread"


def _plain(body_html: str) -> str:
    return " ".join(html.unescape(strip_tags(body_html)).split())


def _thread_public(thread: Thread) -> bool:
    return thread.state == ThreadState.APPROVED and thread.deleted_at is None


def _posts() -> QuerySet[Post]:
    attached = PostAttachment.objects.filter(post_id=OuterRef("pk"))
    return Post.objects.select_related("thread").annotate(attached=Exists(attached))


def _post_document(post: Post) -> Document:
    thread = post.thread
    text = _plain(post.body_html)
    return Document(
        kind=KIND_POST,
        id=post.pk,
        app=APP,
        title=thread.title,
        body=text,
        author_id=post.author_id,
        forum_id=thread.forum_id,
        thread_id=thread.pk,
        created_at=post.created_at,
        updated_at=post.edited_at or post.created_at,
        has_attachments=bool(getattr(post, "attached", False)),
        language=detect_language(text),
        url=reverse("thread-post", args=[post.pk]),
        visible=_thread_public(thread) and post.deleted_at is None and not post.held,
    )


def _thread_document(thread: Thread, first: Post | None) -> Document:
    text = _plain(first.body_html) if first is not None else ""
    return Document(
        kind=KIND_THREAD,
        id=thread.pk,
        app=APP,
        title=thread.title,
        body=text,
        author_id=thread.author_id,
        forum_id=thread.forum_id,
        thread_id=thread.pk,
        created_at=thread.created_at,
        updated_at=(first.edited_at if first is not None else None) or thread.created_at,
        has_attachments=bool(getattr(first, "attached", False)),
        language=detect_language(f"{thread.title} {text}"),
        url=reverse("thread-detail", args=[thread.pk]),
        visible=_thread_public(thread),
    )


def _fetch_posts(ids: Sequence[int]) -> Mapping[int, Document | None]:
    found: dict[int, Document | None] = dict.fromkeys(ids)
    for post in _posts().filter(pk__in=list(ids)):
        found[post.pk] = _post_document(post)
    return found


def _threads_with_first(threads: Iterable[Thread]) -> list[Document]:
    threads = list(threads)
    first_ids = [t.first_post_id for t in threads if t.first_post_id is not None]
    firsts = {post.pk: post for post in _posts().filter(pk__in=first_ids)}
    return [_thread_document(t, firsts.get(t.first_post_id or 0)) for t in threads]


def _fetch_threads(ids: Sequence[int]) -> Mapping[int, Document | None]:
    found: dict[int, Document | None] = dict.fromkeys(ids)
    for document in _threads_with_first(Thread.objects.filter(pk__in=list(ids))):
        found[document.id] = document
    return found


def _post_batches(size: int) -> Iterator[Sequence[Document]]:
    # Keyset pagination: every batch is one indexed range scan, however far the rebuild has come.
    last = 0
    while True:
        batch = list(_posts().filter(pk__gt=last).order_by("pk")[:size])
        if not batch:
            return
        last = batch[-1].pk
        yield [_post_document(post) for post in batch]


def _thread_batches(size: int) -> Iterator[Sequence[Document]]:
    last = 0
    while True:
        batch = list(Thread.objects.filter(pk__gt=last).order_by("pk")[:size])
        if not batch:
            return
        last = batch[-1].pk
        yield _threads_with_first(batch)


def register() -> None:
    """Hand the kernel's search the thread app's two kinds of document and the forums each viewer
    may read (ThreadConfig.ready)."""
    register_forum_directory(forum_directory)
    register_source(
        DocumentSource(
            kind=KIND_POST,
            app=APP,
            batches=_post_batches,
            fetch=_fetch_posts,
            count=lambda: Post.objects.count(),
        )
    )
    register_source(
        DocumentSource(
            kind=KIND_THREAD,
            app=APP,
            batches=_thread_batches,
            fetch=_fetch_threads,
            count=lambda: Thread.objects.count(),
        )
    )


# --- what the handlers call ----------------------------------------------------------------------


def refresh_post(post_id: int) -> None:
    """The post, and its thread when it is the opening post (the thread's document holds it)."""
    refresh(KIND_POST, [post_id])
    thread_id = Thread.objects.filter(first_post_id=post_id).values_list("pk", flat=True).first()
    if thread_id is not None:
        refresh(KIND_THREAD, [thread_id])


def refresh_thread(thread_id: int) -> None:
    """The thread and every post of it: their visibility and forum follow the thread's."""
    refresh(KIND_THREAD, [thread_id])
    post_ids = list(Post.objects.filter(thread_id=thread_id).values_list("pk", flat=True))
    for start in range(0, len(post_ids), 500):
        refresh(KIND_POST, post_ids[start : start + 500])


# --- what a viewer may search ----------------------------------------------------------------------


# The directories built, per state of the forums' structure (the kept rows, whose object changes when
# the structure's version moves) and per answer to each read permission the forums name: two members
# granted the same of those see the same forums. Bounded by the permissions' combinations.
_DIRECTORIES: dict[str, object] = {"rows": None, "built": {}}


def forum_directory(viewer_id: int | None) -> tuple[ForumChoice, ...]:
    """The forums whose threads the viewer may read, in tree order, each with its readable subtree
    (no query while the forums' structure is kept; the permissions are read once per request by the
    permission engine). Built once per structure and set of read permissions granted, then reused:
    building it cost as much as the rest of a search page's form."""
    viewer = selectors.viewer_for(user_id=viewer_id)
    rows = selectors._structure_rows()
    if _DIRECTORIES["rows"] is not rows:
        _DIRECTORIES["rows"] = rows
        _DIRECTORIES["built"] = {}
    built = _DIRECTORIES["built"]
    assert isinstance(built, dict)
    granted = frozenset(
        permission for permission in {str(row["read_permission"]) for row in rows} if viewer.can(permission)
    )
    directory = built.get(granted)
    if directory is None:
        directory = built[granted] = _forum_directory(viewer)
    return directory


def _forum_directory(viewer: selectors.Viewer) -> tuple[ForumChoice, ...]:
    forums = selectors.forums_visible(viewer=viewer, counters=False)
    subtrees: dict[int, list[int]] = {forum_id: [forum_id] for forum_id in forums}
    for forum_id in reversed(list(forums)):  # children come after their parents: walk back up
        parent_id = forums[forum_id].parent_id
        if parent_id is not None and parent_id in subtrees:
            subtrees[parent_id].extend(subtrees[forum_id])
    return tuple(
        ForumChoice(
            id=forum_id,
            name=node.name,
            depth=node.depth,
            subtree=tuple(sorted(subtrees[forum_id])),
            is_category=node.is_category,
        )
        for forum_id, node in forums.items()
    )

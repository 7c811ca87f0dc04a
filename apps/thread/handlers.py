"""Subscribers of the thread app: its own facts pushed live to the pages of their thread, and its
search documents kept current (search_documents.py; named ``thread.search_*``).

Each handler runs in a Celery task, after the change committed, so the request that made it never
waits on Redis, and a Redis outage loses a push (logged by forum.realtime), never a post. The frames
carry ids and counts only; pages fetch what they show through their own permission checks (live.py).
A redelivered event pushes the same frame again, which pages take as a no-op.
"""

from __future__ import annotations

from apps.thread import live, search_documents, selectors
from apps.thread.events import (
    PostCreated,
    PostDeleted,
    PostEdited,
    PostRestored,
    ReactionAdded,
    ReactionCleared,
    ThreadApproved,
    ThreadCreated,
    ThreadDeleted,
    ThreadMoved,
    ThreadRejected,
)
from forum.bus import subscribe
from forum.realtime import send_to_topic


@subscribe(PostCreated, name="thread.on_post_created")
def on_post_created(event: PostCreated) -> None:
    payload = {"thread_id": event.thread_id, "post_id": event.post_id, "position": event.position}
    send_to_topic(live.thread_topic(event.thread_id), live.POST_CREATED, payload, on_commit=True)


@subscribe(PostEdited, name="thread.on_post_edited")
def on_post_edited(event: PostEdited) -> None:
    payload = {"thread_id": event.thread_id, "post_id": event.post_id}
    send_to_topic(live.thread_topic(event.thread_id), live.POST_EDITED, payload, on_commit=True)


@subscribe(PostDeleted, name="thread.on_post_deleted")
def on_post_deleted(event: PostDeleted) -> None:
    payload = {"thread_id": event.thread_id, "post_id": event.post_id}
    send_to_topic(live.thread_topic(event.thread_id), live.POST_DELETED, payload, on_commit=True)


@subscribe(PostRestored, name="thread.on_post_restored")
def on_post_restored(event: PostRestored) -> None:
    # A reply shown again reaches the open pages as a reply does: the same frame, and each page
    # fetches it through its own permission checks (a page that may not see it gets a 404).
    payload = {"thread_id": event.thread_id, "post_id": event.post_id, "position": event.position}
    send_to_topic(live.thread_topic(event.thread_id), live.POST_CREATED, payload, on_commit=True)


def _push_reactions(thread_id: int, post_id: int) -> None:
    # The counts as they are now, not as the event saw them: events of one post may be handled out
    # of order, and the newest state is what every page should end with.
    counts = selectors.post_reaction_counts(post_id=post_id)
    if counts is None:  # deleted meanwhile: its own push removes it from the pages
        return
    payload = {"thread_id": thread_id, "post_id": post_id, "counts": counts}
    send_to_topic(live.thread_topic(thread_id), live.POST_REACTIONS, payload, on_commit=True)


@subscribe(ReactionAdded, name="thread.on_reaction_added")
def on_reaction_added(event: ReactionAdded) -> None:
    _push_reactions(event.thread_id, event.post_id)


@subscribe(ReactionCleared, name="thread.on_reaction_cleared")
def on_reaction_cleared(event: ReactionCleared) -> None:
    _push_reactions(event.thread_id, event.post_id)


# --- search: every change of a post or a thread refreshes its documents from the current state ------


@subscribe(PostCreated, name="thread.search_on_post_created")
def search_on_post_created(event: PostCreated) -> None:
    search_documents.refresh_post(event.post_id)


@subscribe(PostEdited, name="thread.search_on_post_edited")
def search_on_post_edited(event: PostEdited) -> None:
    search_documents.refresh_post(event.post_id)


@subscribe(PostDeleted, name="thread.search_on_post_deleted")
def search_on_post_deleted(event: PostDeleted) -> None:
    search_documents.refresh_post(event.post_id)


@subscribe(PostRestored, name="thread.search_on_post_restored")
def search_on_post_restored(event: PostRestored) -> None:
    search_documents.refresh_post(event.post_id)


@subscribe(ThreadCreated, name="thread.search_on_thread_created")
def search_on_thread_created(event: ThreadCreated) -> None:
    search_documents.refresh_thread(event.thread_id)


@subscribe(ThreadApproved, name="thread.search_on_thread_approved")
def search_on_thread_approved(event: ThreadApproved) -> None:
    search_documents.refresh_thread(event.thread_id)


@subscribe(ThreadRejected, name="thread.search_on_thread_rejected")
def search_on_thread_rejected(event: ThreadRejected) -> None:
    search_documents.refresh_thread(event.thread_id)


@subscribe(ThreadMoved, name="thread.search_on_thread_moved")
def search_on_thread_moved(event: ThreadMoved) -> None:
    search_documents.refresh_thread(event.thread_id)


@subscribe(ThreadDeleted, name="thread.search_on_thread_deleted")
def search_on_thread_deleted(event: ThreadDeleted) -> None:
    search_documents.refresh_thread(event.thread_id)

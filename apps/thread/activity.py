"""The profile page's view of this app: a member's threads, posts and counters, as a viewer may see them.

Registered with the user app from ThreadConfig.ready (the user app may not import this one: the thread
app already asks it for usernames, and apps must not import each other both ways).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.urls import reverse

from apps.thread import selectors
from apps.thread.models import MemberScore, Post, Thread
from apps.user.services import ActivityItem, ActivityPage, MemberCounters
from forum.paging import page_in_range

EXCERPT_LENGTH = 160


def _visible_threads(viewer_id: int | None) -> QuerySet[Thread]:
    viewer = selectors.viewer_for(user_id=viewer_id)
    forums = selectors.forums_visible(viewer=viewer)
    return selectors.threads_visible_to(viewer).filter(forum_id__in=list(forums))


def _page(page: int, per_page: int, total: int) -> tuple[int, int]:
    number = page_in_range(page, total, per_page)
    return number, (number - 1) * per_page


def _excerpt(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1].rstrip() + "…"


class ThreadActivity:
    """``apps.user.services.MemberActivitySource`` backed by this app's tables."""

    def member_counters(self, *, user_id: int) -> MemberCounters:
        # Kept by the services (MemberScore), the same numbers the author cards of the thread pages show.
        row = MemberScore.objects.filter(user_id=user_id).values_list("post_count", "reactions_received")
        posts, score = row.first() or (0, 0)
        return MemberCounters(post_count=int(posts), reaction_score=int(score))

    def member_threads(
        self, *, viewer_id: int | None, author_id: int, page: int, per_page: int
    ) -> ActivityPage:
        threads = _visible_threads(viewer_id).filter(author_id=author_id)
        total = threads.count()
        number, offset = _page(page, per_page, total)
        rows = threads.order_by("-created_at", "-id").values("id", "title", "created_at")[
            offset : offset + per_page
        ]
        items = tuple(
            ActivityItem(
                id=row["id"],
                thread_id=row["id"],
                title=row["title"],
                url=reverse("thread-detail", args=[row["id"]]),
                excerpt="",
                created_at=row["created_at"],
            )
            for row in rows
        )
        return ActivityPage(items=items, number=number, per_page=per_page, total=total)

    def member_posts(
        self, *, viewer_id: int | None, author_id: int, page: int, per_page: int
    ) -> ActivityPage:
        visible = _visible_threads(viewer_id)
        posts = Post.objects.filter(
            Q(author_id=author_id) & Q(deleted_at__isnull=True) & Q(held=False) & Q(thread__in=visible)
        )
        total = posts.count()
        number, offset = _page(page, per_page, total)
        rows = posts.order_by("-created_at", "-id").values(
            "id", "thread_id", "thread__title", "body", "created_at"
        )[offset : offset + per_page]
        items = tuple(
            ActivityItem(
                id=row["id"],
                thread_id=row["thread_id"],
                title=row["thread__title"],
                url=reverse("thread-post", args=[row["id"]]),
                excerpt=_excerpt(row["body"]),
                created_at=row["created_at"],
            )
            for row in rows
        )
        return ActivityPage(items=items, number=number, per_page=per_page, total=total)

"""Reactions to posts, their counts and the scores of the members who receive them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authorization.services import require
from apps.thread import selectors
from apps.thread.events import (
    ReactionAdded,
    ReactionCleared,
)
from apps.thread.models import (
    MemberScore,
    Post,
    Reaction,
    ThreadState,
)
from apps.thread.services._common import publish
from forum.errors import Conflict, NotFound, ValidationFailed


@dataclass(frozen=True)
class ReactionRef:
    post_id: int
    kind: str | None
    counts: dict[str, int]


def reaction_kinds() -> tuple[str, ...]:
    """The kinds of reaction of the settings (THREAD_REACTION_KINDS), in order."""
    return selectors.reaction_kinds()


def _post_for_reaction(user_id: int, post_id: int) -> Post:
    """Lock a post the member may see and react to; 404 for one they may not see."""
    require(user_id=user_id, permission="reaction.add")
    viewer = selectors.viewer_for(user_id=user_id)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.hidden_from(viewer):
        raise NotFound(_("There is no such post."))
    if location.held:
        raise Conflict(_("The post awaits approval."), code="post_held")
    thread = selectors.thread_row(viewer=viewer, thread_id=location.thread_id, with_names=False)
    if thread is None or thread.forum_id not in selectors.forums_visible(viewer=viewer):
        raise NotFound(_("There is no such post."))
    if thread.state != ThreadState.APPROVED:
        raise Conflict(_("The thread awaits moderation."), code="thread_pending")
    if location.author_id == user_id:
        raise Conflict(_("You cannot react to your own post."), code="own_post")
    post = (
        Post.objects.select_for_update()
        .only("id", "thread_id", "author_id", "deleted_at", "reaction_counts")
        .filter(pk=post_id)
        .first()
    )
    if post is None or post.deleted_at is not None:
        raise NotFound(_("There is no such post."))
    return post


def _count(post: Post, kind: str, delta: int) -> None:
    counts = dict(post.reaction_counts or {})
    value = int(counts.get(kind, 0)) + delta
    if value > 0:
        counts[kind] = value
    else:
        counts.pop(kind, None)
    post.reaction_counts = counts


def _score(user_id: int, delta: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO thread_memberscore (user_id, reactions_received) VALUES (%s, %s) "
            "ON CONFLICT (user_id) DO UPDATE SET reactions_received = "
            "thread_memberscore.reactions_received + EXCLUDED.reactions_received",
            [user_id, delta],
        )


def reaction_set(*, user_id: int, post_id: int, kind: str) -> ReactionRef:
    """React to another member's post, or change the kind of one's reaction. The post's counts and
    its author's score change in the same transaction, under the post's row lock, so concurrent
    reactions never lose a count. Publishes ``thread.reaction_added`` unless nothing changed."""
    if kind not in reaction_kinds():
        message = _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(reaction_kinds())}
        raise ValidationFailed(message, code="unknown_reaction", fields={"kind": [message]})
    with transaction.atomic():
        post = _post_for_reaction(user_id, post_id)
        existing = Reaction.objects.filter(post_id=post_id, user_id=user_id).first()
        if existing is not None and existing.kind == kind:
            return ReactionRef(post_id=post_id, kind=kind, counts=dict(post.reaction_counts))
        if existing is None:
            Reaction.objects.create(post_id=post_id, user_id=user_id, kind=kind, created_at=timezone.now())
            _score(post.author_id, 1)
        else:
            _count(post, existing.kind, -1)
            existing.kind = kind
            existing.save(update_fields=["kind"])
        _count(post, kind, 1)
        post.save(update_fields=["reaction_counts"])
        publish(
            ReactionAdded(
                post_id=post_id,
                thread_id=post.thread_id,
                post_author_id=post.author_id,
                reactor_id=user_id,
                kind=kind,
            )
        )
    return ReactionRef(post_id=post_id, kind=kind, counts=dict(post.reaction_counts))


def reaction_clear(*, user_id: int, post_id: int) -> ReactionRef:
    """Take one's reaction back (nothing happens when there is none). Publishes
    ``thread.reaction_cleared`` when there was one."""
    with transaction.atomic():
        post = _post_for_reaction(user_id, post_id)
        existing = Reaction.objects.filter(post_id=post_id, user_id=user_id).first()
        if existing is not None:
            existing.delete()
            _count(post, existing.kind, -1)
            post.save(update_fields=["reaction_counts"])
            _score(post.author_id, -1)
            publish(
                ReactionCleared(
                    post_id=post_id,
                    thread_id=post.thread_id,
                    post_author_id=post.author_id,
                    reactor_id=user_id,
                    kind=existing.kind,
                )
            )
    return ReactionRef(post_id=post_id, kind=None, counts=dict(post.reaction_counts))


def reaction_scores_for(*, user_ids: Sequence[int]) -> dict[int, int]:
    """Reactions received by each member's posts, in one query; 0 for members without any."""
    wanted = {user_id for user_id in user_ids if 0 < user_id < 2**63}
    found = dict(MemberScore.objects.filter(user_id__in=wanted).values_list("user_id", "reactions_received"))
    return {user_id: int(found.get(user_id, 0)) for user_id in wanted}

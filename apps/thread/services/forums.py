"""Forums and categories: creating them, and the forum a new thread may be started in."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import has_perm
from apps.thread import selectors
from apps.thread.models import (
    MAX_DEPTH,
    Forum,
    ForumKind,
)
from apps.thread.services._common import MODERATE, _slug
from apps.thread.services.refs import ForumRef
from forum.errors import Forbidden, NotFound, ValidationFailed


def forum_create(
    *,
    name: str,
    parent_id: int | None = None,
    kind: str = ForumKind.FORUM,
    description: str = "",
    position: int = 0,
    slug: str = "",
    read_permission: str = "forum.read",
    post_permission: str = "thread.create",
) -> ForumRef:
    """A category (top level) or a forum (under a category or another forum), for the admin and demos."""
    name = " ".join(name.split())
    problems: dict[str, list[str]] = {}
    if not name:
        problems["name"] = [_("This field is required.")]
    if kind not in ForumKind.values:
        problems["kind"] = [_("Choose a category or a forum.")]
    depth = 0
    if parent_id is not None:
        parent = Forum.objects.filter(pk=parent_id).values("depth").first()
        if parent is None:
            raise NotFound(_("There is no such forum."))
        depth = parent["depth"] + 1
        if depth >= MAX_DEPTH:
            problems["parent_id"] = [
                ngettext(
                    "Forums nest at most %(count)d level deep.",
                    "Forums nest at most %(count)d levels deep.",
                    MAX_DEPTH,
                )
                % {"count": MAX_DEPTH}
            ]
    if problems:
        raise ValidationFailed(_("The forum is not valid."), fields=problems)
    with transaction.atomic():
        forum = Forum.objects.create(
            parent_id=parent_id,
            kind=kind,
            name=name,
            slug=slug or _slug(name),
            description=description,
            position=position,
            depth=depth,
            read_permission=read_permission,
            post_permission=post_permission,
        )
    return ForumRef(
        id=forum.pk, parent_id=parent_id, kind=forum.kind, name=name, slug=forum.slug, depth=depth
    )


@dataclass(frozen=True)
class ForumChoice:
    """A forum offered as the place to move a thread to: ``label`` is its path ("Community › General")."""

    id: int
    name: str
    label: str
    depth: int


def forums_for_move(*, viewer_id: int) -> list[ForumChoice]:
    """The forums a moderator may move a thread to, in tree order: every forum (not a category) they
    can see. Empty for anyone without ``thread.moderate``. One query for the forums."""
    if not has_perm(user_id=viewer_id, permission=MODERATE):
        return []
    forums = selectors.forums_visible(viewer=selectors.viewer_for(user_id=viewer_id))
    labels: dict[int, str] = {}
    choices: list[ForumChoice] = []
    for forum_id, node in forums.items():  # parents come before their children
        parent = labels.get(node.parent_id) if node.parent_id is not None else None
        labels[forum_id] = f"{parent} › {node.name}" if parent else node.name
        if not node.is_category:
            choices.append(ForumChoice(id=forum_id, name=node.name, label=labels[forum_id], depth=node.depth))
    return choices


def _forum_for_posting(viewer: selectors.Viewer, forum_id: int) -> selectors.ForumNode:
    forum = selectors.forums_visible(viewer=viewer).get(forum_id)
    if forum is None:
        raise NotFound(_("There is no such forum."))
    if forum.is_category:
        raise ValidationFailed(
            _("Threads are started in forums, not in categories."),
            fields={"forum_id": [_("Choose a forum.")]},
        )
    if not viewer.can(forum.post_permission):
        raise Forbidden(_("You may not post in this forum."))
    return forum

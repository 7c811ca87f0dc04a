"""The forums a viewer may search (search_documents.forum_directory), built once per state of the forums'
structure and set of read permissions granted, then reused: a grant, a new forum show at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apps.status.services import status_grant
from apps.thread.search_documents import forum_directory
from apps.thread.services import forum_create
from apps.thread.tests.conftest import Tree

pytestmark = pytest.mark.usefixtures("kept_parts")


def names(viewer_id: int | None) -> set[str]:
    return {forum.name for forum in forum_directory(viewer_id)}


def test_members_granted_alike_share_one_directory_and_a_grant_shows_at_once(
    tree: Tree, member: int, other: int, django_capture_on_commit_callbacks: Any
) -> None:
    assert forum_directory(member) is forum_directory(member) is forum_directory(other)
    assert "Agents only" not in names(member) and "Agents only" not in names(None)
    with django_capture_on_commit_callbacks(execute=True):
        status_grant(user_id=member, status_code="agent", source="staff")
    assert "Agents only" in names(member)
    assert "Agents only" not in names(other) and "Agents only" not in names(None)
    exclusive = next(forum for forum in forum_directory(member) if forum.id == tree.exclusive)
    assert exclusive.subtree == (tree.exclusive,)


def test_a_new_forum_is_in_the_directory_at_once(
    tree: Tree, member: int, make_member: Callable[..., int], django_capture_on_commit_callbacks: Any
) -> None:
    before = forum_directory(member)
    with django_capture_on_commit_callbacks(execute=True):
        forum_create(name="Lighthouses", parent_id=tree.general, position=9)
    after = forum_directory(member)
    assert "Lighthouses" in {forum.name for forum in after} and after is not before
    general = next(forum for forum in after if forum.id == tree.general)
    lighthouses = next(forum for forum in after if forum.name == "Lighthouses")
    assert lighthouses.id in general.subtree

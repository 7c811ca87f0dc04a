"""The staff action log: appended by this app and by other apps' events, read-only in the admin (and
in the database), filterable, exported as CSV; readable by support and admins only."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.admin.models import Action, ActionLogEntry
from apps.admin.services import log_action
from apps.admin.tests.conftest import Handler, Web
from apps.authorization.services import role_assign
from apps.status.services import status_grant
from apps.thread.services import forum_create, post_create, post_delete, thread_approve, thread_create


def _entries(action: str) -> list[ActionLogEntry]:
    return list(ActionLogEntry.objects.filter(action=action).order_by("id"))


def test_the_database_refuses_to_change_or_delete_a_log_row(admin: int, member: int) -> None:
    entry = log_action(
        actor_id=admin, action=Action.WARN, target_kind="member", target_id=member, reason="spam"
    )
    assert ActionLogEntry.objects.get(pk=entry.id).target_label.startswith("member")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ActionLogEntry.objects.filter(pk=entry.id).update(reason="nothing happened")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ActionLogEntry.objects.filter(pk=entry.id).delete()
    assert ActionLogEntry.objects.get(pk=entry.id).reason == "spam"


def test_acts_other_apps_publish_are_logged_once(
    admin: int, support: int, member: int, other: int, handle: Handler
) -> None:
    category = forum_create(name="Community", kind="category", position=1).id
    general = forum_create(name="General", parent_id=category, position=1).id
    # A plain member's thread waits for premoderation; support approves it.
    thread = thread_create(author_id=member, forum_id=general, title="Hello there", body="First words")
    thread_approve(moderator_id=support, thread_id=thread.id)
    own = post_create(author_id=other, thread_id=thread.id, body="A reply I take back")
    post_delete(user_id=other, post_id=own.id)  # a member's own deletion is not moderation
    hidden = post_create(author_id=other, thread_id=thread.id, body="Buy cheap watches")
    post_delete(user_id=support, post_id=hidden.id)
    role_assign(user_id=other, role="support", assigned_by=admin)
    status_grant(user_id=member, status_code="reader", source="staff", granted_by=admin)
    handle()
    Handler()()  # every event delivered again: nothing is logged twice

    (approved,) = _entries(Action.THREAD_APPROVE)
    assert (approved.actor_id, approved.target_kind, approved.target_id) == (support, "thread", thread.id)
    (hide,) = _entries(Action.POST_HIDE)
    assert (hide.actor_id, hide.target_id) == (support, hidden.id)
    (role,) = [entry for entry in _entries(Action.ROLE_CHANGE) if entry.target_id == other]
    assert (role.actor_id, role.target_id, role.extra["role"]) == (admin, other, "support")
    (grant,) = _entries(Action.STATUS_GRANT)
    assert (grant.actor_id, grant.target_id, grant.extra["status"]) == (admin, member, "reader")


def test_support_reads_the_log_but_cannot_change_it_and_members_cannot_read_it(
    web: Web, support: int, member: int, admin: int
) -> None:
    entry = log_action(actor_id=admin, action=Action.WARN, target_kind="member", target_id=member)
    listing = web(support).get("/admin/forum_admin/actionlogentry/")
    assert listing.status_code == 200
    assert b"Member warned" in listing.content
    assert web(support).get("/admin/forum_admin/actionlogentry/add/").status_code == 403
    assert web(admin).get("/admin/forum_admin/actionlogentry/add/").status_code == 403
    assert web(admin).post(f"/admin/forum_admin/actionlogentry/{entry.id}/delete/").status_code == 403
    # The change page is a read-only view; posting to it changes nothing.
    web(admin).post(f"/admin/forum_admin/actionlogentry/{entry.id}/change/", {"reason": "edited"})
    assert ActionLogEntry.objects.get(pk=entry.id).reason == ""
    assert web(member).get("/admin/forum_admin/actionlogentry/").status_code == 302


def test_the_log_filters_and_exports_as_csv(web: Web, support: int, member: int, admin: int) -> None:
    log_action(actor_id=admin, action=Action.WARN, target_kind="member", target_id=member, reason="=cmd()")
    log_action(actor_id=admin, action=Action.BAN, target_kind="member", target_id=member, reason="spam")
    filtered = web(support).get("/admin/forum_admin/actionlogentry/", {"action": "ban"})
    assert b"Member banned" in filtered.content
    assert b"=cmd()" not in filtered.content
    ids = [str(pk) for pk in ActionLogEntry.objects.values_list("pk", flat=True)]
    response = web(support).post(
        "/admin/forum_admin/actionlogentry/", {"action": "export_csv", "_selected_action": ids}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:5] == ["id", "created_at", "actor_id", "actor_name", "action"]
    assert [row[4] for row in rows[1:]] == ["warn", "ban"]
    # A formula is defused for spreadsheets.
    assert rows[1][8] == "'=cmd()"


def test_the_log_list_runs_a_fixed_number_of_queries(web: Web, support: int, member: int, admin: int) -> None:
    client = web(support)
    log_action(actor_id=admin, action=Action.WARN, target_kind="member", target_id=member)
    client.get("/admin/forum_admin/actionlogentry/")
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/forum_admin/actionlogentry/")
    for _ in range(20):
        log_action(actor_id=admin, action=Action.WARN, target_kind="member", target_id=member)
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/forum_admin/actionlogentry/")
    assert len(many) == len(few)

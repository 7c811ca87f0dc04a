"""manage.py seed_moderation: the demo's warned member, once; and the member menu's links."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command

from apps.admin.models import Action, ActionLogEntry, MemberWarning
from apps.admin.tests.conftest import Web


def test_the_moderation_demo_is_seeded_once(web: Web, django_user_model: Any) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_forum", "--demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_moderation", stdout=out)
    assert "1 warning created" in out.getvalue()
    tom = django_user_model.objects.get(username="tom").pk
    assert MemberWarning.objects.filter(member_id=tom).count() == 1
    assert ActionLogEntry.objects.filter(action=Action.WARN, target_id=tom).count() == 1
    # Three points premoderate his posts: his demo reply waits in the queue.
    assert "1 reply held for premoderation" in out.getvalue()
    mira = django_user_model.objects.get(username="mira").pk
    assert b"Solid oak chairs" in web(mira).get("/moderation/?show=posts").content
    again = io.StringIO()
    call_command("seed_moderation", stdout=again)
    assert "is there" in again.getvalue()
    assert MemberWarning.objects.filter(member_id=tom).count() == 1
    page = web(tom).get("/warnings/")
    assert b"Advertises his furniture" in page.content


def test_the_member_menu_links_support_and_warnings_and_staff_the_queues(
    web: Web, member: int, support: int
) -> None:
    mine = web(member).get("/warnings/").content.decode()
    assert 'href="/support/"' in mine and 'href="/warnings/"' in mine
    assert 'href="/support/queue/"' not in mine and 'href="/moderation/"' not in mine
    staff = web(support).get("/warnings/").content.decode()
    assert 'href="/support/queue/"' in staff and 'href="/moderation/"' in staff

"""The Django admin shows dialogs' metadata (who, when, how far read) and blocks, never what is said."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import role_assign
from apps.dialog import services
from apps.dialog.models import Participant
from apps.dialog.tests.conftest import Web


def test_the_admin_shows_metadata_and_never_a_message(web: Web, alice: int, bob: int, superuser: int) -> None:
    dialog = services.dialog_group_start(owner_id=alice, title="Our secret plans", participant_ids=[bob])
    services.message_create(author_id=alice, dialog_id=dialog.id, body="The password is swordfish")
    services.block_add(user_id=bob, blocked_id=alice)
    admin = web(superuser)
    pages = {
        url: admin.get(url)
        for url in (
            "/admin/dialog/dialog/",
            f"/admin/dialog/dialog/{dialog.id}/change/",
            "/admin/dialog/participant/",
            "/admin/dialog/block/",
        )
    }
    for url, response in pages.items():
        assert response.status_code == 200, url
        text = response.content.decode()
        assert "swordfish" not in text and "secret plans" not in text, url
    assert "member" in pages[f"/admin/dialog/dialog/{dialog.id}/change/"].content.decode()
    # Messages and attachments have no admin at all, and nothing can be added or changed.
    assert admin.get("/admin/dialog/message/").status_code == 404
    assert admin.get("/admin/dialog/messageattachment/").status_code == 404
    assert admin.get("/admin/dialog/dialog/add/").status_code == 403
    assert admin.post(f"/admin/dialog/dialog/{dialog.id}/delete/").status_code == 403
    # Staff may not read the dialog on the site either.
    assert admin.get(f"/dialogs/{dialog.id}/").status_code == 404


def test_participants_are_named_in_one_query_whatever_their_number(
    web: Web, alice: int, superuser: int, make_member: Callable[..., int], django_user_model: Any
) -> None:
    role_assign(user_id=alice, role="support")  # room for a large group
    few = services.dialog_group_start(owner_id=alice, title="Few", participant_ids=[make_member()])
    many = services.dialog_group_start(
        owner_id=alice, title="Many", participant_ids=[make_member() for _number in range(15)]
    )
    admin = web(superuser)
    # The session's first request records it, and the first dialog page fills Django's content-type
    # cache: the requests measured are ordinary ones.
    admin.get(f"/admin/dialog/dialog/{few.id}/change/")

    def page(dialog_id: int) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            response = admin.get(f"/admin/dialog/dialog/{dialog_id}/change/")
        assert response.status_code == 200
        return len(captured), " ".join(response.content.decode().split())

    few_queries, _html = page(few.id)
    many_queries, html = page(many.id)
    assert many_queries == few_queries
    members = Participant.objects.filter(dialog_id=many.id).values_list("user_id", flat=True)
    names = django_user_model.objects.filter(pk__in=list(members)).values_list("username", flat=True)
    assert len(names) == 16  # the owner and the fifteen asked
    for name in names:
        assert f'<td class="field-member"> <p>{name}</p> </td>' in html
        assert f"{name} in dialog {many.id}" in html

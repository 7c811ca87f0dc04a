"""The Django admin shows dialogs' metadata (who, when, how far read) and blocks, never what is said."""

from __future__ import annotations

from apps.dialog import services
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

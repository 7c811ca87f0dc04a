"""Staff pick the member of a warning or a ban by name in the Django admin (an autocomplete), never
by typing a raw id."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.admin.tests.conftest import Web


@pytest.mark.parametrize(
    ("staff", "model"),
    [("support", "memberwarning"), ("admin", "memberwarning"), ("admin", "ban")],
)
def test_the_member_of_a_warning_or_ban_is_picked_by_name(
    web: Web, request: Any, member: int, staff: str, model: str
) -> None:
    client = web(request.getfixturevalue(staff))
    name = get_user_model().objects.get(pk=member).username

    form = client.get(f"/admin/forum_admin/{model}/add/").content.decode()
    assert "admin-autocomplete" in form and 'data-field-name="member"' in form
    assert "vForeignKeyRawIdAdminField" not in form

    answer = client.get(
        "/admin/autocomplete/",
        {"app_label": "forum_admin", "model_name": model, "field_name": "member", "term": name},
    )
    assert answer.status_code == 200
    assert [result["id"] for result in answer.json()["results"]] == [str(member)]

"""Finding members: by the start of their name, forgiving typos, in Latin or Cyrillic, through the
search API, the results page and the lookup that @mentions and new dialogs use. A new account is
indexed by the user app's handler of ``authentication.account_created``; one created, renamed,
deactivated or deleted by staff in the admin by its handler of ``authentication.account_changed``."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from django.core import mail
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from forum.models import OutboxEvent
from forum.testing.search import deliver_search_events

PASSWORD = "Quiet-Harbour-Lantern-71"


def lookup(api: APIClient, text: str) -> list[str]:
    response = api.get("/api/v1/members/lookup", {"q": text})
    assert response.status_code == 200, response.content
    return [member["username"] for member in response.json()["members"]]


def test_a_new_account_is_found_once_its_event_is_handled() -> None:
    api = APIClient()
    signup = {"username": "lighthouse_keeper", "email": "keeper@example.com", "password": PASSWORD}
    assert api.post("/api/v1/auth/signup", signup, format="json").status_code == 202
    deliver_search_events(every_handler=True)  # the sign-up mail
    token = re.findall(r"/accounts/verify/([^/\s]+)/", str(mail.outbox[0].body))[0]
    assert api.post("/api/v1/auth/email/verify", {"token": token}, format="json").status_code == 200
    assert lookup(APIClient(), "lighthouse") == []
    assert "user.search_on_account_created" in deliver_search_events()
    assert lookup(APIClient(), "lighthouse") == ["lighthouse_keeper"]


def test_members_by_prefix_typo_and_script(django_user_model: Any) -> None:
    for username, first, last in (
        ("alice_liddell", "Alice", "Liddell"),
        ("alicia", "", ""),
        ("bob_builder", "Robert", "Builder"),
        ("алёна", "Алёна", "Петрова"),
        ("closed_alice", "", ""),
    ):
        django_user_model.objects.create_user(username=username, first_name=first, last_name=last)
    django_user_model.objects.filter(username="closed_alice").update(is_active=False)
    call_command("search_reindex", "--app", "user", stdout=StringIO(), stderr=StringIO())
    guest = APIClient()
    assert sorted(lookup(guest, "ali")[:2]) == ["alice_liddell", "alicia"]
    assert "alice_liddell" in lookup(guest, "@Alice_")
    assert lookup(guest, "alise_lidell")[0] == "alice_liddell"  # two typos
    assert lookup(guest, "robert") == ["bob_builder"]  # the full name
    assert lookup(guest, "Алё") == ["алёна"]
    assert lookup(guest, "петрова") == ["алёна"]
    assert "closed_alice" not in lookup(guest, "closed_alice")
    assert lookup(guest, "") == [] and lookup(guest, "zzqx") == []
    assert guest.get("/api/v1/members/lookup", {"q": "a" * 201}).status_code == 400
    found = guest.get("/api/v1/search", {"q": "alise_lidell", "kind": "member"}).json()
    assert found["results"][0]["title"] == "alice_liddell"
    page = Client().get("/search/", {"q": "ali", "kind": "member"}).content.decode()
    assert "<mark>ali</mark>ce_liddell" in page and "closed_alice" not in page


def change_form(user: Any, **changes: Any) -> dict[str, str]:
    """What the admin's change form of ``user`` posts, with ``changes`` (a False box is left out)."""
    values: dict[str, Any] = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "email_verified": user.email_verified,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        **changes,
    }
    form = {name: ("on" if value is True else value) for name, value in values.items() if value is not False}
    form["date_joined_0"] = user.date_joined.strftime("%Y-%m-%d")
    form["date_joined_1"] = user.date_joined.strftime("%H:%M:%S")
    return form


def test_a_rename_a_deactivation_and_a_deletion_in_the_admin_reach_the_search(
    admin_client: Client, django_user_model: Any
) -> None:
    member = django_user_model.objects.create_user(
        username="mad_hatter", first_name="Tarrant", last_name="Hightopp"
    )
    call_command("search_reindex", "--app", "user", stdout=StringIO(), stderr=StringIO())
    guest = APIClient()
    assert lookup(guest, "mad_hat") == ["mad_hatter"]
    changed = OutboxEvent.objects.filter(name="authentication.account_changed")
    url = f"/admin/authentication/user/{member.pk}/change/"

    # Changing what no other app shows (the staff status) publishes nothing.
    assert admin_client.post(url, change_form(member, is_staff=True)).status_code == 302
    assert not changed.exists()

    assert (
        admin_client.post(url, change_form(member, username="march_hare", last_name="Hare")).status_code
        == 302
    )
    assert lookup(guest, "march") == []  # until the handler runs
    assert "user.search_on_account_changed" in deliver_search_events()
    assert lookup(guest, "march_hare") == ["march_hare"]
    assert lookup(guest, "hare") == ["march_hare"]  # the new full name
    assert "mad_hatter" not in lookup(guest, "mad_hat") and lookup(guest, "hightopp") == []
    page = Client().get("/search/", {"q": "march", "kind": "member"}).content.decode()
    assert "<mark>march</mark>_hare" in page

    member.refresh_from_db()
    assert admin_client.post(url, change_form(member, is_active=False)).status_code == 302
    deliver_search_events()
    assert lookup(guest, "march_hare") == []
    assert "march_hare" not in Client().get("/search/", {"q": "march", "kind": "member"}).content.decode()
    assert list(changed.order_by("created_at").values_list("payload__fields", flat=True)) == [
        ["username", "last_name"],
        ["is_active"],
    ]

    # Reopened, then deleted: the document goes with the account.
    member.refresh_from_db()
    admin_client.post(url, change_form(member, is_active=True))
    deliver_search_events()
    assert lookup(guest, "march_hare") == ["march_hare"]
    response = admin_client.post(f"/admin/authentication/user/{member.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not django_user_model.objects.filter(pk=member.pk).exists()
    deliver_search_events()
    assert lookup(guest, "march_hare") == []
    staff = APIClient()
    staff.force_authenticate(django_user_model.objects.get(username="admin"))
    assert staff.get("/api/v1/search", {"q": "march_hare", "kind": "member"}).json()["total"] == 0


def test_an_account_added_in_the_admin_is_found(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/authentication/user/add/",
        {"username": "cheshire_cat", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert lookup(APIClient(), "cheshire") == []
    assert "user.search_on_account_changed" in deliver_search_events()
    assert lookup(APIClient(), "cheshire") == ["cheshire_cat"]

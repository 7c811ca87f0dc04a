"""Finding members: by the start of their name, forgiving typos, in Latin or Cyrillic, through the
search API, the results page and the lookup that @mentions and new dialogs use. A new account is
indexed by the user app's handler of ``authentication.account_created``."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from django.core import mail
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

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

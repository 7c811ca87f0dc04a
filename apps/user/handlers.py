"""Subscribers of the user app to other apps' events: a new account becomes a member document of
the search (search_documents.py), and one renamed, deactivated or deleted by staff is refreshed (or
removed) from its current state."""

from __future__ import annotations

from apps.authentication.events import AccountChanged, AccountCreated
from apps.user import search_documents
from forum.bus import subscribe


@subscribe(AccountCreated, name="user.search_on_account_created")
def search_on_account_created(event: AccountCreated) -> None:
    search_documents.refresh_member(event.user_id)


@subscribe(AccountChanged, name="user.search_on_account_changed")
def search_on_account_changed(event: AccountChanged) -> None:
    search_documents.refresh_member(event.user_id)

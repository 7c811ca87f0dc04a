"""The header and footer rendered once per process for the values they show and filled per request
(forum/templatetags/site_chrome.py): each member still gets their own name, counts and CSRF token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from forum import fragments
from forum.templatetags import site_chrome

pytestmark = pytest.mark.django_db


def signed_in(username: str) -> Client:
    user = get_user_model().objects.create_user(username=username, email=f"{username}@example.org")
    client = Client()
    client.force_login(user)
    return client


def test_the_header_is_rendered_once_per_values_and_filled_per_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site_chrome._rendered.clear()
    renders: list[str] = []
    real = fragments.render_fragment

    def spy(name: str, values: Any, request: Any = None) -> Any:
        renders.append(name)
        return real(name, values, request)

    monkeypatch.setattr(site_chrome, "render_fragment", spy)
    alice, bob = signed_in("alice-chrome"), signed_in("bob-chrome")
    pages = {}
    for who, client in (("alice-chrome", alice), ("bob-chrome", bob), ("alice-chrome", alice)):
        response = client.get("/")
        assert response.status_code == 200
        pages[who] = response.content.decode()
    # Alice's header and the footer once each, Bob's header once: the second visit of Alice renders nothing.
    assert renders.count("_site_header.jinja") == 2
    assert renders.count("_site_footer.jinja") == 1
    assert "alice-chrome" in pages["alice-chrome"] and "bob-chrome" not in pages["alice-chrome"]
    assert "bob-chrome" in pages["bob-chrome"] and "alice-chrome" not in pages["bob-chrome"]
    for who, page in pages.items():
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert tokens and "<!--hole:" not in page, who
        assert len({_unmask_cipher_token(token) for token in tokens}) == 1, who
    secrets = {
        who: _unmask_cipher_token(re.findall(r'csrfmiddlewaretoken" value="([^"]+)"', page)[0])
        for who, page in pages.items()
    }
    assert secrets["alice-chrome"] != secrets["bob-chrome"]

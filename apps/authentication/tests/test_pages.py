"""The account pages: plain forms in the layout, no inline code, both languages, and the API documented."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.test import Client

from apps.authentication.models import User
from forum.tests.test_pages import Page, foreign_urls

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    "/accounts/signup/",
    "/accounts/signup/sent/",
    "/accounts/signin/",
    "/accounts/signout/",
    "/accounts/password/reset/",
    "/accounts/password/reset/sent/",
    "/accounts/verify/some-token/",
]
MEMBER_PAGES = ["/accounts/settings/", "/accounts/signout/", "/accounts/settings/two-factor/"]


def pages_of(client: Client, urls: list[str], language: str = "en") -> list[tuple[str, Page]]:
    found = []
    for url in urls:
        response = client.get(url, headers={"Accept-Language": language})
        assert response.status_code == 200, url
        found.append((url, Page(response.content.decode())))
    return found


@pytest.fixture
def signed_in(client: Client, member: User) -> Client:
    client.force_login(member)
    return client


def test_every_account_page_is_in_the_layout_with_no_inline_code(client: Client, signed_in: Client) -> None:
    visitor = Client()
    for url, page in [*pages_of(visitor, PUBLIC_PAGES), *pages_of(signed_in, MEMBER_PAGES)]:
        assert page.find("header") and page.find("footer") and page.find("main"), url
        assert page.inline_scripts == [] and page.style_elements == 0, url
        assert not [attrs for _tag, attrs in page.elements if "style" in attrs], url
        assert not [attrs for _tag, attrs in page.elements if any(name.startswith("on") for name in attrs)], (
            url
        )
        assert foreign_urls(page.urls()) == [], url
        assert {"name": "robots", "content": "noindex"} in page.find("meta"), url
        stylesheets = [link["href"] for link in page.find("link") if link.get("rel") == "stylesheet"]
        assert all(finders.find(href.removeprefix("/static/")) for href in stylesheets), url


def test_every_form_posts_with_a_csrf_token(client: Client, signed_in: Client) -> None:
    for url, page in [*pages_of(Client(), PUBLIC_PAGES), *pages_of(signed_in, MEMBER_PAGES)]:
        # The language switch posts with its own token; the header's search box only reads (GET).
        html_forms = [
            form for form in page.find("form") if form.get("action") not in ("/i18n/setlang/", "/search/")
        ]
        searches = [form for form in page.find("form") if form.get("action") == "/search/"]
        assert all(form.get("method") == "get" for form in searches), url
        assert all(form.get("method") == "post" for form in html_forms), url
        tokens = [attrs for attrs in page.find("input") if attrs.get("name") == "csrfmiddlewaretoken"]
        assert len(tokens) >= len(html_forms) + 1, url  # the language switch has its own


def test_password_fields_help_password_managers(client: Client) -> None:
    inputs = {
        attrs["name"]: attrs for attrs in Page(client.get("/accounts/signup/").content.decode()).find("input")
    }
    assert inputs["password"]["type"] == "password"
    assert inputs["password"]["autocomplete"] == "new-password"
    assert inputs["username"]["autocomplete"] == "username"
    signin = {
        attrs["name"]: attrs for attrs in Page(client.get("/accounts/signin/").content.decode()).find("input")
    }
    assert signin["password"]["autocomplete"] == "current-password"


def test_the_signup_page_tells_the_password_rules_before_they_bite(client: Client) -> None:
    text = Page(client.get("/accounts/signup/").content.decode()).text
    assert "Your password must contain at least 8 characters." in text
    assert "Your password can’t be a commonly used password." in text


def test_the_settings_page_has_its_sections(signed_in: Client) -> None:
    page = Page(signed_in.get("/accounts/settings/").content.decode())
    anchors = [link.get("href") for link in page.find("a") if link.get("href", "").startswith("#")]
    assert {"#account", "#email", "#password"} <= set(anchors)
    actions = {form.get("action") for form in page.find("form")}
    assert {"/accounts/settings/password/", "/accounts/settings/email/"} <= actions
    assert "alice@example.com" in page.text


@pytest.mark.parametrize("url", ["/accounts/settings/password/", "/accounts/settings/email/"])
def test_opening_a_settings_form_address_leads_back_to_the_settings(signed_in: Client, url: str) -> None:
    response = signed_in.get(url)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/"


def test_the_pages_speak_russian(client: Client, signed_in: Client) -> None:
    texts = {url: page.text for url, page in pages_of(Client(), PUBLIC_PAGES, "ru")}
    assert "Регистрация" in texts["/accounts/signup/"]
    assert "Забыли пароль?" in texts["/accounts/signin/"]
    settings_page = dict(pages_of(signed_in, ["/accounts/settings/"], "ru"))["/accounts/settings/"]
    assert "Настройки аккаунта" in settings_page.text
    for url, text in texts.items():
        for english in ("Sign up", "Forgot your password?", "Check your mail", "Confirm your email address"):
            assert english not in text, (url, english)


def test_a_refusal_is_translated_too(client: Client) -> None:
    response = client.post(
        "/accounts/signin/", {"login": "nobody", "password": "x"}, headers={"Accept-Language": "ru"}
    )
    assert response.status_code == 400
    assert "Неверное имя пользователя или адрес почты, либо пароль." in Page(response.content.decode()).text


# --- The API's documentation -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(Client().get("/api/schema/").content)
    return loaded


@pytest.mark.parametrize(
    ("route", "method", "statuses"),
    [
        ("/api/v1/auth/signup", "post", {"202", "400", "429"}),
        ("/api/v1/auth/signin", "post", {"200", "400", "403", "429", "503"}),
        # Every POST documents a 400 (the kernel's schema rule), even one that takes no body.
        ("/api/v1/auth/signout", "post", {"204", "400"}),
        ("/api/v1/auth/password", "post", {"204", "400", "401", "403", "429"}),
        ("/api/v1/auth/password/reset", "post", {"202", "400", "429"}),
        ("/api/v1/auth/password/reset/confirm", "post", {"204", "400"}),
        ("/api/v1/auth/email", "post", {"202", "400", "401", "403", "429"}),
        ("/api/v1/auth/email/verify", "post", {"200", "400", "403"}),
        ("/api/v1/auth/email/resend", "post", {"202", "400", "401", "403", "429"}),
        ("/api/v1/me", "get", {"200", "401", "403"}),
        ("/api/v1/auth/signin/two-factor", "post", {"200", "400", "403", "429", "503"}),
        ("/api/v1/me/two-factor", "get", {"200", "401", "403"}),
        ("/api/v1/me/two-factor", "post", {"201", "400", "401", "403", "409"}),
        ("/api/v1/me/two-factor", "delete", {"204", "400", "401", "403", "429"}),
        ("/api/v1/me/two-factor/confirm", "post", {"200", "400", "401", "403", "429"}),
        ("/api/v1/me/two-factor/backup-codes", "post", {"200", "400", "401", "403", "429"}),
    ],
)
def test_every_account_operation_documents_its_answers(
    schema: dict[str, Any], route: str, method: str, statuses: set[str]
) -> None:
    operation = schema["paths"][route][method]
    assert set(operation["responses"]) == statuses
    assert operation["tags"] == ["accounts"]

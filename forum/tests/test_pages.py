"""The shared surfaces: home page, base layout, friendly error pages, and what any page may load."""

from __future__ import annotations

import copy
import json
import re
import types
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path

from forum.errors import Forbidden, NotFound, RateLimited

# The home page is the forum index: it reads the forums from the database.
pytestmark = pytest.mark.django_db

URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "poster", "data", "cite", "background", "manifest", "srcset"}
    | {f"hx-{verb}" for verb in ("get", "post", "put", "patch", "delete")}
)


class Page(HTMLParser):
    """What the tests look at in a page: its elements, its visible text and any inline code."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.inline_scripts: list[str] = []
        self.style_elements = 0
        self.text_parts: list[str] = []
        self._open_script: dict[str, str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            self._open_script = attributes
        elif tag == "style":
            self.style_elements += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open_script = None

    def handle_data(self, data: str) -> None:
        if self._open_script is not None:
            if "src" not in self._open_script and data.strip():
                self.inline_scripts.append(data)
        else:
            self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def find(self, tag: str) -> list[dict[str, str]]:
        return [attributes for name, attributes in self.elements if name == tag]

    def urls(self) -> list[str]:
        found = []
        for _tag, attributes in self.elements:
            for name, value in attributes.items():
                if name == "srcset":
                    found += [candidate.split()[0] for candidate in value.split(",") if candidate.strip()]
                elif name in URL_ATTRIBUTES:
                    found.append(value)
        return found


def foreign_urls(urls: list[str]) -> list[str]:
    """The URLs that point at another origin than the page's own (the test client's host)."""
    foreign = []
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.netloc and parts.netloc != "testserver":
            foreign.append(url)
        elif parts.scheme and parts.scheme not in {"http", "https", "data", "mailto"}:
            foreign.append(url)  # javascript:, ftp: and friends have no place here either
    return foreign


def failing_view(request: HttpRequest, kind: str) -> HttpResponse:
    """Fails the way a page view can fail, to see what the visitor gets."""
    if kind == "not-found":
        raise NotFound("That thread was removed.")
    if kind == "forbidden":
        raise Forbidden("Only moderators may open this queue.")
    if kind == "rate-limited":
        raise RateLimited("You post too often.", retry_after=30)
    if kind == "permission":
        raise PermissionDenied("Only members of this section may read it.")
    if kind == "suspicious":
        raise SuspiciousOperation("a malformed signature")
    if kind == "crash":
        raise RuntimeError("an unexpected failure")
    return HttpResponse("fine")


def broken_context_processor(request: HttpRequest) -> dict[str, Any]:
    raise RuntimeError("a context processor that fails")


@pytest.fixture
def failing_urls(settings: Any) -> Iterator[types.ModuleType]:
    """The real URLconf plus views that fail on purpose, under /pages-that-fail/ and /api/."""
    real = get_resolver()
    urlconf = types.ModuleType("urls_with_failing_views")
    patterns: list[URLPattern | URLResolver] = [
        path("pages-that-fail/<str:kind>/", failing_view),
        path("api/v1/plain-that-fails/<str:kind>/", failing_view),
        *real.url_patterns,
    ]
    urlconf.urlpatterns = patterns  # type: ignore[attr-defined]
    for status in (400, 403, 404, 500):
        setattr(urlconf, f"handler{status}", real.resolve_error_handler(status))
    settings.ROOT_URLCONF = urlconf
    yield urlconf


@pytest.fixture
def visitor() -> Client:
    # Errors must come back as answers, not as exceptions raised into the test.
    return Client(raise_request_exception=False)


# --- Home page and layout ------------------------------------------------------------------------


def test_home_page_tells_what_the_forum_is_in_plain_html(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = Page(response.content.decode())
    # Everything is in the HTML itself: a browser without JavaScript shows the same page.
    assert "Welcome to Forum" in page.text
    assert "private dialogs" in page.text
    assert page.find("main") and page.find("header") and page.find("footer") and page.find("nav")
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in page.find("meta")


def test_home_page_has_no_inline_code_for_a_strict_content_security_policy(client: Client) -> None:
    page = Page(client.get("/").content.decode())
    assert page.inline_scripts == []
    assert page.style_elements == 0
    assert not [attrs for _tag, attrs in page.elements if "style" in attrs]
    assert not [attrs for _tag, attrs in page.elements if any(name.startswith("on") for name in attrs)]


def test_scripts_are_the_vendored_htmx_and_the_realtime_client_both_deferred(client: Client) -> None:
    page = Page(client.get("/").content.decode())
    scripts = page.find("script")
    assert [script["src"] for script in scripts] == [
        f"{settings.STATIC_URL}vendor/htmx/htmx.min.js",
        f"{settings.STATIC_URL}js/realtime.js",
    ]
    assert all("defer" in script for script in scripts)


def test_htmx_is_configured_to_inject_and_evaluate_nothing_inline(client: Client) -> None:
    page = Page(client.get("/").content.decode())
    config = json.loads(
        next(meta["content"] for meta in page.find("meta") if meta.get("name") == "htmx-config")
    )
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    # Error fragments are swapped in (into #alerts, where the server retargets them); 5xx are not.
    assert {"code": "4..", "swap": True, "error": True} in config["responseHandling"]


def test_realtime_client_finds_its_websocket_url_and_members_an_offline_notice(
    client: Client, settings: Any, make_member: Any, django_user_model: Any
) -> None:
    settings.FORUM_WEBSOCKET_URL = "/ws/"
    page = Page(client.get("/").content.decode())
    assert {"name": "forum-websocket-url", "content": "/ws/"} in page.find("meta")
    # Guests get no live updates (the gateway closes their sockets with 4401): nothing to pause.
    assert not [attrs for attrs in page.find("p") if "data-live-status" in attrs]

    client.force_login(django_user_model.objects.get(pk=make_member()))
    page = Page(client.get("/").content.decode())
    notice = [attrs for attrs in page.find("p") if "data-live-status" in attrs]
    # Hidden in the markup; realtime.js shows it only when the socket stays down for a few seconds.
    assert len(notice) == 1 and "hidden" in notice[0]
    stylesheet = Path(finders.find("css/forum.css") or "").read_text()
    assert "data-realtime" not in stylesheet  # no rule shows it at once, on every page load


def test_anonymous_visitor_gets_a_sign_in_link_back_to_the_same_page(client: Client) -> None:
    page = Page(client.get("/?page=2").content.decode())
    assert "/accounts/signin/?next=/%3Fpage%3D2" in page.urls()
    assert not any(url.startswith("/admin/login/") for url in page.urls())


@pytest.mark.django_db
def test_signed_in_member_sees_their_name_and_a_sign_out_form(admin_client: Client) -> None:
    page = Page(admin_client.get("/").content.decode())
    assert "admin" in page.text
    sign_out = [form for form in page.find("form") if form.get("action") == "/accounts/signout/"]
    assert sign_out and sign_out[0]["method"] == "post"
    assert "/accounts/signin/?next=/" not in page.urls()


def test_no_dead_ends_in_the_header_and_footer_and_staff_links_for_staff_only(
    client: Client, make_member: Any, django_user_model: Any
) -> None:
    """No link to a feature that does not exist, the search box leading to the search, and the
    admin's link only for those it lets in: a member who followed it met the admin's sign-in page."""
    guest = Page(client.get("/").content.decode())
    assert [form.get("action") for form in guest.find("form") if form.get("role") == "search"] == ["/search/"]
    assert client.get("/search/", {"q": "anything"}).status_code == 200
    assert not [url for url in guest.urls() if url.startswith("/admin/")]

    member_id = make_member()
    client.force_login(django_user_model.objects.get(pk=member_id))
    member = Page(client.get("/").content.decode())
    assert "Moderation" not in member.text
    assert [form.get("action") for form in member.find("form") if form.get("role") == "search"] == [
        "/search/"
    ]
    assert not [url for url in member.urls() if url.startswith("/admin/")]
    # The member menu: the profile, the settings, the sessions, the bookmarks, and signing out.
    assert {f"/members/{member_id}/", "/accounts/settings/", "/accounts/sessions/", "/bookmarks/"} <= set(
        member.urls()
    )
    assert [form["method"] for form in member.find("form") if form.get("action") == "/accounts/signout/"] == [
        "post"
    ]

    client.force_login(django_user_model.objects.get(pk=make_member(is_staff=True)))
    staff = Page(client.get("/").content.decode())
    assert "/admin/" in staff.urls() and "Moderation" in staff.text


@pytest.mark.django_db
def test_the_header_offers_each_language_in_its_own_name_and_speaks_the_chosen_one(client: Client) -> None:
    from django.utils import translation

    english = Page(client.get("/").content.decode())
    options = [option for option in english.find("option") if "lang" in option]
    assert [option["value"] for option in options] == [code for code, _name in settings.LANGUAGES]
    assert [option["value"] for option in options if "selected" in option] == ["en"]
    assert ("a", {"href": "/", "aria-current": "page"}) in english.elements
    switch = [form for form in english.find("form") if form.get("action") == "/i18n/setlang/"]
    assert switch and switch[0]["method"] == "post"
    assert {"type": "hidden", "name": "next", "value": "/"} in english.find("input")

    client.post("/i18n/setlang/", {"language": "ru", "next": "/"})
    russian = Page(client.get("/").content.decode())
    assert [option["value"] for option in russian.find("option") if "selected" in option] == ["ru"]
    with translation.override("ru"):
        forums, sign_in = translation.gettext("Forums"), translation.gettext("Sign in")
    assert forums != "Forums" and forums in russian.text and sign_in in russian.text
    assert "Русский" in english.text and "English" in russian.text


def test_the_forum_name_comes_from_the_settings(client: Client, settings: Any) -> None:
    settings.FORUM_NAME = "Harbour Club"
    page = Page(client.get("/").content.decode())
    assert "Welcome to Harbour Club" in page.text
    assert "<title>Harbour Club</title>" in client.get("/").content.decode()


# --- Nothing from another origin, and every local asset exists -------------------------------------


@pytest.mark.parametrize("url", ["/", "/no-such-page/", "/api/docs/", "/admin/login/"])
def test_no_page_references_another_origin(visitor: Client, url: str) -> None:
    response = visitor.get(url)
    page = Page(response.content.decode())
    assert page.urls(), "the scan found no URL at all, so it proves nothing"
    assert foreign_urls(page.urls()) == []


@pytest.mark.parametrize("kind", ["permission", "suspicious", "crash", "not-found"])
def test_error_pages_reference_no_other_origin(
    failing_urls: types.ModuleType, visitor: Client, kind: str
) -> None:
    page = Page(visitor.get(f"/pages-that-fail/{kind}/").content.decode())
    assert page.urls()
    assert foreign_urls(page.urls()) == []


def test_the_origin_scan_catches_what_it_must() -> None:
    page = Page(
        '<link href="https://cdn.example.com/x.css"><script src="//cdn.example.com/x.js"></script>'
        '<img srcset="/a.png 1x, http://img.example.com/b.png 2x"><a href="/fine">x</a>'
        '<a href="http://testserver/also-fine">y</a><form action="javascript:alert(1)"></form>'
    )
    assert foreign_urls(page.urls()) == [
        "https://cdn.example.com/x.css",
        "//cdn.example.com/x.js",
        "http://img.example.com/b.png",
        "javascript:alert(1)",
    ]


@pytest.mark.parametrize("url", ["/", "/no-such-page/", "/api/docs/"])
def test_every_static_file_a_page_uses_exists(visitor: Client, url: str) -> None:
    page = Page(visitor.get(url).content.decode())
    static = [u for u in page.urls() if urlsplit(u).path.startswith(settings.STATIC_URL)]
    assert static
    missing = [u for u in static if finders.find(urlsplit(u).path.removeprefix(settings.STATIC_URL)) is None]
    assert missing == []


def test_htmx_is_vendored_with_its_license_and_recorded_version() -> None:
    script = finders.find("vendor/htmx/htmx.min.js")
    license_file = finders.find("vendor/htmx/LICENSE")
    assert script and license_file
    version = re.search(r'version:"(\d+\.\d+\.\d+)"', Path(script).read_text())
    assert version and version.group(1).startswith("2.")
    readme = Path(settings.BASE_DIR, "static", "vendor", "README.md").read_text()
    assert f"| {version.group(1)} |" in readme


# --- Friendly error pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [
        ("suspicious", 400, "The request could not be understood."),
        ("permission", 403, "Only members of this section may read it."),
        ("crash", 500, "An error occurred on our side"),
    ],
)
def test_error_pages_answer_the_status_with_friendly_text(
    failing_urls: types.ModuleType, visitor: Client, kind: str, status: int, text: str
) -> None:
    response = visitor.get(f"/pages-that-fail/{kind}/")
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = Page(response.content.decode())
    assert text in page.text
    assert f"Error {status}" in page.text
    assert "Traceback" not in page.text and "malformed signature" not in page.text
    assert "/" in [link.get("href") for link in page.find("a")]


def test_a_request_for_a_host_we_do_not_serve_gets_the_friendly_400(visitor: Client) -> None:
    response = visitor.get("/", headers={"Host": "forum.example.net"})
    assert response.status_code == 400
    assert "The request could not be understood." in Page(response.content.decode()).text


def test_unknown_page_is_a_friendly_404_inside_the_layout(visitor: Client) -> None:
    response = visitor.get("/no-such-page/")
    assert response.status_code == 404
    page = Page(response.content.decode())
    assert "Page not found" in page.text
    assert page.find("nav") and page.find("footer")
    assert {"name": "robots", "content": "noindex"} in page.find("meta")


def test_the_500_page_survives_a_failing_context_processor(
    failing_urls: types.ModuleType, visitor: Client, settings: Any
) -> None:
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["OPTIONS"]["context_processors"].append(f"{__name__}.broken_context_processor")
    settings.TEMPLATES = templates
    response = visitor.get("/pages-that-fail/crash/")
    assert response.status_code == 500
    assert "Something went wrong" in Page(response.content.decode()).text
    # A page that needs the context fails as well, and ends on the same plain 500 page.
    response = visitor.get("/no-such-page/")
    assert response.status_code == 500
    assert "Something went wrong" in Page(response.content.decode()).text


@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [
        ("not-found", 404, "That thread was removed."),
        ("forbidden", 403, "Only moderators may open this queue."),
        ("rate-limited", 429, "You post too often."),
    ],
)
def test_an_application_error_in_a_page_view_renders_the_friendly_page(
    failing_urls: types.ModuleType, visitor: Client, kind: str, status: int, text: str
) -> None:
    response = visitor.get(f"/pages-that-fail/{kind}/")
    assert response.status_code == status
    page = Page(response.content.decode())
    assert text in page.text
    assert page.find("header") and page.find("footer")


def test_an_application_error_keeps_its_headers(failing_urls: types.ModuleType, visitor: Client) -> None:
    response = visitor.get("/pages-that-fail/rate-limited/")
    assert response.status_code == 429
    assert response["Retry-After"] == "30"


def test_an_htmx_request_gets_an_error_fragment_aimed_at_the_alert_area(
    failing_urls: types.ModuleType, client: Client
) -> None:
    response = client.get("/pages-that-fail/forbidden/", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#alerts"
    assert response["HX-Reswap"] == "innerHTML"
    html = response.content.decode()
    assert "<html" not in html
    assert "Only moderators may open this queue." in Page(html).text
    # The target exists in every page.
    assert any(div.get("id") == "alerts" for div in Page(client.get("/").content.decode()).find("div"))


def test_a_boosted_htmx_navigation_gets_the_whole_page(
    failing_urls: types.ModuleType, client: Client
) -> None:
    response = client.get("/pages-that-fail/not-found/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert response.status_code == 404
    assert "<html" in response.content.decode()
    assert "HX-Retarget" not in response


def test_a_form_without_its_csrf_token_gets_a_friendly_403() -> None:
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/i18n/setlang/", {"language": "ru", "next": "/"})
    assert response.status_code == 403
    page = Page(response.content.decode())
    assert "has expired or cookies are blocked" in page.text
    assert page.find("nav")

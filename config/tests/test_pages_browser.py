"""The member-facing pages in a real browser, at a phone's width (390 px) and a desktop's (1280 px), as a
member, as a guest and (the moderation and ticket pages) as staff: no page scrolls sideways, axe-core
finds no serious or critical WCAG 2.1 A/AA violation (in the light scheme, and in the dark one the
system asks for), the header is one row with the member menu behind the member's name, focus is always
visible, and screenshots of the index, a thread and a dialog at both widths are left in the artefacts
folder (``.artifacts/``, or $FORUM_TEST_ARTIFACTS) for a person to look at.

The stack is what production runs (forum/testing/browser.py): gunicorn for the pages, uvicorn for the
WebSocket gateway, a Celery worker; the data is made through the apps' services, as members would. It
lives in config/ because it walks the pages of every app.
"""

from __future__ import annotations

import datetime
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from PIL import Image, ImageDraw

from apps.dialog import services as dialogs
from apps.dialog.models import Message
from apps.frame import services as frames
from apps.notification import services as notifications
from apps.status import services as statuses
from apps.support import services as support
from apps.thread import services as threads
from forum.testing import browser as web
from forum.testing import pages
from forum.testing.fixtures import local_upload_storages

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Amber-Lighthouse-Meadow-52"

# Words that do not wrap on their own: a phone's page must still not scroll sideways.
LONG_BODY = (
    "Tide tables and the pier schedule, as promised:\n\n"
    "https://harbour.example.com/schedules/2026/winter/ferries-and-tides?format=printable&lang=en\n\n"
    "Pneumonoultramicroscopicsilicovolcanoconiosis is still the longest word in my dictionary.\n\n"
    "```\nferry --depart=06:45 --arrive=07:30 --route=north-harbour-to-lighthouse-point --verbose\n```\n\n"
    "> Quoted from the harbour master: *all ferries run on time this week.*"
)


@dataclass(frozen=True)
class Site:
    origin: str
    general: int
    thread: int
    dialog: int
    bruno: int
    ada_session: str
    # The pages of the shop, the frames, payments, support and moderation (issues 12 to 14).
    reply: int
    checkout: str
    ticket: int
    sam_session: str


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    web.require_chromium(monkeypatch)
    with web.running_stack(
        tmp_path,
        queues=["thread", "dialog", "notification"],
        EMAIL_URL="dummymail://",
        # No chain to ask: the checkout page is walked, not paid.
        PAYMENT_ESPLORA_URL="http://127.0.0.1:9/nothing-listens-here",
    ) as stack:
        yield stack


def _session(user: Any) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = django_settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return session.session_key


def _ring_png() -> bytes:
    picture = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(picture).ellipse((4, 4, 115, 115), outline="gold", width=10)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def site(stack: web.Stack, settings: Any) -> Site:
    """Sam (staff), Ada (the member who walks) and Bruno; a forum with a long thread; a closed forum
    under a category a guest cannot see into; a dialog over three days; a notification for Ada; a
    status on sale and a frame (Ada owns it), an invoice of Ada's, and Ada's report of Bruno's reply,
    whose ticket Sam works."""
    if not settings.AWS_S3_ENDPOINT_URL:  # the frame's picture where the pages' server reads it
        local_upload_storages(settings, stack.log_dir)
    users = get_user_model().objects
    sam = users.create_user(username="sam", password=PASSWORD, is_staff=True)
    ada = users.create_user(username="ada", password=PASSWORD, email="ada@example.com")
    bruno = users.create_user(username="bruno", password=PASSWORD)

    community = threads.forum_create(name="Community", kind="category").id
    general = threads.forum_create(
        name="General discussion", parent_id=community, description="Anything that fits nowhere else."
    ).id
    lounge = threads.forum_create(name="Members' lounge", kind="category").id
    threads.forum_create(name="Agents only", parent_id=lounge, read_permission="forum.read_exclusive")
    thread = threads.thread_create(author_id=sam.pk, forum_id=general, title="Harbour news", body=LONG_BODY)
    threads.thread_create(author_id=sam.pk, forum_id=general, title="Show us your desk", body="Mine first.")
    replies = [
        threads.post_create(author_id=author, thread_id=thread.id, body=body)
        for author, body in (
            (bruno.pk, "Thanks @ada, the *printable* one is what I needed."),
            (sam.pk, "Pinned for the week."),
        )
    ]
    threads.reaction_set(user_id=ada.pk, post_id=replies[0].id, kind=threads.reaction_kinds()[0])
    notifications.post_created_notify(
        post_id=replies[0].id,
        thread_id=thread.id,
        forum_id=general,
        author_id=bruno.pk,
        position=replies[0].position,
        mentioned_ids=[ada.pk],
    )

    dialog = dialogs.dialog_start(starter_id=ada.pk, recipient_id=bruno.pk).id
    said = [
        dialogs.message_create(author_id=author, dialog_id=dialog, body=body).id
        for author, body in (
            (ada.pk, "Are you on the early ferry tomorrow?"),
            (bruno.pk, "Yes, the 06:45."),
            (bruno.pk, "See you at the pier: https://harbour.example.com/maps/pier-and-ferry-terminal-north"),
            (ada.pk, "Made it. The coffee stand was closed though."),
            (bruno.pk, "It opens at seven, as ever."),
        )
    ]
    now = timezone.now()
    # Written over three days (the page groups them by day): set as the service would have stored them.
    for message_id, days_ago in zip(said, (2, 2, 2, 1, 0), strict=True):
        Message.objects.filter(pk=message_id).update(created_at=now - datetime.timedelta(days=days_ago))

    # Defined here: transactional tests empty the seeded statuses, frames and help topics.
    statuses.status_define(code="agent", name="Agent", permissions={"forum.read_exclusive": True})
    plan = statuses.plan_save(status_code="agent", days=30, price_sats=50_000)
    gold = frames.frame_create(
        name="Gold ring", price_sats=20_000, image=io.BytesIO(_ring_png()), filename="gold.png"
    )
    frames.frame_grant(frame_id=gold.id, member_id=ada.pk, granted_by=None)
    checkout = statuses.plan_buy(user_id=ada.pk, plan_id=plan.plan_id).invoice_id
    ticket = support.report_file(
        reporter_id=ada.pk, target_kind="post", target_id=replies[0].id, reason="spam", comment="Ads?"
    ).ticket_id
    return Site(
        stack.origin,
        general,
        thread.id,
        dialog,
        bruno.pk,
        _session(ada),
        replies[1].id,
        checkout,
        ticket,
        _session(sam),
    )


def _member_urls(site: Site) -> list[str]:
    return [
        "/",
        f"/forums/{site.general}/",
        f"/threads/{site.thread}/",
        f"/forums/{site.general}/new/",
        "/dialogs/",
        f"/dialogs/{site.dialog}/",
        "/notifications/",
        f"/members/{site.bruno}/",
        "/accounts/settings/",
        "/accounts/sessions/",
        "/bookmarks/",
        "/shop/",
        "/frames/",
        "/frames/mine/",
        "/pay/",
        f"/pay/{site.checkout}/",
        "/support/",
        "/support/new/",
        f"/support/tickets/{site.ticket}/",
        f"/report/?kind=post&id={site.reply}",
        "/warnings/",
    ]


def _staff_urls(site: Site) -> list[str]:
    return [
        "/moderation/",
        "/support/queue/",
        f"/support/tickets/{site.ticket}/",
    ]


def _guest_urls(site: Site) -> list[str]:
    return [
        "/",
        f"/forums/{site.general}/",
        f"/threads/{site.thread}/",
        f"/members/{site.bruno}/",
        "/shop/",
        "/frames/",
        "/accounts/signin/",
        "/accounts/signup/",
    ]


def _page(
    browser: Browser,
    site: Site,
    *,
    member: bool,
    viewport: ViewportSize,
    scheme: Literal["light", "dark"] = "light",
    session: str = "",
) -> Page:
    """A page as Ada (``member``), as a guest, or as whoever's ``session`` it is."""
    context = browser.new_context(locale="en-US", viewport=viewport, color_scheme=scheme)
    context.set_default_timeout(web.TIMEOUT * 1000)
    if member or session:
        context.add_cookies(
            [
                {
                    "name": django_settings.SESSION_COOKIE_NAME,
                    "value": session or site.ada_session,
                    "url": site.origin,
                }
            ]
        )
    return context.new_page()


def _open(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("load")
    # Fonts and lazy images settle before anything is measured.
    page.evaluate("() => document.fonts.ready.then(() => true)")


def _report(problems: dict[str, Any]) -> str:
    return json.dumps(problems, indent=2, ensure_ascii=False)


@pytest.mark.django_db(transaction=True)
def test_every_main_page_fits_a_phone_and_passes_axe_at_both_widths(site: Site) -> None:
    overflowing: dict[str, Any] = {}
    violations: dict[str, Any] = {}
    with web.chromium() as browser:
        for name, viewport in (("phone", pages.PHONE), ("desktop", pages.DESKTOP)):
            walks = (
                ("member", _member_urls(site), site.ada_session),
                ("guest", _guest_urls(site), ""),
                ("staff", _staff_urls(site), site.sam_session),
            )
            for who, urls, session in walks:
                member = who == "member"
                page = _page(browser, site, member=False, viewport=viewport, session=session)
                for url in urls:
                    _open(page, site.origin + url)
                    key = f"{name} {who} {url}"
                    wide = pages.overflow(page)
                    if wide is not None:
                        overflowing[key] = wide
                    found = pages.axe_violations(page)
                    if found:
                        violations[key] = found
                    if member and url in {"/", f"/threads/{site.thread}/", f"/dialogs/{site.dialog}/"}:
                        label = {"/": "index", f"/threads/{site.thread}/": "thread"}.get(url, "dialog")
                        if label == "dialog":  # as it opens: at its latest messages, the box under them
                            pages.screenshot(page, f"dialog-{viewport['width']}-window", full_page=False)
                        pages.screenshot(page, f"{label}-{viewport['width']}")
                page.context.close()
    assert overflowing == {}, "pages wider than the window:\n" + _report(overflowing)
    assert violations == {}, "serious or critical axe violations:\n" + _report(violations)


@pytest.mark.django_db(transaction=True)
def test_the_dark_scheme_is_followed_and_keeps_its_contrast(site: Site) -> None:
    violations: dict[str, Any] = {}
    with web.chromium() as browser:
        for member, urls in ((True, _member_urls(site)), (False, _guest_urls(site)[-2:])):
            page = _page(browser, site, member=member, viewport=pages.DESKTOP, scheme="dark")
            for url in urls:
                _open(page, site.origin + url)
                # The scheme really is the dark one: the page's background is the dark token.
                background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
                assert background == "rgb(20, 23, 29)", (url, background)
                found = pages.axe_violations(page)
                if found:
                    violations[url] = found
                if member and url in {"/", f"/dialogs/{site.dialog}/"}:
                    pages.screenshot(page, "dark-" + ("index" if url == "/" else "dialog") + "-1280")
            page.context.close()
    assert violations == {}, "serious or critical axe violations in the dark scheme:\n" + _report(violations)


@pytest.mark.django_db(transaction=True)
def test_the_header_is_one_row_on_a_phone_with_the_member_menu_behind_the_name(site: Site) -> None:
    from playwright.sync_api import expect

    with web.chromium() as browser:
        for member in (True, False):
            page = _page(browser, site, member=member, viewport=pages.PHONE)
            _open(page, site.origin + "/")
            rows = page.evaluate(
                """() => {
                  const parts = [...document.querySelector(".site-header__inner").children]
                    .filter(part => part.getBoundingClientRect().height > 0);
                  const boxes = parts.map(part => part.getBoundingClientRect());
                  const header = document.querySelector(".site-header").getBoundingClientRect();
                  return {tops: boxes.map(box => Math.round(box.top)),
                          bottoms: boxes.map(box => Math.round(box.bottom)),
                          height: Math.round(header.height)};
                }"""
            )
            # One row: every part of the header overlaps the others vertically, and the header is short.
            assert max(rows["tops"]) < min(rows["bottoms"]), rows
            assert rows["height"] <= 72, rows
            if not member:
                expect(page.locator("header").get_by_role("link", name="Sign in", exact=True)).to_be_visible()
                expect(page.locator("header").get_by_role("link", name="Sign up", exact=True)).to_be_visible()
                page.context.close()
                continue

            menu = page.locator("header details.member-menu")
            toggle = menu.locator("summary")
            expect(toggle).to_have_accessible_name("ada")
            links = ["Your profile", "Account settings", "Your sessions", "Bookmarks"]
            for name in links:
                expect(menu.get_by_role("link", name=name)).to_be_hidden()
            toggle.click()
            for name in links:
                expect(menu.get_by_role("link", name=name)).to_be_visible()
            expect(menu.get_by_role("button", name="Sign out")).to_be_visible()
            assert pages.overflow(page) is None
            pages.screenshot(page, "member-menu-390", full_page=False)
            expect(menu.get_by_role("link", name="Your profile")).to_have_attribute(
                "href", f"/members/{get_user_model().objects.get(username='ada').pk}/"
            )
            # Escape closes it and gives the focus back to the name; a click elsewhere closes it too.
            menu.get_by_role("link", name="Your profile").focus()
            page.keyboard.press("Escape")
            expect(menu).not_to_have_attribute("open", "")
            assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
            toggle.click()
            expect(menu).to_have_attribute("open", "")
            page.mouse.click(5, pages.PHONE["height"] - 5)  # far from the menu
            expect(menu).not_to_have_attribute("open", "")
            # A guest's page never offers the staff's link, nor does a member's.
            assert page.locator("a[href='/admin/']").count() == 0
            page.context.close()


@pytest.mark.django_db(transaction=True)
def test_focus_is_always_visible_and_starts_with_the_skip_link(site: Site) -> None:
    with web.chromium() as browser:
        page = _page(browser, site, member=True, viewport=pages.DESKTOP)
        _open(page, site.origin + f"/threads/{site.thread}/")
        seen = []
        for _press in range(12):
            page.keyboard.press("Tab")
            focus = page.evaluate(
                """() => {
                  const element = document.activeElement;
                  const style = getComputedStyle(element);
                  const box = element.getBoundingClientRect();
                  return {tag: element.tagName, text: (element.textContent || "").trim().slice(0, 30),
                          outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
                          shadow: style.boxShadow !== "none",
                          onScreen: box.bottom > 0 && box.top < window.innerHeight};
                }"""
            )
            seen.append(focus)
        assert seen[0]["text"] == "Skip to content" and seen[0]["onScreen"], seen[0]
        invisible = [
            focus for focus in seen if not (focus["outline"] or focus["shadow"]) or not focus["onScreen"]
        ]
        assert invisible == [], invisible
        page.context.close()


def test_the_artefacts_folder_can_be_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / f"shots-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("FORUM_TEST_ARTIFACTS", str(target))
    assert pages.artifacts_dir() == target and target.is_dir()

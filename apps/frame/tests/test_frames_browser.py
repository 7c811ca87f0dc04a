"""The frames' pages in a real browser, at 1280 and 390 px, in English and Russian: the catalogue as a
guest and as a member, and the member's frames: axe-core finds no serious violation, nothing scrolls
sideways, and wearing a frame works with the page's plain forms (no JavaScript needed); the profile
then draws it. Screenshots go to .artifacts/. Django's live server serves the pages; Debian's Chromium
is driven through Playwright."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.conf import settings

from apps.frame import services
from apps.status.services import status_define
from forum.testing import browser as web
from forum.testing import pages

from .conftest import RING_SVG, ring_png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_frames_pages_read_well_and_pass_axe(
    live_server: Any, browser_page: Any, django_user_model: Any
) -> None:
    from playwright.sync_api import expect

    # Defined here: a transactional test before this one may have emptied the seeded catalogue.
    status_define(code="agent", name="Agent", permissions={"forum.read_exclusive": True})
    gold = services.frame_create(
        name="Gold ring", price_sats=20_000, image=io.BytesIO(ring_png()), filename="gold.png", position=1
    )
    services.frame_create(
        name="Silver laurel with a rather long name to wrap on a phone",
        price_sats=1_234_567,
        image=io.BytesIO(RING_SVG),
        filename="laurel.svg",
        left=3,
        position=2,
    )
    services.frame_create(
        name="Agent's seal",
        price_sats=50_000,
        image=io.BytesIO(RING_SVG),
        filename="seal.svg",
        holders_only_status="agent",
        position=3,
    )
    member = django_user_model.objects.create_user(username="mila")
    services.frame_grant(frame_id=gold.id, member_id=member.pk, granted_by=None)
    origin = live_server.url
    page = browser_page

    for language in ("en", "ru"):
        page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": origin}])
        for size_name, size in (("desktop", pages.DESKTOP), ("phone", pages.PHONE)):
            page.set_viewport_size(size)
            page.goto(f"{origin}/frames/")
            assert pages.axe_violations(page) == [], (language, size_name)
            assert pages.overflow(page) is None, (language, size_name)
            pages.screenshot(page, f"frames-guest-{language}-{size_name}")

    web.use_session(page, origin, member.pk)
    for language in ("en", "ru"):
        page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": origin}])
        for size_name, size in (("desktop", pages.DESKTOP), ("phone", pages.PHONE)):
            page.set_viewport_size(size)
            for path in ("/frames/", "/frames/mine/"):
                page.goto(f"{origin}{path}")
                assert pages.axe_violations(page) == [], (path, language, size_name)
                assert pages.overflow(page) is None, (path, language, size_name)
                pages.screenshot(
                    page, f"frames{path.replace('/', '-').rstrip('-')}-member-{language}-{size_name}"
                )

    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": origin}])
    page.set_viewport_size(pages.PHONE)
    page.goto(f"{origin}/frames/mine/")
    page.get_by_role("button", name="Wear Gold ring").click()
    page.wait_for_load_state()
    expect(page.get_by_text("You wear the frame “Gold ring” now.")).to_be_visible()
    expect(page.locator(f"#frame-{gold.id}").get_by_text("Worn")).to_be_visible()
    assert pages.axe_violations(page) == []
    page.goto(f"{origin}/members/{member.pk}/")
    expect(page.locator(".profile-avatar__frame")).to_be_visible()
    assert pages.overflow(page) is None
    pages.screenshot(page, "frames-profile-phone")

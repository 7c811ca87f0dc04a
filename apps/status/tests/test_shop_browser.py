"""The shop of statuses in a real browser, at 1280 and 390 px, in English and Russian, as a guest and
as a member holding a status: axe-core finds no serious violation, nothing scrolls sideways, and the
buy form (no JavaScript needed) leads to the invoice. Screenshots go to .artifacts/.

Django's live server serves the pages; Debian's Chromium is driven through Playwright.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from apps.status.services import plan_save, status_define, status_grant
from forum.testing import browser as web
from forum.testing import pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_shop_reads_well_and_passes_axe(
    live_server: Any, browser_page: Any, django_user_model: Any
) -> None:
    from playwright.sync_api import expect

    # Defined here: a transactional test before this one may have emptied the seeded catalogue.
    status_define(
        code="agent",
        name="Agent",
        description="Reads the exclusive sections and may open more threads a day.",
        permissions={"forum.read_exclusive": True, "thread.create_per_day": 10},
    )
    status_define(code="patron", name="Patron", permissions={"post.attachments_max": 20}, position=2)
    month = plan_save(status_code="agent", days=30, price_sats=50_000)
    plan_save(status_code="agent", days=365, price_sats=400_000)
    plan_save(status_code="agent", days=None, price_sats=1_000_000)
    plan_save(status_code="patron", days=90, price_sats=120_000)
    member = django_user_model.objects.create_user(username="mila")
    status_grant(user_id=member.pk, status_code="patron", source="staff")

    origin = live_server.url
    page = browser_page
    for language in ("en", "ru"):
        page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": origin}])
        for size_name, size in (("desktop", pages.DESKTOP), ("phone", pages.PHONE)):
            page.set_viewport_size(size)
            page.goto(f"{origin}/shop/")
            assert pages.axe_violations(page) == [], (language, size_name)
            assert pages.overflow(page) is None, (language, size_name)
            pages.screenshot(page, f"status-shop-guest-{language}-{size_name}")

    web.use_session(page, origin, member.pk)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": origin}])
    for size_name, size in (("desktop", pages.DESKTOP), ("phone", pages.PHONE)):
        page.set_viewport_size(size)
        page.goto(f"{origin}/shop/")
        expect(page.get_by_text("You hold this status for good.")).to_be_visible()
        assert pages.axe_violations(page) == [], size_name
        assert pages.overflow(page) is None, size_name
        pages.screenshot(page, f"status-shop-member-{size_name}")

    # The buy form posts without JavaScript and leads to the invoice of the plan.
    page.locator(f'form:has(input[name="plan"][value="{month.plan_id}"]) button').click()
    page.wait_for_load_state()
    assert "/shop/buy/" not in page.url
    assert pages.axe_violations(page) == []

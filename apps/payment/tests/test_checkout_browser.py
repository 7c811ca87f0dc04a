"""The checkout page in a real browser against the real stack: a member opens an invoice's page, it is
paid from the development wallet (``manage.py payment_pay``) and the watcher's check runs; the page
shows the payment seen, its confirmations, then "paid" with the way back, live over the WebSocket and
without a reload. It reads at 1280 and 390 pixels without sideways scrolling and passes axe-core
(WCAG 2.1 A and AA); screenshots are kept for review.

The pages' server is given a chain API where nothing listens, so that its own periodic checks fail and
only the WebSocket can bring the news: the test's process reads the development chain (served by the
live server) and publishes what changed, as the watcher would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from apps.payment import services
from forum.testing import browser as web
from forum.testing import pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    web.require_chromium(monkeypatch)
    with web.running_stack(
        tmp_path, queues=["payment"], PAYMENT_ESPLORA_URL="http://127.0.0.1:9/nothing-listens-here"
    ) as stack:
        yield stack


def look(page: Any, name: str) -> None:
    """No sideways scrolling and no serious axe violation at both widths; a screenshot of each."""
    for size, label in ((pages.DESKTOP, "desktop"), (pages.PHONE, "phone")):
        page.set_viewport_size(size)
        assert pages.overflow(page) is None, f"{name} scrolls sideways at {size['width']}px"
        assert pages.axe_violations(page) == [], f"{name} at {size['width']}px"
        pages.screenshot(page, f"payment-{name}-{label}")
    page.set_viewport_size(pages.DESKTOP)


@pytest.mark.django_db(transaction=True)
def test_the_checkout_page_goes_to_paid_live(stack: web.Stack, settings: Any) -> None:
    from playwright.sync_api import expect

    settings.PAYMENT_CONFIRMATIONS = [(0, 2)]
    alice, session = web.member_session()
    services.product_register(
        app_label="status", code="agent-30", title="Agent, 30 days", price_sats=50_000, return_url="/pay/"
    )
    invoice = services.invoice_create(member_id=alice, product_app="status", product_code="agent-30")

    with web.chromium() as browser:
        page = web.new_page(browser, origin=stack.origin, session_key=session)
        page.goto(f"{stack.origin}/pay/{invoice.public_id}/")
        expect(page.locator("h1")).to_have_text("Pay for Agent, 30 days")
        expect(
            page.get_by_role("img", name=f"QR code of the payment: 0.0005 BTC to {invoice.address}")
        ).to_be_visible()
        expect(page.locator("[data-address]")).to_have_text(invoice.address)
        expect(page.get_by_role("link", name="Open in your wallet")).to_have_attribute(
            "href", invoice.bip21_uri
        )
        expect(page.locator("[data-countdown]")).to_contain_text("left")
        expect(page.locator("body")).to_have_attribute("data-realtime", "connected")
        look(page, "checkout-new")
        web.mark(page)

        def paid(*arguments: str) -> None:
            call_command("payment_pay", *arguments)
            services.invoice_check(public_id=invoice.public_id)

        web.backstage(lambda: paid(invoice.public_id))
        expect(page.locator("[data-confirmations]")).to_contain_text("0 of 2 so far")
        expect(page.locator(".invoice-state")).to_have_text("Payment seen")
        web.backstage(lambda: paid("--confirm", "1"))
        expect(page.locator("[data-confirmations]")).to_contain_text("1 of 2 so far")
        web.backstage(lambda: paid("--confirm", "1"))
        expect(page.locator("[data-settled]")).to_contain_text("Paid. Thank you!")
        expect(page.get_by_role("link", name="Go to Agent, 30 days")).to_have_attribute("href", "/pay/")
        assert web.stayed(page), "the checkout page was reloaded"
        look(page, "checkout-settled")

        page.get_by_role("link", name="Receipt").click()
        expect(page.locator("h1")).to_have_text("Receipt")
        look(page, "receipt")
        page.goto(f"{stack.origin}/pay/")
        expect(page.locator(".invoice-list__item")).to_have_count(1)
        look(page, "my-invoices")

"""A member buys the Agent status in the shop and reads the Agents-only forum, in a real browser
against the real stack (gunicorn, the WebSocket gateway, a worker on the payment and status queues):
the shop's buy button leads to the invoice's checkout page, the invoice is paid from the development
wallet (``manage.py payment_pay``), the checkout page goes to paid live, the status app's worker grants
the status from ``payment.invoice_settled``, and the forum that was closed to the member opens.

Here, not in apps/status/tests: the forum is made through the thread app, which the status app's
package may not import. As in the payment app's checkout test, the pages' server is given a chain API
where nothing listens; this process reads the development chain (over HTTP, from the stack's own
Esplora endpoint) and publishes what changed, as the watcher would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from apps.payment.services import invoice_check
from apps.status.models import StatusGrant
from apps.status.services import plan_save, status_define
from apps.thread.services import forum_create
from forum.testing import browser as web
from forum.testing import pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    web.require_chromium(monkeypatch)
    with web.running_stack(
        tmp_path, queues=["payment", "status"], PAYMENT_ESPLORA_URL="http://127.0.0.1:9/nothing-listens-here"
    ) as stack:
        yield stack


@pytest.mark.django_db(transaction=True)
def test_a_member_buys_agent_pays_and_opens_the_agents_forum(stack: web.Stack, settings: Any) -> None:
    from playwright.sync_api import expect

    settings.PAYMENT_ESPLORA_URL = f"{stack.origin}/dev/esplora"
    # Defined here: a transactional test before this one may have emptied the seeded catalogue.
    status_define(
        code="agent", name="Agent", permissions={"forum.read_exclusive": True, "thread.create_per_day": 10}
    )
    category = forum_create(name="Community", kind="category")
    agents = forum_create(name="Agents only", parent_id=category.id, read_permission="forum.read_exclusive")
    plan = plan_save(status_code="agent", days=30, price_sats=50_000)
    alice, session = web.member_session()

    with web.chromium() as browser:
        page = web.new_page(browser, origin=stack.origin, session_key=session)
        page.goto(f"{stack.origin}/forums/{agents.id}/")
        expect(page.get_by_role("heading", name="Agents only")).to_have_count(0)

        page.goto(f"{stack.origin}/shop/")
        page.locator(f'form:has(input[name="plan"][value="{plan.plan_id}"]) button').click()
        expect(page.locator("h1")).to_have_text("Pay for Agent, 30 days")
        invoice_id = page.url.rstrip("/").rsplit("/", 1)[-1]
        expect(page.locator("body")).to_have_attribute("data-realtime", "connected")
        web.mark(page)

        def paid() -> None:
            call_command("payment_pay", invoice_id, "--confirm", "1")
            assert invoice_check(public_id=invoice_id).state == "settled"

        web.backstage(paid)
        expect(page.locator("[data-settled]")).to_contain_text("Paid. Thank you!")
        assert web.stayed(page), "the checkout page was reloaded"
        web.wait_for(
            lambda: StatusGrant.objects.filter(user_id=alice, status__code="agent").exists(),
            what="the status app's worker to grant Agent",
        )
        for size, label in ((pages.DESKTOP, "desktop"), (pages.PHONE, "phone")):
            page.set_viewport_size(size)
            pages.screenshot(page, f"status-purchase-settled-{label}")
        page.set_viewport_size(pages.DESKTOP)

        page.get_by_role("link", name="Go to Agent, 30 days").click()
        expect(page.get_by_text("You hold this status until")).to_be_visible()
        page.goto(f"{stack.origin}/forums/{agents.id}/")
        expect(page.get_by_role("heading", name="Agents only")).to_be_visible()
        assert pages.axe_violations(page) == []

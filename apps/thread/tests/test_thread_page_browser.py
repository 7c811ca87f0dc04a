"""The thread page's posts in a real browser: who wrote each post (the author card, linked to the
profile), reactions with visible words that toggle by mouse and by keyboard, who reacted, Quote (the
whole post, or the words selected in it) and Reply into the reply form, at 1280 and 390 px wide, light
and dark. Screenshots go to .artifacts/ (FORUM_TEST_ARTIFACTS overrides) for a person to look at.

Django's live server (a thread of this process, on the test database) serves the pages and their
static files; Debian's Chromium is driven through Playwright.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from apps.status.services import status_define, status_grant
from apps.thread import services
from apps.thread.tests.conftest import Tree
from apps.user.services import avatar_set, profile_update
from forum.testing import browser as web
from forum.testing import pages
from forum.testing.fixtures import local_upload_storages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPENING = "Welcome to the harbour. The tide is high today, mind the pier."


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> Iterator[Any]:
    local_upload_storages(settings, tmp_path)
    web.require_chromium(monkeypatch)
    with web.chromium() as browser:
        yield web.new_page(browser)


def _luminance(colour: str) -> float:
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", colour)[:3])

    def linear(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(page: Any, selector: str) -> float:
    """The contrast ratio of an element's text against its own background (WCAG's formula)."""
    colours = page.locator(selector).evaluate(
        "(el) => { const style = getComputedStyle(el); return [style.color, style.backgroundColor]; }"
    )
    lighter, darker = sorted((_luminance(colour) for colour in colours), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_a_member_reads_reacts_and_quotes_on_a_thread_page(
    live_server: Any,
    browser_page: Any,
    django_user_model: Any,
    tree: Tree,
    staff: int,
    make_member: Any,
) -> None:
    from playwright.sync_api import expect

    def named(username: str) -> int:
        return int(django_user_model.objects.create_user(username=username).pk)

    ada, bruno, cleo = named("ada"), named("bruno"), named("cleo")
    # Defined here: a transactional test before this one may have emptied the seeded catalogue.
    status_define(code="reader", name="Reader", permissions={"forum.read_extended": True})
    status_grant(user_id=ada, status_code="reader", source="staff")
    profile_update(user_id=ada, signature="Sailing the *north sea* since 1999")
    picture = io.BytesIO()
    Image.new("RGB", (96, 96), "#2a6f97").save(picture, format="PNG")
    picture.seek(0)
    avatar_set(user_id=ada, file=picture, filename="ada.png")
    thread = services.thread_create(
        author_id=staff, forum_id=tree.general, title="Harbour news", body=OPENING
    )
    opening = thread.first_post_id
    assert opening is not None
    reply = services.post_create(
        author_id=ada,
        thread_id=thread.id,
        body=f"[quote=post:{opening}]\nThe tide is high today\n[/quote]\n\nHigh enough for the **big** "
        "boats. Details: https://example.com/a/very/long/address/that/must/wrap/on/a/phone/without/scrolling",
    )
    services.post_create(author_id=bruno, thread_id=thread.id, body="```\nsail --to north --speed 12\n```")
    services.post_create(author_id=ada, thread_id=thread.id, body="And one more thing from me.")
    services.reaction_set(user_id=bruno, post_id=opening, kind="like")
    services.reaction_set(user_id=bruno, post_id=reply.id, kind="love")

    origin = live_server.url
    session = Client()
    session.force_login(django_user_model.objects.get(pk=cleo))
    page = browser_page
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": origin,
            }
        ]
    )
    page.set_viewport_size(pages.DESKTOP)
    page.goto(f"{origin}/threads/{thread.id}/")
    first = page.locator(f"#post-{opening}")
    answer = page.locator(f"#post-{reply.id}")

    # Who wrote what: a card with the name linked to the profile, role and status badges, avatar.
    name = first.locator(".author-card__name")
    expect(name).to_be_visible()
    expect(name).to_have_attribute("href", f"/members/{staff}/")
    expect(first.locator(".badge--role")).to_have_text("Support")
    expect(answer.locator(".author-card__name")).to_have_text("ada")
    expect(answer.locator(".badge--status")).to_have_text("Reader")
    avatar = answer.locator(".author-card__image")
    web.wait_for(
        lambda: bool(avatar.evaluate("img => img.complete && img.naturalWidth > 0")), what="ada's avatar"
    )
    # Her signature once, under her first post, and it folds away.
    expect(page.locator(".signature")).to_have_count(1)
    signature = answer.locator(".signature")
    expect(signature.locator(".signature__body")).to_contain_text("Sailing the north sea")
    signature.locator("summary").click()
    expect(signature.locator(".signature__body")).to_be_hidden()
    signature.locator("summary").click()

    # A reaction button says what it is, readably (it was white on white), and toggles by mouse.
    like = first.locator("button[value=like]")
    expect(like.locator(".reactions__label")).to_be_visible()
    expect(like.locator(".reactions__label")).to_have_text("Like")
    assert contrast(page, f"#post-{opening} button[value=like]") >= 4.5
    assert like.evaluate("b => getComputedStyle(b, '::before').content").startswith('"\U0001f44d"')
    # The post swapped in is enhanced in the same task as the swap: a key pressed on it at once is sent
    # by htmx, not as a plain form that reloads the page (with htmx's 20 ms settle delay it was not).
    page.evaluate(
        """() => {
          let loaded = false;
          document.body.addEventListener("htmx:beforeSwap", () => { loaded = false; });
          document.body.addEventListener("htmx:load", (event) => {
            if (event.detail.elt.matches("li.post")) loaded = true;
          });
          document.body.addEventListener("htmx:afterSwap", () => {
            setTimeout(() => { window.enhancedAtOnce = loaded; }, 0);
          });
        }"""
    )
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(like.locator(".reactions__count")).to_have_text("2")
    web.wait_for(lambda: page.evaluate("window.enhancedAtOnce") is not None, what="the swap")
    assert page.evaluate("window.enhancedAtOnce") is True
    like.click()
    expect(like).to_have_attribute("aria-pressed", "false")
    expect(like.locator(".reactions__count")).to_have_text("1")
    # ... and by keyboard: the pressed button keeps the focus after the post is swapped in again.
    love = first.locator("button[value=love]")
    love.focus()
    page.keyboard.press("Enter")
    expect(love).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"#react-{opening}-love")).to_be_focused()
    page.keyboard.press("Space")
    expect(love).to_have_attribute("aria-pressed", "false")

    # Who reacted, on asking; Escape closes it and gives the focus back.
    who = first.locator(".reactors__toggle")
    who.click()
    expect(first.locator(".reactor-list a")).to_have_text(["bruno"])
    expect(first.locator(".reactor-list a")).to_have_attribute("href", f"/members/{bruno}/")
    first.locator(".reactor-list a").focus()
    page.keyboard.press("Escape")
    expect(first.locator(".reactor-list")).to_be_hidden()
    expect(who).to_be_focused()

    # Quote: the whole post into the reply form, which gets the focus.
    body = page.locator("form[action$='/reply/'] textarea[name=body]")
    first.locator("a[data-quote]").click()
    expect(body).to_have_value(f"[quote=post:{opening}]\n{OPENING}\n[/quote]\n")
    expect(body).to_be_focused()
    # ... or the words selected in a post.
    first.locator(".post__body p").evaluate(
        """(p) => {
          const text = p.firstChild;
          const start = text.data.indexOf("The tide is high");
          const range = document.createRange();
          range.setStart(text, start);
          range.setEnd(text, start + "The tide is high".length);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }"""
    )
    first.locator("a[data-quote]").click()
    expect(body).to_have_value(
        f"[quote=post:{opening}]\n{OPENING}\n[/quote]\n\n[quote=post:{opening}]\nThe tide is high\n[/quote]\n"
    )
    # Reply names the author to whom one answers.
    answer.locator("a[data-reply-to]").click()
    expect(body).to_have_value(re.compile(r"\[/quote\]\n\n@ada $"))
    body.fill("")

    # The posts pass axe (WCAG 2.1 A and AA, serious and critical), light and dark.
    pages.axe_violations(page, rules=("region",))  # loads axe-core into the page
    posts_violations = """(options) => window.axe.run(document.querySelector("ol.posts"), options)
        .then((result) => result.violations.filter((v) => ["serious", "critical"].includes(v.impact))
        .map((v) => v.id + ": " + v.nodes.map((n) => n.target.join(" ")).join(", ")))"""
    axe_options = {"runOnly": {"type": "tag", "values": list(pages.AXE_TAGS)}}
    assert page.evaluate(posts_violations, axe_options) == []

    # Screenshots for a person to look at: desktop, phone, phone in the dark; nothing scrolls sideways.
    page.evaluate("window.scrollTo(0, 0)")
    pages.screenshot(page, "thread-posts-1280")
    page.set_viewport_size(pages.PHONE)
    expect(first.locator(".author-card")).to_be_visible()
    assert pages.overflow(page) is None, pages.overflow(page)
    card, text = first.locator(".author-card").bounding_box(), first.locator(".post__body").bounding_box()
    assert card is not None and text is not None and card["y"] + card["height"] <= text["y"]  # a row above
    words = first.locator(".post-action__text").first.bounding_box()
    assert words is not None and words["width"] <= 1  # icons only; the words are for screen readers
    pages.screenshot(page, "thread-posts-390")
    page.emulate_media(color_scheme="dark")
    assert contrast(page, f"#post-{opening} button[value=like]") >= 4.5
    assert page.evaluate(posts_violations, axe_options) == []
    pages.screenshot(page, "thread-posts-390-dark")

"""A thread in a real browser against the real stack: a member signs in, replies with an image and
reacts; another member, with the thread open, sees both arrive live; a thread waiting for moderation
stays hidden from everyone but its author.

The stack is what production runs: the pages on gunicorn (WSGI), the WebSocket gateway on uvicorn
(ASGI), and a Celery worker that turns the thread's events into pushes, all on the test database,
this test's own queues and its own Redis keys.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from apps.thread import services
from apps.thread.models import Post
from forum.models import ProcessedEvent
from forum.testing import browser as web

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Amber-Lighthouse-Meadow-52"


@pytest.fixture
def site(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    """The stack, with a worker on the thread queue."""
    web.require_chromium(monkeypatch)
    with web.running_stack(tmp_path, queues=["thread"]) as stack:
        yield stack


@dataclass(frozen=True)
class Forum:
    general: int
    thread: int
    opening_post: int
    long_thread: int
    staff: int
    ada: int
    bruno: int
    cleo: int


@pytest.fixture
def forum(site: web.Stack, django_user_model: Any) -> Forum:
    """Sam (staff) and three members; a public thread and a two-page one (made after the stack is up,
    so that their events go to this test's own queues)."""

    def member(username: str, **fields: Any) -> int:
        return int(django_user_model.objects.create_user(username=username, password=PASSWORD, **fields).pk)

    staff, ada, bruno, cleo = member("sam", is_staff=True), member("ada"), member("bruno"), member("cleo")
    category = services.forum_create(name="Community", kind="category").id
    general = services.forum_create(name="General", parent_id=category).id
    thread = services.thread_create(author_id=staff, forum_id=general, title="Harbour news", body="Welcome!")
    assert thread.first_post_id is not None
    # Two pages: a reply to it shows on its last page, not on the first.
    long_thread = services.thread_create(author_id=staff, forum_id=general, title="Long talk", body="One")
    for number in range(2, 22):
        services.post_create(author_id=staff, thread_id=long_thread.id, body=f"Post number {number}")
    return Forum(general, thread.id, thread.first_post_id, long_thread.id, staff, ada, bruno, cleo)


def handled_count() -> int:
    """How many events the worker has pushed to the thread pages (its handlers' dedup records)."""
    found: list[int] = []
    web.backstage(
        lambda: found.append(ProcessedEvent.objects.filter(handler__startswith="thread.on_").count())
    )
    return found[0]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "#2a6f97").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_reply_with_an_image_and_a_reaction_arrive_live_and_a_queued_thread_stays_hidden(
    site: web.Stack, forum: Forum
) -> None:
    from playwright.sync_api import Page, expect

    origin = site.origin
    thread_url = f"{origin}/threads/{forum.thread}/"

    def following(page: Page) -> None:
        """Wait until the page follows its thread live; mark the page to tell a reload later."""
        expect(page.locator("ol.posts[data-live-subscribed]")).to_have_count(1)
        web.mark(page)

    with web.chromium() as browser:
        # Cleo has the thread open, and the first page of a long one.
        cleo = web.new_page(browser)
        web.sign_in(cleo, origin, "cleo", PASSWORD, f"/threads/{forum.thread}/")
        following(cleo)
        cleo_long = cleo.context.new_page()
        cleo_long.goto(f"{origin}/threads/{forum.long_thread}/")
        following(cleo_long)

        # Ada signs in, opens the thread and replies with an image through the form.
        ada = web.new_page(browser)
        web.sign_in(ada, origin, "ada", PASSWORD, f"/threads/{forum.thread}/")
        reply_form = ada.locator("form[action$='/reply/']")
        reply_form.locator("textarea[name=body]").fill("Photos from the pier")
        reply_form.locator("input[name=attachments]").set_input_files(
            files=[{"name": "pier.png", "mimeType": "image/png", "buffer": png()}]
        )
        reply_form.get_by_role("button", name="Reply", exact=True).click()
        ada.wait_for_url(re.compile(re.escape(thread_url) + r"#post-\d+$"))
        reply = ada.locator("li.post", has_text="Photos from the pier")
        expect(reply).to_have_count(1)
        image = reply.locator(".attachments img")
        expect(image).to_be_visible()
        web.wait_for(
            lambda: bool(image.evaluate("img => img.complete && img.naturalWidth > 0")),
            what="Ada's image to load",
        )
        reply_id = reply.get_attribute("data-post-id")

        # Cleo sees it arrive, image included, without a reload.
        live_reply = cleo.locator(f"li.post#post-{reply_id}")
        expect(live_reply).to_contain_text("Photos from the pier")
        expect(live_reply.locator(".attachments img")).to_be_visible()
        expect(cleo.locator("li.post", has_text="Photos from the pier")).to_have_count(1)
        assert web.stayed(cleo)

        # Ada reacts to Sam's opening post: the count changes in place, for her and for Cleo.
        following(ada)
        like = ada.locator(f"#post-{forum.opening_post} form.reactions button[value=like]")
        like.click()
        expect(like).to_have_attribute("aria-pressed", "true")
        expect(like.locator(".reactions__count")).to_have_text("1")
        assert web.stayed(ada)
        cleo_like = cleo.locator(f"#post-{forum.opening_post} form.reactions button[value=like]")
        expect(cleo_like.locator(".reactions__count")).to_have_text("1")
        expect(cleo_like).to_have_attribute("aria-pressed", "false")  # counts only: not Cleo's
        assert web.stayed(cleo)

        # A moderator edits Ada's reply and then deletes it: Cleo's page follows.
        post_id = int(reply_id or 0)
        web.backstage(
            partial(services.post_edit, editor_id=forum.staff, post_id=post_id, body="Pier photos, edited")
        )
        expect(live_reply).to_contain_text("Pier photos, edited")
        web.backstage(partial(services.post_delete, user_id=forum.staff, post_id=post_id))
        expect(live_reply).to_have_count(0)
        # ... and restores it: it comes back to Cleo's page, once.
        web.backstage(partial(services.post_restore, moderator_id=forum.staff, post_id=post_id))
        expect(live_reply).to_contain_text("Pier photos, edited")
        expect(cleo.locator("li.post", has_text="Pier photos, edited")).to_have_count(1)
        assert web.stayed(cleo)

        # The gateway restarts; what was pushed meanwhile is lost, so Cleo's page catches up by
        # itself once it follows the thread again.
        site.stop_ws()
        expect(cleo.locator("ol.posts[data-live-subscribed]")).to_have_count(0)
        handled = handled_count()
        away = partial(
            services.post_create, author_id=forum.bruno, thread_id=forum.thread, body="Written meanwhile"
        )
        web.backstage(away)
        web.backstage(
            partial(services.reaction_set, user_id=forum.bruno, post_id=forum.opening_post, kind="like")
        )
        web.wait_for(lambda: handled_count() >= handled + 2, what="the worker to push both changes")
        site.start_ws()
        expect(cleo.locator("li.post", has_text="Written meanwhile")).to_have_count(1)
        expect(cleo_like.locator(".reactions__count")).to_have_text("2")
        expect(cleo.locator("ol.posts[data-live-subscribed]")).to_have_count(1)
        assert web.stayed(cleo)

        # On the first page of the long thread, a reply hidden and restored by staff leaves and comes
        # back in its place, full as the page is; it is no new reply, so nothing is announced.
        second = Post.objects.get(thread_id=forum.long_thread, position=2).pk
        web.backstage(partial(services.post_delete, user_id=forum.staff, post_id=second))
        expect(cleo_long.locator(f"li.post#post-{second}")).to_have_count(0)
        web.backstage(partial(services.post_restore, moderator_id=forum.staff, post_id=second))
        expect(cleo_long.locator("li.post").nth(1)).to_have_attribute("id", f"post-{second}")
        expect(cleo_long.locator("[data-live-notice]")).to_be_hidden()

        # On the first page of the long thread, a new reply is announced, not inserted.
        late = partial(
            services.post_create, author_id=forum.bruno, thread_id=forum.long_thread, body="Late word"
        )
        web.backstage(late)
        notice = cleo_long.locator("[data-live-notice]")
        expect(notice).to_be_visible()
        expect(notice.locator("[data-live-count]")).to_have_text("1")
        expect(cleo_long.locator("li.post", has_text="Late word")).to_have_count(0)
        notice.locator("a[data-live-show]").click()
        expect(cleo_long.locator("li.post", has_text="Late word")).to_be_visible()

        # Bruno starts a thread: it waits for a moderator, seen by him alone.
        bruno = web.new_page(browser)
        web.sign_in(bruno, origin, "bruno", PASSWORD, f"/forums/{forum.general}/new/")
        bruno.fill("input[name=title]", "Boat for sale")
        bruno.fill("textarea[name=body]", "Barely used.")
        bruno.get_by_role("button", name="Start the thread", exact=True).click()
        bruno.wait_for_url(re.compile(re.escape(origin) + r"/threads/\d+/$"))
        expect(bruno.locator(".thread-status")).to_contain_text("Awaiting moderation")
        queued_url = bruno.url
        assert bruno.goto(queued_url).status == 200  # type: ignore[union-attr]

        cleo.goto(f"{origin}/forums/{forum.general}/")
        expect(cleo.locator("main")).to_contain_text("Harbour news")
        expect(cleo.locator("main")).not_to_contain_text("Boat for sale")
        response = cleo.goto(queued_url)
        assert response is not None and response.status == 404
        expect(cleo.locator("main")).not_to_contain_text("Boat for sale")

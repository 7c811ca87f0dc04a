"""Drafts kept on the server: one per member and target, only where the member may post, restored on
the pages without JavaScript, gone once sent, bounded like posts, and swept when old."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from celery import current_app
from django.test import Client
from rest_framework.test import APIClient

from apps.status.services import status_grant
from apps.thread import services, tasks
from apps.thread.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, Draft
from apps.thread.tests.conftest import Tree
from forum.errors import NotFound, ValidationFailed
from forum.testing.fixtures import Clock
from forum.tests.test_pages import Page

Api = Callable[[int | None], APIClient]


def signed_in(django_user_model: Any, user_id: int) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=user_id))
    return client


@pytest.fixture
def thread(tree: Tree, staff: int) -> services.ThreadRef:
    return services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour news", body="Ships")


# --- The services -------------------------------------------------------------------------------------


def test_save_restore_replace_and_delete_a_reply_draft(thread: services.ThreadRef, member: int) -> None:
    assert services.draft_get(user_id=member, thread_id=thread.id) is None
    saved = services.draft_save(user_id=member, thread_id=thread.id, body="First words\n")
    assert saved is not None and saved.body == "First words\n" and saved.thread_id == thread.id
    again = services.draft_save(user_id=member, thread_id=thread.id, body="First words, then more")
    assert again is not None and again.updated_at >= saved.updated_at
    assert Draft.objects.filter(user_id=member).count() == 1  # one per member and thread
    found = services.draft_get(user_id=member, thread_id=thread.id)
    assert found is not None and (found.body, found.title, found.forum_id) == (
        "First words, then more",
        "",
        None,
    )

    # Nothing written is no draft.
    assert services.draft_save(user_id=member, thread_id=thread.id, body="  \n ") is None
    assert services.draft_get(user_id=member, thread_id=thread.id) is None
    services.draft_save(user_id=member, thread_id=thread.id, body="back")
    services.draft_delete(user_id=member, thread_id=thread.id)
    services.draft_delete(user_id=member, thread_id=thread.id)  # none left: nothing happens
    assert not Draft.objects.exists()


def test_a_new_thread_draft_per_forum(tree: Tree, member: int) -> None:
    services.draft_save(user_id=member, forum_id=tree.general, title="A title", body="")
    services.draft_save(user_id=member, forum_id=tree.sub, title="Elsewhere", body="Body")
    found = services.draft_get(user_id=member, forum_id=tree.general)
    assert found is not None and (found.title, found.body, found.thread_id) == ("A title", "", None)
    assert services.draft_save(user_id=member, forum_id=tree.general, title=" ", body="") is None
    assert list(Draft.objects.values_list("forum_id", flat=True)) == [tree.sub]


def test_sending_deletes_the_draft_in_the_same_transaction(
    thread: services.ThreadRef, tree: Tree, member: int, other: int
) -> None:
    services.draft_save(user_id=member, thread_id=thread.id, body="a reply")
    services.draft_save(user_id=other, thread_id=thread.id, body="their reply")
    services.draft_save(user_id=member, forum_id=tree.general, title="New", body="thread")
    services.draft_save(user_id=member, forum_id=tree.sub, title="Other", body="forum")

    # A refused reply (an attachment that is not the member's) rolls back and keeps the draft.
    with pytest.raises(ValidationFailed):
        services.post_create(author_id=member, thread_id=thread.id, body="a reply", attachment_ids=[2**40])
    assert services.draft_get(user_id=member, thread_id=thread.id) is not None

    services.post_create(author_id=member, thread_id=thread.id, body="a reply")
    assert services.draft_get(user_id=member, thread_id=thread.id) is None
    assert services.draft_get(user_id=other, thread_id=thread.id) is not None  # theirs stays
    assert services.draft_get(user_id=member, forum_id=tree.general) is not None  # not the same target

    services.thread_create(author_id=member, forum_id=tree.general, title="New", body="thread")
    assert services.draft_get(user_id=member, forum_id=tree.general) is None
    assert services.draft_get(user_id=member, forum_id=tree.sub) is not None


def test_the_limits_are_a_posts_and_a_titles(thread: services.ThreadRef, tree: Tree, member: int) -> None:
    assert services.draft_save(user_id=member, thread_id=thread.id, body="x" * BODY_MAX_LENGTH) is not None
    with pytest.raises(ValidationFailed) as body:
        services.draft_save(user_id=member, thread_id=thread.id, body="x" * (BODY_MAX_LENGTH + 1))
    assert set(body.value.fields) == {"body"}
    assert services.draft_save(user_id=member, forum_id=tree.general, title="t" * TITLE_MAX_LENGTH, body="")
    with pytest.raises(ValidationFailed) as title:
        services.draft_save(user_id=member, forum_id=tree.general, title="t" * (TITLE_MAX_LENGTH + 1))
    assert set(title.value.fields) == {"title"}
    with pytest.raises(ValidationFailed) as reply_title:
        services.draft_save(user_id=member, thread_id=thread.id, title="A reply has none", body="b")
    assert set(reply_title.value.fields) == {"title"}
    with pytest.raises(ValidationFailed) as neither:
        services.draft_save(user_id=member, body="b")
    assert neither.value.code == "draft_target"
    with pytest.raises(ValidationFailed):
        services.draft_save(user_id=member, thread_id=thread.id, forum_id=tree.general, body="b")


def test_drafts_only_where_the_member_may_post(
    thread: services.ThreadRef, tree: Tree, member: int, other: int, staff: int
) -> None:
    status_grant(user_id=staff, status_code="agent", source="staff")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="S", body="B")
    pending = services.thread_create(author_id=other, forum_id=tree.general, title="Wait", body="B")
    own_pending = services.thread_create(author_id=member, forum_id=tree.general, title="Mine", body="B")
    refused: list[dict[str, int]] = [
        {"thread_id": hidden.id},  # a forum the member may not read
        {"thread_id": pending.id},  # another member's thread awaiting moderation
        {"thread_id": own_pending.id},  # seen, but no replies until approved
        {"thread_id": 2**62},
        {"thread_id": 2**70},
        {"forum_id": tree.exclusive},
        {"forum_id": tree.category},  # categories hold no threads
        {"forum_id": 2**62},
    ]
    for target in refused:
        with pytest.raises(NotFound):
            services.draft_save(user_id=member, body="text", **target)  # type: ignore[arg-type]

    # Closed after the member started writing: no more saving, but what was kept can still be read
    # and thrown away; moderators reply in closed threads, so they keep drafts there.
    services.draft_save(user_id=member, thread_id=thread.id, body="before it closed")
    services.thread_close(moderator_id=staff, thread_id=thread.id)
    with pytest.raises(NotFound) as closed:
        services.draft_save(user_id=member, thread_id=thread.id, body="after")
    assert closed.value.code == "cannot_post"
    found = services.draft_get(user_id=member, thread_id=thread.id)
    assert found is not None and found.body == "before it closed"
    assert services.draft_save(user_id=staff, thread_id=thread.id, body="moderator's") is not None
    services.draft_delete(user_id=member, thread_id=thread.id)
    assert services.draft_get(user_id=member, thread_id=thread.id) is None

    # Moved out of the member's sight: not even reading.
    services.draft_save(user_id=member, forum_id=tree.general, title="T", body="B")
    services.thread_move(moderator_id=staff, thread_id=thread.id, forum_id=tree.exclusive)
    with pytest.raises(NotFound):
        services.draft_get(user_id=member, thread_id=thread.id)


# --- The API ------------------------------------------------------------------------------------------


def test_the_api(api_as: Api, thread: services.ThreadRef, tree: Tree, member: int) -> None:
    api = api_as(member)
    url = f"/api/v1/threads/{thread.id}/draft"
    missing = api.get(url)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_draft"
    saved = api.put(url, {"body": "  typed so far\n"}, format="json")
    assert saved.status_code == 200
    assert saved.json()["body"] == "  typed so far\n" and saved.json()["thread_id"] == thread.id
    assert api.get(url).json()["body"] == "  typed so far\n"
    assert api.put(url, {"body": ""}, format="json").status_code == 204  # blank: deleted
    assert api.get(url).status_code == 404
    assert api.put(url, {"body": "x" * (BODY_MAX_LENGTH + 1)}, format="json").status_code == 400
    assert api.put(url, {"body": "again"}, format="json").status_code == 200
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404

    forum_url = f"/api/v1/forums/{tree.general}/draft"
    assert api.put(forum_url, {"title": "Idea", "body": "More"}, format="json").json()["title"] == "Idea"
    kept = api.get(forum_url).json()
    assert (kept["forum_id"], kept["thread_id"], kept["title"], kept["body"]) == (
        tree.general,
        None,
        "Idea",
        "More",
    )
    assert set(kept) == {"forum_id", "thread_id", "title", "body", "updated_at"}
    too_long = api.put(forum_url, {"title": "t" * (TITLE_MAX_LENGTH + 1)}, format="json")
    assert too_long.status_code == 400 and "title" in too_long.json()["error"]["fields"]
    assert api.put(f"/api/v1/forums/{tree.exclusive}/draft", {"body": "b"}, format="json").status_code == 404
    assert api.put(f"/api/v1/forums/{tree.category}/draft", {"body": "b"}, format="json").status_code == 404
    # The addresses as the issue wrote them, with a trailing slash, answer alike.
    assert api.get(f"/api/v1/forums/{tree.general}/draft/").json()["title"] == "Idea"
    assert api.delete(f"/api/v1/forums/{tree.general}/draft/").status_code == 204


def test_another_member_never_sees_my_drafts(
    api_as: Api, django_user_model: Any, thread: services.ThreadRef, tree: Tree, member: int, other: int
) -> None:
    services.draft_save(user_id=member, thread_id=thread.id, body="my private reply")
    services.draft_save(user_id=member, forum_id=tree.general, title="My private title", body="b")
    assert api_as(other).get(f"/api/v1/threads/{thread.id}/draft").status_code == 404
    assert api_as(other).get(f"/api/v1/forums/{tree.general}/draft").status_code == 404
    assert api_as(other).delete(f"/api/v1/threads/{thread.id}/draft").status_code == 204
    theirs = signed_in(django_user_model, other)
    assert "my private reply" not in theirs.get(f"/threads/{thread.id}/").content.decode()
    assert "My private title" not in theirs.get(f"/forums/{tree.general}/new/").content.decode()
    assert services.draft_get(user_id=member, thread_id=thread.id) is not None


def test_guests_are_refused_by_the_api(api_as: Api, thread: services.ThreadRef, tree: Tree) -> None:
    guest = api_as(None)
    for url in (f"/api/v1/threads/{thread.id}/draft", f"/api/v1/forums/{tree.general}/draft"):
        assert guest.get(url).status_code == 401
        assert guest.put(url, {"body": "b"}, format="json").status_code == 401
        assert guest.delete(url).status_code == 401


def test_saving_from_a_page_needs_the_csrf_token(
    django_user_model: Any, thread: services.ThreadRef, member: int
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.get(pk=member))
    page = Page(browser.get(f"/threads/{thread.id}/").content.decode())
    token = next(attrs["value"] for attrs in page.find("input") if attrs.get("name") == "csrfmiddlewaretoken")
    url = f"/api/v1/threads/{thread.id}/draft"
    assert browser.put(url, {"body": "b"}, content_type="application/json").status_code == 403
    saved = browser.put(url, {"body": "b"}, content_type="application/json", headers={"X-CSRFToken": token})
    assert saved.status_code == 200


# --- The pages ----------------------------------------------------------------------------------------


def test_the_reply_form_comes_back_filled_and_the_draft_goes_with_the_reply(
    django_user_model: Any, thread: services.ThreadRef, member: int
) -> None:
    browser = signed_in(django_user_model, member)
    page = Page(browser.get(f"/threads/{thread.id}/").content.decode())
    form = next(attrs for attrs in page.find("form") if attrs.get("data-draft-url"))
    assert form["data-draft-url"] == f"/api/v1/threads/{thread.id}/draft"
    assert "/static/thread/drafts.js" in [script.get("src", "") for script in page.find("script")]
    assert page.inline_scripts == [] and page.style_elements == 0
    discard = next(attrs for attrs in page.find("button") if "data-draft-discard" in attrs)
    assert "hidden" in discard and discard["formaction"] == f"/threads/{thread.id}/draft/discard/"

    services.draft_save(user_id=member, thread_id=thread.id, body="Half a <b>thought</b>")
    html = browser.get(f"/threads/{thread.id}/").content.decode()
    assert "Half a &lt;b&gt;thought&lt;/b&gt;</textarea>" in html
    discard = next(attrs for attrs in Page(html).find("button") if "data-draft-discard" in attrs)
    assert "hidden" not in discard

    sent = browser.post(f"/threads/{thread.id}/reply/", {"body": "The whole thought"})
    assert sent.status_code == 302
    assert services.draft_get(user_id=member, thread_id=thread.id) is None
    assert "Half a" not in browser.get(f"/threads/{thread.id}/").content.decode()


def test_the_new_thread_form_comes_back_filled_and_discarding_empties_it(
    django_user_model: Any, client: Client, tree: Tree, member: int
) -> None:
    services.draft_save(user_id=member, forum_id=tree.general, title="Almost a title", body="and a body")
    browser = signed_in(django_user_model, member)
    html = browser.get(f"/forums/{tree.general}/new/").content.decode()
    assert 'value="Almost a title"' in html and "and a body</textarea>" in html
    assert f'data-draft-url="/api/v1/forums/{tree.general}/draft"' in html

    discarded = browser.post(f"/forums/{tree.general}/draft/discard/", {"title": "x", "body": "y"})
    assert discarded.status_code == 302 and discarded["Location"] == f"/forums/{tree.general}/new/"
    assert services.draft_get(user_id=member, forum_id=tree.general) is None
    assert "Almost a title" not in browser.get(f"/forums/{tree.general}/new/").content.decode()

    # The reply form's button, and the refusals.
    assert browser.post(f"/forums/{tree.exclusive}/draft/discard/").status_code == 404
    assert client.post(f"/forums/{tree.general}/draft/discard/")["Location"].startswith("/accounts/")


def test_the_reply_forms_discard_button_without_javascript(
    django_user_model: Any, thread: services.ThreadRef, member: int
) -> None:
    services.draft_save(user_id=member, thread_id=thread.id, body="never mind")
    browser = signed_in(django_user_model, member)
    discarded = browser.post(f"/threads/{thread.id}/draft/discard/", {"body": "never mind"})
    assert discarded.status_code == 302 and discarded["Location"] == f"/threads/{thread.id}/#reply-title"
    assert services.draft_get(user_id=member, thread_id=thread.id) is None


# --- The cleanup --------------------------------------------------------------------------------------


def test_the_cleanup_is_scheduled_and_deletes_only_old_drafts(
    thread: services.ThreadRef, tree: Tree, member: int, other: int, clock: Clock, settings: Any
) -> None:
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "thread.delete_stale_drafts"
    ]
    assert len(entries) == 1 and entries[0]["schedule"] > 0
    assert "thread.delete_stale_drafts" in current_app.tasks
    assert settings.THREAD_DRAFT_MAX_AGE_DAYS == 30

    services.draft_save(user_id=member, thread_id=thread.id, body="old")
    services.draft_save(user_id=other, forum_id=tree.general, title="old too", body="")
    clock.move(days=20)
    services.draft_save(user_id=other, thread_id=thread.id, body="newer")
    clock.move(days=11)  # the first two are 31 days old, the last 11
    assert tasks.delete_stale_drafts.apply().get() == 2
    assert list(Draft.objects.values_list("user_id", "body")) == [(other, "newer")]

    settings.THREAD_DRAFT_MAX_AGE_DAYS = 10
    assert tasks.delete_stale_drafts.apply().get() == 1
    assert not Draft.objects.exists()


def test_a_draft_kept_fresh_is_not_swept(thread: services.ThreadRef, member: int, clock: Clock) -> None:
    services.draft_save(user_id=member, thread_id=thread.id, body="v1")
    clock.move(days=29)
    services.draft_save(user_id=member, thread_id=thread.id, body="v2")  # touched: its age starts again
    clock.move(days=29)
    assert services.drafts_delete_stale() == 0
    clock.move(days=2)
    assert services.drafts_delete_stale() == 1

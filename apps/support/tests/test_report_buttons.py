"""The Report buttons from the outside: on others' posts, threads, profiles and dialog messages, for
signed-in members who may report; never on one's own content, never for guests or a banned member;
each leads to the report form of what it sits on."""

from __future__ import annotations

from apps.authorization.services import access_ban_set
from apps.dialog.services import dialog_start, message_create
from apps.support.tests.conftest import Content, Web


def _post_link(post_id: int) -> str:
    return f'href="/report/?kind=post&amp;id={post_id}"'


def test_posts_and_the_thread_carry_the_button_for_members_who_may_report(
    web: Web, content: Content, reporter: int, other: int, author: int
) -> None:
    thread_link = f'href="/report/?kind=thread&amp;id={content.thread_id}"'
    page = web(reporter).get(f"/threads/{content.thread_id}/").content.decode()
    assert _post_link(content.first_post_id) in page and _post_link(content.reply_id) in page
    assert thread_link in page
    # Not on one's own post, nor one's own thread.
    mine = web(other).get(f"/threads/{content.thread_id}/").content.decode()
    assert _post_link(content.reply_id) not in mine and _post_link(content.first_post_id) in mine
    by_author = web(author).get(f"/threads/{content.thread_id}/").content.decode()
    assert thread_link not in by_author and _post_link(content.first_post_id) not in by_author
    guest = web(None).get(f"/threads/{content.thread_id}/").content.decode()
    assert "/report/" not in guest
    access_ban_set(user_id=reporter)
    banned = web(reporter).get(f"/threads/{content.thread_id}/").content.decode()
    assert "/report/" not in banned
    form = web(other).get(f"/report/?kind=post&id={content.first_post_id}")
    assert form.status_code == 200


def test_profiles_carry_the_button_for_others(web: Web, reporter: int, author: int) -> None:
    link = f'href="/report/?kind=member&amp;id={author}"'
    assert link in web(reporter).get(f"/members/{author}/").content.decode()
    assert link not in web(author).get(f"/members/{author}/").content.decode()
    assert "/report/" not in web(None).get(f"/members/{author}/").content.decode()


def test_dialog_messages_carry_the_button_on_the_others_messages(
    web: Web, reporter: int, author: int
) -> None:
    dialog = dialog_start(starter_id=author, recipient_id=reporter)
    theirs = message_create(author_id=author, dialog_id=dialog.id, body="Send me your password").id
    mine = message_create(author_id=reporter, dialog_id=dialog.id, body="No.").id
    page = web(reporter).get(f"/dialogs/{dialog.id}/").content.decode()
    assert f'href="/report/?kind=message&amp;id={theirs}"' in page
    assert f"kind=message&amp;id={mine}" not in page
    assert web(reporter).get(f"/report/?kind=message&id={theirs}").status_code == 200


def test_staff_who_may_warn_get_warn_on_others_posts_leading_to_the_filled_in_warning_form(
    web: Web, content: Content, support: int, reporter: int, author: int
) -> None:
    # From the thread page, staff warn a post's author: the admin's warning form with the author
    # and the post already filled in. Members who may not warn never see it.
    form_url = "/admin/forum_admin/memberwarning/add/"
    warn = f'href="{form_url}?member={author}&amp;reason=/posts/{content.first_post_id}/"'
    page = web(support).get(f"/threads/{content.thread_id}/").content.decode()
    assert warn in page and "post-action--warn" in page
    assert "post-action--warn" not in web(reporter).get(f"/threads/{content.thread_id}/").content.decode()
    assert "post-action--warn" not in web(None).get(f"/threads/{content.thread_id}/").content.decode()
    form = web(support).get(f"{form_url}?member={author}&reason=/posts/{content.first_post_id}/")
    assert form.status_code == 200
    body = form.content.decode()
    assert f'<option value="{author}" selected>' in body
    assert f"/posts/{content.first_post_id}/" in body

"""forum.slots: holes written by templates, split once, filled per viewer; user content cannot forge one."""

from __future__ import annotations

import pytest
from django.test import override_settings

from forum import slots
from forum.fragments import environment
from forum.slots import Slotted, hole


def test_fill_replaces_each_hole_in_order() -> None:
    html = f"<li>{hole('unread', 7)}<b>x</b>{hole('mine', '7:like')}</li>"
    kept = Slotted.parse(html)
    assert kept.holes == (("unread", "7"), ("mine", "7:like"))
    filled = kept.fill({"unread": lambda arg: f"[u{arg}]", "mine": lambda arg: f"[m{arg}]"})
    assert filled == "<li>[u7]<b>x</b>[m7:like]</li>"


def test_html_without_holes_is_one_part() -> None:
    kept = Slotted.parse("<p>plain</p>")
    assert kept.parts == ("<p>plain</p>",)
    assert kept.fill({}) == "<p>plain</p>"


def test_a_hole_without_filler_raises() -> None:
    with pytest.raises(KeyError):
        Slotted.parse(f"a{hole('csrf')}b").fill({})


def test_content_cannot_forge_a_hole() -> None:
    # Someone who writes the comment by hand does not know the key: it stays text, never a hole.
    forged = "<!--hole:0123456789abcdef0123:csrf:-->"
    kept = Slotted.parse(f"<p>{forged}</p>{hole('csrf')}")
    assert kept.holes == (("csrf", ""),)
    assert forged in kept.fill({"csrf": lambda arg: "<input>"})


def test_the_key_comes_from_the_secret() -> None:
    first = str(hole("csrf"))
    slots._key.cache_clear()
    slots._pattern.cache_clear()
    try:
        with override_settings(SECRET_KEY="another-secret-key-for-this-test-only-0123456789"):
            assert str(hole("csrf")) != first
    finally:
        slots._key.cache_clear()
        slots._pattern.cache_clear()


@pytest.mark.parametrize("bad", ["a>b", "<", "x--y"])
def test_arguments_that_would_break_the_comment_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        hole("unread", bad)


def test_names_are_identifiers() -> None:
    with pytest.raises(ValueError):
        hole("Not a name")


def test_fragments_have_hole() -> None:
    env = environment(loader=None)
    html = env.from_string("<i>{{ hole('unread', 3) }}</i>").render()
    assert Slotted.parse(html).holes == (("unread", "3"),)


def test_stand_ins_become_holes_where_escaping_would_spoil_a_hole() -> None:
    from django.utils.html import escape

    from forum.slots import stand_in

    text = stand_in("draft_body")
    assert text.isalnum() and escape(text) == text
    kept = Slotted.parse(f"<textarea>{escape(text)}</textarea>", stand_ins=("draft_body",))
    assert kept.holes == (("draft_body", ""),)
    assert kept.fill({"draft_body": lambda arg: "&lt;b&gt;"}) == "<textarea>&lt;b&gt;</textarea>"

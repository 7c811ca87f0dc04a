"""Counts in English and Russian: every plural message of the catalogue picks the right form for 1, 2, 5
and 21 (Russian has three: 1 тема, 2 темы, 5 тем, 21 тема), through Django's ngettext and through the
Jinja2 fragments' {% trans %}; and no template shows a count beside a word outside a plural block.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation

from forum.fragments import render_fragment

LOCALE_DIR = Path(settings.BASE_DIR, "locale")
TEMPLATE_DIR = Path(settings.BASE_DIR, "templates")
COUNTS = (1, 2, 5, 21)

# Messages whose Russian words do not change with the count (no noun agrees with it, or the noun is
# indeclinable: 1, 2, 5 сатоши), though the English ones do: the same form in every slot is right for
# them, not a form copied by mistake.
# (A message the same in English for one and many is taken to be such a message too.)
SAME_IN_EVERY_FORM = {
    "%(actor)s and %(count)d other reacted to your post in “%(title)s”",
    "%(sats)s satoshi",
}
# Words whose Russian form for 1 (and 21) is the form for 5 (1 байт, 5 байт): any other message with
# those two forms equal says "1 тем".
ONE_AS_MANY = {"%(count)d byte"} | SAME_IN_EVERY_FORM


def russian_form(count: int) -> int:
    """The form CLDR gives Russian integers: one (1, 21, 31…), few (2–4, 22–24…), many (the rest)."""
    if count % 10 == 1 and count % 100 != 11:
        return 0
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return 1
    return 2


@dataclass(frozen=True)
class Plural:
    singular: str
    plural: str
    russian: tuple[str, ...]


def plural_entries() -> list[Plural]:
    """The plural entries of the Russian catalogue (entries with a context are left to their own test)."""
    source = (LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    found = []
    for block in source.split("\n\n"):
        if "\nmsgid_plural " not in "\n" + block or "\nmsgctxt " in "\n" + block:
            continue
        fields: dict[str, str] = {}
        name = ""
        for line in block.splitlines():
            keyword = re.match(r"^(msgid_plural|msgid|msgstr\[\d\])\s+(\".*\")$", line)
            if keyword:
                name = keyword.group(1)
                fields[name] = ast.literal_eval(keyword.group(2))
            elif line.startswith('"') and name:
                fields[name] += ast.literal_eval(line)
        forms = tuple(fields[key] for key in sorted(key for key in fields if key.startswith("msgstr[")))
        found.append(Plural(fields["msgid"], fields["msgid_plural"], forms))
    return found


ENTRIES = plural_entries()


def test_the_catalogue_has_the_plurals_the_pages_use() -> None:
    singulars = {entry.singular for entry in ENTRIES}
    assert {"%(counter)s thread", "%(counter)s post", "%(counter)s reply", "%(counter)s member"} <= singulars


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.singular[:60] for entry in ENTRIES])
def test_every_plural_message_picks_the_right_form_in_both_languages(entry: Plural) -> None:
    assert len(entry.russian) >= 3 and all(entry.russian), entry
    if entry.singular != entry.plural and entry.singular not in SAME_IN_EVERY_FORM:
        # One word for 1, 2 and 5 alike, or the word for 5 used for 1, is how "1 тем" comes about.
        assert len(set(entry.russian[:3])) > 1, entry
        assert entry.singular in ONE_AS_MANY or entry.russian[0] != entry.russian[2], entry
    for count in COUNTS:
        with translation.override("en"):
            assert translation.ngettext(entry.singular, entry.plural, count) == (
                entry.singular if count == 1 else entry.plural
            )
        with translation.override("ru"):
            assert (
                translation.ngettext(entry.singular, entry.plural, count)
                == entry.russian[russian_form(count)]
            )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            ["1 thread", "2 threads", "5 threads", "21 threads", "1 post", "2 posts", "5 posts", "21 posts"],
        ),
        (
            "ru",
            [
                "1 тема",
                "2 темы",
                "5 тем",
                "21 тема",
                "1 сообщение",
                "2 сообщения",
                "5 сообщений",
                "21 сообщение",
            ],
        ),
    ],
)
def test_the_forum_tree_fragment_counts_in_both_languages(language: str, expected: list[str]) -> None:
    """The Jinja2 fragments' {% trans %} goes through the same catalogue, per language (their answers
    are cached per language and count: a Russian page must not get the English one, or another count's)."""
    nodes = [
        SimpleNamespace(
            id=number,
            depth=1,
            name=f"Forum {number}",
            description="",
            is_category=False,
            is_unread=False,
            total_thread_count=number,
            total_post_count=number,
            last_post_id=None,
        )
        for number in COUNTS
    ]
    with translation.override(language):
        html = render_fragment("thread/_forum_table.jinja", {"forums": nodes}, None)
    shown = [" ".join(part.split()) for part in re.findall(r'forum-tree__counts">(.*?)</p>', html, re.S)]
    words = [phrase.strip() for line in shown for phrase in line.split(",")]
    assert words == [expected[index] for pair in zip(range(4), range(4, 8), strict=True) for index in pair]


@pytest.mark.parametrize(
    ("count", "word"), [(1, "участник"), (2, "участника"), (5, "участников"), (21, "участник")]
)
def test_a_django_template_counts_with_blocktranslate(count: int, word: str) -> None:
    template = Template(
        "{% load i18n %}{% blocktranslate count counter=n %}{{ counter }} member"
        "{% plural %}{{ counter }} members{% endblocktranslate %}"
    )
    with translation.override("ru"):
        assert template.render(Context({"n": count})) == f"{count} {word}"


COUNT_THEN_WORD = re.compile(r"{{\s*([^}]*\b\w*(?:count|counter|total|length)\w*\b[^}]*)}}\s*[^\W\d_]")


def counts_beside_words(source: str) -> list[str]:
    """``{{ …count… }} word`` outside a plural block: a count shown with a word that cannot agree with it."""
    without_plural_blocks = re.sub(
        r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}"
        r"|{%\s*blocktrans(?:late)?\b[^%]*\bcount\b.*?{%\s*endblocktrans(?:late)?\s*%}"
        r"|{%-?\s*trans\b[^%]*%}.*?{%\s*pluralize\b.*?{%-?\s*endtrans\s*-?%}",
        " ",
        source,
        flags=re.DOTALL,
    )
    return [match.group(0) for match in COUNT_THEN_WORD.finditer(without_plural_blocks)]


def test_the_count_check_catches_a_count_beside_a_word() -> None:
    assert counts_beside_words("<p>{{ forum.thread_count }} threads</p>") == ["{{ forum.thread_count }} t"]
    assert (
        counts_beside_words(
            "{% trans counter=n %}{{ counter }} cat{% pluralize %}{{ counter }} cats{% endtrans %}"
        )
        == []
    )
    assert (
        counts_beside_words(
            "{% blocktranslate count counter=n %}{{ counter }} cat{% plural %}…{% endblocktranslate %}"
        )
        == []
    )
    assert counts_beside_words('<span title="x">{{ unread_count }}</span>') == []


def test_no_template_shows_a_count_beside_a_word_without_a_plural() -> None:
    offenders = {
        str(template.relative_to(TEMPLATE_DIR)): found
        for pattern in ("*.html", "*.jinja")
        for template in TEMPLATE_DIR.rglob(pattern)
        if template.relative_to(TEMPLATE_DIR).parts[0] != "bench"
        and (found := counts_beside_words(template.read_text(encoding="utf-8")))
    }
    assert offenders == {}


# A number (or a count, a number of days…) followed by a word, in a message: that word has to agree
# with it, which gettext cannot do. Not an ordinal (#%(position)d) nor the second side of a size
# (%(width)d × %(height)d pixels), nor an abbreviation that agrees with any number ("%(minutes)s min.").
COUNT_IN_MESSAGE = re.compile(
    r"(?<!#)(?<!× )%\(\w+\)d\s+[^\W\d_]{3,}"
    r"|%\((?:count|counter|days|hours|minutes|seconds|left|number|total)\)s\s+[^\W\d_]{4,}"
)
GETTEXT_NAMES = frozenset({"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy"})


def counts_in_gettext_calls(source: str) -> list[str]:
    """The messages of gettext calls (not ngettext) in Python ``source`` that show a count beside a word."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        function = node.func
        name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
        message = node.args[-1] if name.startswith("pgettext") else node.args[0]
        if (
            name in GETTEXT_NAMES
            and isinstance(message, ast.Constant)
            and isinstance(message.value, str)
            and COUNT_IN_MESSAGE.search(message.value)
        ):
            found.append(message.value)
    return found


def test_the_message_check_catches_a_count_in_a_gettext_call() -> None:
    assert counts_in_gettext_calls('_("At most %(count)d characters.") % {"count": 5}') == [
        "At most %(count)d characters."
    ]
    assert counts_in_gettext_calls('gettext("Follow it within %(days)s days.")') == [
        "Follow it within %(days)s days."
    ]
    assert counts_in_gettext_calls('ngettext("%(count)d cat", "%(count)d cats", n)') == []
    assert counts_in_gettext_calls('_("Post #%(id)d in “%(title)s”")') == []
    assert counts_in_gettext_calls('_("Try again in %(minutes)s min.")') == []


def test_no_python_message_shows_a_count_without_ngettext() -> None:
    root = Path(settings.BASE_DIR)
    offenders = {
        str(path.relative_to(root)): found
        for package in ("apps", "forum", "config")
        for path in (root / package).rglob("*.py")
        if not {"tests", "migrations", "testing"} & set(path.relative_to(root).parts)
        and (found := counts_in_gettext_calls(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}

"""English and Russian: chosen from the browser or the switch, every string translated, every page tagged."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from jinja2.ext import babel_extract

from forum.tests.test_pages import Page

# The home page is the forum index: it reads the forums from the database.
pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(settings.BASE_DIR, "locale")
TEMPLATE_DIR = Path(settings.BASE_DIR, "templates")
# bench/ holds fixtures for performance measurements that copy another forum's markup on purpose;
# they are not pages of this forum.
UNCHECKED_TEMPLATE_DIRS = {"bench"}


# --- Choosing the language ---------------------------------------------------------------------------


def test_english_without_a_preference(client: Client) -> None:
    page = Page(client.get("/").content.decode())
    assert page.find("html")[0]["lang"] == "en"
    assert "Welcome to Forum" in page.text


def test_russian_from_the_browser_language(client: Client) -> None:
    response = client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    page = Page(response.content.decode())
    assert page.find("html")[0]["lang"] == "ru"
    assert "Добро пожаловать на Форум" in page.text
    assert "Что здесь можно делать" in page.text
    assert "Accept-Language" in response["Vary"]


def test_a_language_the_forum_does_not_speak_falls_back_to_english(client: Client) -> None:
    page = Page(client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"}).content.decode())
    assert page.find("html")[0]["lang"] == "en"


def test_the_switch_is_a_plain_form_that_works_without_javascript() -> None:
    browser = Client(enforce_csrf_checks=True)
    page = Page(browser.get("/threads-page-that-does-not-exist/").content.decode())
    forms = [form for form in page.find("form") if form.get("action") == "/i18n/setlang/"]
    assert len(forms) == 1 and forms[0]["method"] == "post"
    inputs = {attrs["name"]: attrs.get("value") for attrs in page.find("input")}
    assert inputs["next"] == "/threads-page-that-does-not-exist/"
    options = [option["value"] for option in page.find("option")]
    assert options == [code for code, _name in settings.LANGUAGES]

    # Submitting it, exactly as a browser without JavaScript would.
    response = browser.post(
        "/i18n/setlang/",
        {"language": "ru", "next": "/", "csrfmiddlewaretoken": inputs["csrfmiddlewaretoken"]},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert browser.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    page = Page(browser.get("/").content.decode())
    assert page.find("html")[0]["lang"] == "ru"
    assert "Добро пожаловать" in page.text
    selected = [option["value"] for option in page.find("option") if "selected" in option]
    assert selected == ["ru"]


def test_the_switch_wins_over_the_browser_language(client: Client) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = Page(client.get("/", headers={"Accept-Language": "ru"}).content.decode())
    assert page.find("html")[0]["lang"] == "en"


def test_the_switch_refuses_to_send_the_reader_to_another_site(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "ru", "next": "https://evil.example.com/"})
    assert response.status_code == 302
    assert not response["Location"].startswith("http")


def test_the_api_language_endpoint_sets_the_same_choice(client: Client) -> None:
    response = client.post("/api/v1/language", {"language": "ru"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"language": "ru"}
    assert Page(client.get("/").content.decode()).find("html")[0]["lang"] == "ru"
    assert client.get("/api/v1/meta").json()["language"] == "ru"


def test_api_errors_speak_the_callers_language(client: Client) -> None:
    body = client.get("/api/v1/nothing", headers={"Accept-Language": "ru"}).json()
    assert body["error"]["message"] == "Страница, которую вы ищете, не существует или была перемещена."


def test_error_pages_speak_the_callers_language(client: Client) -> None:
    page = Page(client.get("/nothing/", headers={"Accept-Language": "ru"}).content.decode())
    assert "Страница не найдена" in page.text
    assert "Ошибка 404" in page.text


@pytest.mark.parametrize("url", ["/", "/no-such-page/", "/api/docs/", "/admin/login/"])
@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_page_declares_its_language(url: str, language: str) -> None:
    response = Client(raise_request_exception=False).get(url, headers={"Accept-Language": language})
    assert Page(response.content.decode()).find("html")[0]["lang"] == language


# --- The catalogue ------------------------------------------------------------------------------------


def read_po(po_file: Path) -> list[dict[str, Any]]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a list), and whether it is fuzzy."""
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] = {}
    field = ""
    for line in [*po_file.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, field = {}, ""
            continue
        if line.startswith("#,"):
            entry["fuzzy"] = "fuzzy" in line
            continue
        if line.startswith("#"):
            continue
        keyword = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")$", line)
        if keyword:
            field, literal = keyword.groups()
            entry.setdefault("msgstr", [])
            if field.startswith("msgstr"):
                entry["msgstr"].append(ast.literal_eval(literal))
            else:
                entry[field] = ast.literal_eval(literal)
        else:  # a continuation line
            text = ast.literal_eval(line.strip())
            if field.startswith("msgstr"):
                entry["msgstr"][-1] += text
            else:
                entry[field] += text
    return [entry for entry in entries if entry.get("msgid")]


def test_every_russian_entry_is_translated_and_compiled() -> None:
    po_file = LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.po"
    entries = read_po(po_file)
    assert len(entries) > 20
    assert [entry["msgid"] for entry in entries if entry.get("fuzzy") or not all(entry["msgstr"])] == []
    # The compiled catalogue is committed (machines without GNU gettext serve it as it is), so it
    # must say what the .po says: a .po edited without compilemessages fails here.
    with (po_file.parent / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    for entry in entries:
        context = entry.get("msgctxt")
        if "msgid_plural" in entry:
            one = (
                catalogue.npgettext(context, entry["msgid"], entry["msgid_plural"], 1)
                if context
                else catalogue.ngettext(entry["msgid"], entry["msgid_plural"], 1)
            )
            five = (
                catalogue.npgettext(context, entry["msgid"], entry["msgid_plural"], 5)
                if context
                else catalogue.ngettext(entry["msgid"], entry["msgid_plural"], 5)
            )
            assert (one, five) == (entry["msgstr"][0], entry["msgstr"][2])
        elif context:
            assert catalogue.pgettext(context, entry["msgid"]) == entry["msgstr"][0], entry["msgid"]
        else:
            assert catalogue.gettext(entry["msgid"]) == entry["msgstr"][0], entry["msgid"]


def untranslated_text(source: str) -> list[str]:
    """Words a template shows to people without passing them through the translation tags."""
    without_template_code = re.sub(
        r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}"
        r"|{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}"
        r"|{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}"
        r"|{#.*?#}|{%.*?%}|{{.*?}}",
        " ",
        source,
        flags=re.DOTALL,
    )
    page = Page(without_template_code)
    shown = [part for part in page.text_parts if re.search(r"[^\W\d_]", part)]
    for _tag, attributes in page.elements:
        for name in ("title", "alt", "placeholder", "aria-label", "label"):
            if re.search(r"[^\W\d_]", attributes.get(name, "")):
                shown.append(attributes[name])
    return [" ".join(text.split()) for text in shown]


def test_the_untranslated_text_check_catches_plain_words() -> None:
    assert untranslated_text('<p>Hello</p><img alt="A cat">{% translate "Fine" %}<p>{{ name }} ·</p>') == [
        "Hello",
        "A cat",
    ]


def test_every_template_passes_its_words_through_translation() -> None:
    templates = [
        template
        for pattern in ("*.html", "*.jinja")
        for template in TEMPLATE_DIR.rglob(pattern)
        if template.relative_to(TEMPLATE_DIR).parts[0] not in UNCHECKED_TEMPLATE_DIRS
    ]
    assert len(templates) >= 5
    offenders = {
        str(template.relative_to(TEMPLATE_DIR)): words
        for template in templates
        if (words := untranslated_text(template.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def jinja_msgids(template: Path) -> list[str | tuple[str, ...]]:
    """The messages a Jinja2 fragment asks the catalogue for (what Babel's extractor would collect)."""
    with template.open("rb") as source:
        found = babel_extract(source, ("_", "gettext", "ngettext"), [], {"trimmed": "false"})
        return [message for _line, _function, message, _comments in found]


def test_the_fragment_check_finds_trans_blocks_and_calls() -> None:
    assert untranslated_text("{% trans n=1 %}{{ n }} cat{% pluralize %}{{ n }} cats{% endtrans %}") == []
    assert untranslated_text("<p>{{ _('Fine') }} Cats</p>") == ["Cats"]


def test_every_fragment_message_has_a_russian_translation() -> None:
    """makemessages reads Django templates only: the .jinja fragments' messages are checked here."""
    catalogue = {entry["msgid"]: entry for entry in read_po(LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.po")}
    fragments = list(TEMPLATE_DIR.rglob("*.jinja"))
    assert fragments
    missing = []
    for fragment in fragments:
        for message in jinja_msgids(fragment):
            singular = message if isinstance(message, str) else message[0]
            entry = catalogue.get(singular)
            if entry is None or not all(entry["msgstr"]):
                missing.append((fragment.name, singular))
            elif not isinstance(message, str) and entry.get("msgid_plural") != message[1]:
                missing.append((fragment.name, f"{singular} (plural)"))
    assert missing == []

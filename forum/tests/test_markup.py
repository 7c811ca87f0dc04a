"""The shared Markdown renderer: safe HTML, mentions, quotes, code, the length limit, plain text."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser

import pytest

from forum.errors import ValidationFailed
from forum.markup import (
    MAX_MENTIONS,
    MarkupTooLong,
    MentionTarget,
    QuoteRef,
    QuoteTarget,
    Rendered,
    quote_markup,
    render,
    sanitize,
)

# --- Helpers ------------------------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def tags(html: str) -> list[str]:
    return [tag for tag, _attrs in elements(html)]


def assert_harmless(html: str) -> None:
    """No element or attribute that can run script or fetch from elsewhere."""
    for tag, attrs in elements(html):
        assert tag not in {"script", "style", "iframe", "svg", "math", "object", "embed", "form", "base"}
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style" or value in {"text-align:left", "text-align:center", "text-align:right"}
            if name in {"href", "src"}:
                assert value is not None
                scheme = value.split(":", 1)[0].lower() if ":" in value.split("/", 1)[0] else ""
                assert scheme in {"", "http", "https", "mailto"}, (tag, name, value)
        if tag == "img":
            src = attrs.get("src") or "/"
            assert src.startswith("/") and not src.startswith("//"), src


class Members:
    """A mention resolver that knows a few members and counts its calls."""

    def __init__(self, *names: str) -> None:
        self.known = {
            name.lower(): MentionTarget(index + 1, f"/u/{name}/") for index, name in enumerate(names)
        }
        self.calls: list[list[str]] = []

    def __call__(self, names: Sequence[str]) -> Mapping[str, MentionTarget]:
        self.calls.append(list(names))
        return {name: self.known[name] for name in names if name in self.known}


class Posts:
    def __init__(self, **posts: tuple[int, str]) -> None:
        # post_<id>=(author_id, author_name)
        self.known = {
            int(key.removeprefix("post_")): QuoteTarget(author_id, name, f"/t/1/#post-{key[5:]}")
            for key, (author_id, name) in posts.items()
        }
        self.calls: list[list[int]] = []

    def __call__(self, post_ids: Sequence[int]) -> Mapping[int, QuoteTarget]:
        self.calls.append(list(post_ids))
        return {post_id: self.known[post_id] for post_id in post_ids if post_id in self.known}


# --- CommonMark and the basics ------------------------------------------------------------------------


def test_renders_commonmark() -> None:
    html = render("Some *emphasis*, **strong** and ~~struck~~ text.\n\n- one\n- two\n\n3. three").html
    assert "<em>emphasis</em>" in html
    assert "<strong>strong</strong>" in html
    assert "<s>struck</s>" in html
    assert tags(html) == ["p", "em", "strong", "s", "ul", "li", "li", "ol", "li"]
    assert '<ol start="3">' in html


def test_result_is_frozen() -> None:
    rendered = render("hi")
    assert isinstance(rendered, Rendered)
    with pytest.raises(AttributeError):
        rendered.html = "<script></script>"  # type: ignore[misc]


def test_headings_move_below_the_pages_own() -> None:
    assert tags(render("# a\n## b\n### c\n#### d\n###### f").html) == ["h3", "h4", "h5", "h6", "h6"]


def test_tables_keep_alignment_only() -> None:
    html = render("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |").html
    assert '<th style="text-align:left">a</th>' in html
    assert '<td style="text-align:right">3</td>' in html
    assert_harmless(html)


# --- Links --------------------------------------------------------------------------------------------


def test_links_get_rel_nofollow_ugc_noopener_and_no_target() -> None:
    for source in ["[x](https://example.com)", "<https://example.com>", "see https://example.com ok"]:
        [(_tag, attrs)] = [element for element in elements(render(source).html) if element[0] == "a"]
        assert attrs == {"href": "https://example.com", "rel": "nofollow ugc noopener"}, source


def test_bare_urls_with_a_scheme_are_linked_but_file_names_are_not() -> None:
    html = render("https://example.com/a?b=1. and readme.md and www.example.com").html
    assert '<a href="https://example.com/a?b=1" rel="nofollow ugc noopener">' in html
    assert html.count("<a ") == 1


def test_relative_and_mailto_links_are_kept() -> None:
    html = render("[rules](/pages/rules) [mail](mailto:admin@example.com)").html
    assert 'href="/pages/rules"' in html
    assert 'href="mailto:admin@example.com"' in html


@pytest.mark.parametrize(
    "source",
    [
        "[x](ftp://example.com/f)",
        "[x](irc://example.com)",
        "[x](tel:+123)",
        "[x](java%09script:alert(1))",
        "<ftp://x.y>",
    ],
)
def test_schemes_outside_the_allow_list_stay_text(source: str) -> None:
    html = render(source).html
    assert "<a" not in html
    assert html.startswith("<p>")


def test_colon_after_the_first_slash_is_a_path() -> None:
    assert 'href="/wiki/Help:Contents"' in render("[help](/wiki/Help:Contents)").html


def test_link_titles_are_kept() -> None:
    assert 'title="the title"' in render('[x](https://example.com "the title")').html


# --- XSS ----------------------------------------------------------------------------------------------

XSS_SOURCES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "<svg onload=alert(1)><circle/></svg>",
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<iframe src=https://evil.example></iframe>",
    "<!-- comment --><style>body{}</style>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#58;alert(1))",
    "[x](java&#9;script:alert(1))",
    "[x](<java\tscript:alert(1)>)",
    "[x]( javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    "![x](javascript:alert(1))",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](data:image/svg+xml;base64,PHN2Zz4=)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    '[x](https://example.com "a" onmouseover="alert(1)")',
    '[x](https://example.com"onmouseover="alert(1))',
    '![x" onerror="alert(1)](/media/a.png)',
    '```js" onclick="alert(1)\n<script>alert(1)</script>\n```',
    "`<script>alert(1)</script>`",
    "    <script>alert(1)</script>",
    "**<img src=x onerror=alert(1)>**",
    "[<img src=x onerror=alert(1)>](https://example.com)",
    "[quote=post:1]\n<script>alert(1)</script>\n[/quote]",
]


@pytest.mark.parametrize("source", XSS_SOURCES)
def test_xss_vectors_render_harmless(source: str) -> None:
    html = render(source, quote_resolver=Posts(post_1=(1, "alice"))).html
    assert_harmless(html)


def test_raw_html_shows_as_text() -> None:
    rendered = render('<b onclick="x()">bold?</b>')
    assert rendered.html == '<p>&lt;b onclick="x()"&gt;bold?&lt;/b&gt;</p>\n'
    assert rendered.text == '<b onclick="x()">bold?</b>'


def test_disallowed_link_stays_visible_as_text() -> None:
    html = render("[click](javascript:alert(1))").html
    assert "<a" not in html
    assert "[click](javascript:alert(1))" in html


@pytest.mark.parametrize(
    "dirty",
    [
        "<script>alert(1)</script>",
        '<img src="/a.png" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<a href="vbscript:x">x</a>',
        '<img src="https://evil.example/pixel.gif">',
        '<img src="//evil.example/pixel.gif">',
        "<svg><script>alert(1)</script></svg>",
        '<math><a xlink:href="javascript:alert(1)">x</a></math>',
        '<p style="color:red" class="evil" id="x" data-x="1">x</p>',
        '<th style="position:fixed">x</th>',
        '<code class="language-js evil">x</code>',
        '<a class="mention" data-user-id="1 onclick" href="/u/a/">x</a>',
        '<a href="/a" rel="opener" target="_blank">x</a>',
    ],
)
def test_sanitizer_strips_what_render_never_produces(dirty: str) -> None:
    clean = sanitize(dirty)
    assert_harmless(clean)
    for _tag, attrs in elements(clean):
        assert "id" not in attrs and "target" not in attrs
        assert attrs.get("class") in {None, "mention"}
        assert attrs.get("rel") in {None, "nofollow ugc noopener"}
        assert attrs.get("data-user-id") is None


def test_sanitizer_keeps_what_render_produces() -> None:
    kept = (
        '<blockquote class="quote" data-post-id="3" data-user-id="7">'
        '<p class="quote-source"><a href="/t/1/#post-3" rel="nofollow ugc noopener">alice</a></p>'
        "</blockquote>"
        '<pre><code class="language-python">x</code></pre>'
        '<p><a class="mention" href="/u/bob/" data-user-id="2" rel="nofollow ugc noopener">@bob</a></p>'
    )
    assert sanitize(kept) == kept


# --- Images -------------------------------------------------------------------------------------------


def test_same_origin_images_render_as_images() -> None:
    [(tag, attrs)] = elements(render('![a cat](/media/cat.png "Tom")').html)[1:]
    assert (tag, attrs) == ("img", {"src": "/media/cat.png", "alt": "a cat", "title": "Tom"})


@pytest.mark.parametrize(
    "url", ["https://evil.example/pixel.gif", "http://evil.example/p.gif", "//evil.example/p.gif"]
)
def test_images_from_elsewhere_render_as_links(url: str) -> None:
    html = render(f"![a pixel]({url})").html
    assert "<img" not in html
    assert f'<a href="{url}" rel="nofollow ugc noopener">a pixel</a>' in html


def test_relative_image_without_leading_slash_is_not_loaded() -> None:
    assert "<img" not in render("![x](media/cat.png)").html


# --- Code ---------------------------------------------------------------------------------------------


def test_fenced_code_is_escaped_with_its_language() -> None:
    html = render("```python\nif a < b and c > d: print('&')\n```").html
    assert html == (
        "<pre><code class=\"language-python\">if a &lt; b and c &gt; d: print('&amp;')\n</code></pre>\n"
    )


def test_indented_code_and_code_spans_are_escaped() -> None:
    assert "<pre><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre>" in render("    <b>x</b>").html
    assert "<code>&lt;i&gt;</code>" in render("a `<i>` b").html


def test_odd_language_names_lose_the_class_not_the_code() -> None:
    html = render('```"><x\nbody\n```').html
    assert html == "<pre><code>body\n</code></pre>\n"


# --- Mentions -----------------------------------------------------------------------------------------


def test_mentions_resolve_in_one_call_for_all_names() -> None:
    members = Members("alice", "Bob", "carol")
    rendered = render("@alice and @Bob, then @CAROL.\n\n- @alice again\n- @nobody", resolve_mentions=members)
    assert members.calls == [["alice", "bob", "carol", "nobody"]]
    assert rendered.mentioned_user_ids == (1, 2, 3)
    assert (
        '<a class="mention" href="/u/alice/" data-user-id="1" rel="nofollow ugc noopener">@alice</a>'
        in rendered.html
    )
    assert ">@CAROL</a>." in rendered.html  # shown as typed, the sentence's full stop outside


def test_unknown_mentions_stay_text() -> None:
    rendered = render("hello @ghost", resolve_mentions=Members("alice"))
    assert rendered.html == "<p>hello @ghost</p>\n"
    assert rendered.mentioned_user_ids == ()


def test_without_a_resolver_nothing_is_resolved() -> None:
    rendered = render("hello @alice")
    assert rendered.html == "<p>hello @alice</p>\n"
    assert rendered.mentioned_user_ids == ()


def test_no_resolver_call_without_mentions() -> None:
    members = Members("alice")
    render("no mentions, but an address: alice@example.com", resolve_mentions=members)
    assert members.calls == []


@pytest.mark.parametrize(
    "source",
    [
        "`@alice`",
        "```\n@alice\n```",
        "    @alice",
        "[@alice](https://example.com)",
        "<https://example.com/@alice>",
        "https://example.com/@alice",
        "alice@example.com",
        "mail alice@example.com now",
        "@alice@example.com",
        "![@alice](/media/a.png)",
    ],
)
def test_no_mentions_in_code_links_or_addresses(source: str) -> None:
    rendered = render(source, resolve_mentions=Members("alice", "example.com"))
    assert rendered.mentioned_user_ids == ()
    assert "mention" not in rendered.html


def test_mentions_in_emphasis_tables_and_headings() -> None:
    members = Members("alice", "bob", "carol", "dave")
    rendered = render("*@alice* **hi @bob**\n\n# @carol\n\n| x |\n|---|\n| @dave |", resolve_mentions=members)
    assert rendered.mentioned_user_ids == (1, 2, 3, 4)
    assert rendered.html.count('class="mention"') == 4


def test_names_with_dots_hyphens_and_other_scripts() -> None:
    members = Members("j.doe", "ann-marie", "иван_1")
    rendered = render("@j.doe, @ann-marie- and @Иван_1!", resolve_mentions=members)
    assert members.calls == [["j.doe", "ann-marie", "иван_1"]]
    assert rendered.mentioned_user_ids == (1, 2, 3)


def test_each_member_counts_once() -> None:
    rendered = render("@alice @alice @ALICE", resolve_mentions=Members("alice"))
    assert rendered.mentioned_user_ids == (1,)
    assert rendered.html.count('class="mention"') == 3


def test_mass_mentions_are_capped() -> None:
    names = [f"user{number}" for number in range(MAX_MENTIONS + 10)]
    members = Members(*names)
    rendered = render(" ".join(f"@{name}" for name in names), resolve_mentions=members)
    assert len(members.calls[0]) == MAX_MENTIONS
    assert len(rendered.mentioned_user_ids) == MAX_MENTIONS


def test_mention_url_from_the_resolver_is_escaped() -> None:
    def resolver(names: Sequence[str]) -> Mapping[str, MentionTarget]:
        return {"alice": MentionTarget(1, '/u/"><script>alert(1)</script>')}

    html = render("@alice", resolve_mentions=resolver).html
    assert_harmless(html)
    assert "<script" not in html


# --- Quotes -------------------------------------------------------------------------------------------


def test_quote_of_a_known_post() -> None:
    posts = Posts(post_123=(7, "alice"))
    rendered = render("[quote=post:123]\nWell *said*.\n[/quote]\n\nI agree.", quote_resolver=posts)
    assert rendered.html == (
        '<blockquote class="quote" data-post-id="123" data-user-id="7">\n'
        '<p class="quote-source"><a href="/t/1/#post-123" rel="nofollow ugc noopener">alice</a></p>\n'
        "<p>Well <em>said</em>.</p>\n"
        "</blockquote>\n"
        "<p>I agree.</p>\n"
    )
    assert rendered.quoted == (QuoteRef(post_id=123, author_id=7),)
    assert posts.calls == [[123]]


def test_unknown_post_renders_an_ordinary_blockquote() -> None:
    rendered = render("[quote=post:404]\ngone\n[/quote]", quote_resolver=Posts())
    assert rendered.html == "<blockquote>\n<p>gone</p>\n</blockquote>\n"
    assert rendered.quoted == ()


def test_without_a_quote_resolver_quotes_are_plain_blockquotes() -> None:
    assert render("[quote=post:1]\nx\n[/quote]").html == "<blockquote>\n<p>x</p>\n</blockquote>\n"


def test_nested_and_repeated_quotes_resolve_in_one_call() -> None:
    posts = Posts(post_1=(10, "alice"), post_2=(20, "bob"))
    source = (
        "[quote=post:2]\n[quote=post:1]\ninner\n[/quote]\nouter\n[/quote]\n\n[quote=post:1]\nagain\n[/quote]"
    )
    rendered = render(source, quote_resolver=posts)
    assert posts.calls == [[2, 1]]
    assert rendered.quoted == (QuoteRef(2, 20), QuoteRef(1, 10))
    assert rendered.html.count('<blockquote class="quote"') == 3
    assert rendered.html.count("</blockquote>") == 3


def test_unclosed_quote_is_text() -> None:
    posts = Posts(post_1=(1, "alice"))
    rendered = render("[quote=post:1]\nno end", quote_resolver=posts)
    assert rendered.html == "<p>[quote=post:1]\nno end</p>\n"
    assert rendered.quoted == ()


def test_quote_marker_in_code_is_code() -> None:
    html = render("```\n[quote=post:1]\nx\n[/quote]\n```", quote_resolver=Posts(post_1=(1, "a"))).html
    assert "<blockquote" not in html


def test_quote_inside_a_list_item() -> None:
    rendered = render("- [quote=post:5]\n  q\n  [/quote]\n- two", quote_resolver=Posts(post_5=(3, "c")))
    assert rendered.quoted == (QuoteRef(5, 3),)
    assert tags(rendered.html)[:3] == ["ul", "li", "blockquote"]


def test_quoting_a_post_leaves_out_the_quotes_it_holds() -> None:
    source = (
        "Hello\n\n[quote=post:3]\nold\n[quote=post:2]\nolder\n[/quote]\n[/quote]\n\n\n"
        "My **answer**\n\n```\n[quote=post:9]\nin code\n[/quote]\n```\n- item\n\n  [quote=post:4]\n"
        "  listed\n  [/quote]\n\n[quote=post:5]\nunclosed"
    )
    assert quote_markup(7, source) == (
        "[quote=post:7]\nHello\n\nMy **answer**\n\n```\n[quote=post:9]\nin code\n[/quote]\n```\n"
        "- item\n\n  [quote=post:4]\n  listed\n  [/quote]\n\n\\[quote=post:5]\nunclosed\n[/quote]\n"
    )
    # A stray marker stays text, and the quote around it ends where it should.
    assert quote_markup(2, "a\n[/quote]\nb") == "[quote=post:2]\na\n\\[/quote]\nb\n[/quote]\n"
    stray = render(quote_markup(2, "a\n[/quote]\nb"), quote_resolver=Posts(post_2=(1, "a"))).html
    assert stray.count("<blockquote") == 1 and stray.endswith("<p>a\n[/quote]\nb</p>\n</blockquote>\n")
    # What it gives renders as one quote of that post, with the words of the post.
    rendered = render(quote_markup(7, "Just *this*\r\n\r\nand that"), quote_resolver=Posts(post_7=(1, "a")))
    assert rendered.quoted == (QuoteRef(7, 1),)
    assert "<p>Just <em>this</em></p>\n<p>and that</p>\n</blockquote>" in rendered.html


def test_mentions_inside_a_quote_are_linked_but_notify_nobody() -> None:
    rendered = render(
        "[quote=post:1]\nask @bob\n[/quote]\n\n@carol, see above",
        resolve_mentions=Members("bob", "carol"),
        quote_resolver=Posts(post_1=(9, "alice")),
    )
    assert rendered.html.count('class="mention"') == 2
    assert rendered.mentioned_user_ids == (2,)


def test_many_unclosed_quotes_stay_fast() -> None:
    source = "[quote=post:1]\n" * 20_000
    started = time.perf_counter()
    rendered = render(source, max_length=len(source), quote_resolver=Posts(post_1=(1, "a")))
    assert time.perf_counter() - started < 5
    assert rendered.quoted == ()


# --- Length -------------------------------------------------------------------------------------------


def test_too_long_text_is_refused_clearly() -> None:
    render("x" * 100, max_length=100)
    with pytest.raises(MarkupTooLong) as caught:
        render("x" * 101, max_length=100)
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.status == 400
    assert caught.value.code == "too_long"
    assert "101" in caught.value.message and "100" in caught.value.message


def test_default_limit_is_fifty_thousand() -> None:
    render("x" * 50_000)
    with pytest.raises(MarkupTooLong):
        render("x" * 50_001)


# --- Plain text ---------------------------------------------------------------------------------------


def test_text_is_plain_and_keeps_words() -> None:
    rendered = render(
        "# Title\n\nSome *em* and `code` with a [link](https://example.com).\nNext line.\n\n"
        "- one\n- two\n\n```\nx = 1\n```\n\n![a cat](/media/cat.png) @alice & <b>",
        resolve_mentions=Members("alice"),
    )
    assert rendered.text == (
        "Title\nSome em and code with a link. Next line.\none\ntwo\nx = 1\na cat @alice & <b>"
    )


def test_text_leaves_out_resolved_quotes() -> None:
    source = "[quote=post:1]\ntheir words\n[/quote]\nmy words"
    assert render(source, quote_resolver=Posts(post_1=(1, "a"))).text == "my words"
    assert render(source, quote_resolver=Posts()).text == "their words\nmy words"


def test_empty_source() -> None:
    assert render("") == Rendered(html="", mentioned_user_ids=(), quoted=(), text="")

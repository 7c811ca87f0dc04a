"""The one Markdown renderer and sanitizer of the forum: what members write in posts and dialog messages.

``render(source, ...)`` turns a member's Markdown into HTML that is safe to store and show as is, plus
what the caller needs besides: the members it mentions, the posts it quotes, and a plain-text version
for the search index and notification snippets. The HTML is rendered once, when a post is written,
and stored with it; reading never renders Markdown.

The kernel knows no app, so names and post ids are resolved by callables the caller passes in; each
is called at most once per render, with every name (or id) found, so a render costs at most one query
per resolver. The syntax members can use, and what is stripped and why, is in ``docs/markup.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import nh3
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from forum.errors import ValidationFailed

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "MarkupTooLong",
    "MentionResolver",
    "MentionTarget",
    "QuoteRef",
    "QuoteResolver",
    "QuoteTarget",
    "Rendered",
    "quote_markup",
    "render",
    "sanitize",
]

DEFAULT_MAX_LENGTH = 50_000
# A name resolver gets at most this many distinct names; later ones stay plain text. More mentions
# than this in one post is a mass ping, not a conversation, and it keeps the resolver's IN list short.
MAX_MENTIONS = 50
# At most this many `[quote=post:N]` lines are tried as quotes, later ones stay text. Finding a quote's
# end scans forward, so without a bound a post of thousands of unclosed quote lines costs quadratic time.
MAX_QUOTES = 20


# --- Data ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MentionTarget:
    """A member a mention resolves to."""

    user_id: int
    profile_url: str


@dataclass(frozen=True)
class QuoteTarget:
    """A post a quote resolves to: who wrote it, and where it is."""

    author_id: int
    author_name: str
    url: str


@dataclass(frozen=True)
class QuoteRef:
    """A post the text quotes, and the author of that post (to tell them they were quoted)."""

    post_id: int
    author_id: int


@dataclass(frozen=True)
class Rendered:
    html: str
    # Members mentioned outside quotes, in order of first mention, each once. A mention inside a quote
    # is shown as a link but notifies nobody: the quoted post already did.
    mentioned_user_ids: tuple[int, ...]
    # Posts quoted and known to the quote resolver, in order of first quote, each once.
    quoted: tuple[QuoteRef, ...]
    # Plain text, not escaped: for the search index and notification snippets.
    text: str


# Gets lowercase usernames, answers with the ones it knows (keys as given); one call per render.
MentionResolver = Callable[[Sequence[str]], Mapping[str, MentionTarget]]
# Gets post ids, answers with the posts the author may quote; one call per render.
QuoteResolver = Callable[[Sequence[int]], Mapping[int, QuoteTarget]]


class MarkupTooLong(ValidationFailed):
    code = "too_long"


# --- Rendering ----------------------------------------------------------------------------------------


def render(
    source: str,
    *,
    resolve_mentions: MentionResolver | None = None,
    quote_resolver: QuoteResolver | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> Rendered:
    """Render a member's Markdown to sanitized HTML, with its mentions, quotes and plain text.

    Raises ``MarkupTooLong`` when ``source`` has more than ``max_length`` characters.
    """
    if len(source) > max_length:
        raise MarkupTooLong(
            _("The text is too long: %(length)s characters, at most %(limit)s are allowed.")
            % {"length": len(source), "limit": max_length}
        )
    env: dict[str, Any] = {"resolve_mentions": resolve_mentions, "quote_resolver": quote_resolver}
    tokens = _markdown.parse(source, env)
    html = sanitize(_markdown.renderer.render(tokens, _markdown.options, env))
    return Rendered(
        html=html,
        mentioned_user_ids=tuple(env["mentioned_user_ids"]),
        quoted=tuple(env["quoted"]),
        text=_plain_text(tokens),
    )


def sanitize(html: str) -> str:
    """Reduce HTML to the allow-list ``render`` produces (tags, attributes, classes, URL schemes).

    ``render`` applies it to its own output as a second line of defence; markdown-it with HTML off
    should never produce anything it removes.
    """
    return _cleaner.clean(html)


# --- Link policy --------------------------------------------------------------------------------------

_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
# What browsers ignore inside a scheme ("java\tscript:" is "javascript:" to them).
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]")


def _link_allowed(url: str) -> bool:
    # Allow-list rather than markdown-it's deny-list (javascript:, vbscript:, file:, data:): a scheme
    # nobody thought of is refused too. A colon before the first "/", "?" or "#" makes the part before
    # it a scheme to somebody, so it must be an allowed one, percent-decoded ("java%09script:"); no
    # colon there is a relative link, which is fine.
    head = re.split(r"[/?#]", _IGNORED_IN_URL.sub("", unquote(url)), maxsplit=1)[0]
    return ":" not in head or head.split(":", 1)[0].lower() in _ALLOWED_SCHEMES


def _same_origin_path(url: str) -> bool:
    # A page never fetches from another origin, so only an absolute path on this site may be an <img>
    # source: "//host" and "/\host" are other origins to a browser, and a path without a leading "/"
    # may carry a scheme in some disguise.
    return url.startswith("/") and not url.startswith(("//", "/\\")) and _link_allowed(url)


class _ForumMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return _link_allowed(url)


# --- Quotes: [quote=post:123] ... [/quote] ------------------------------------------------------------

_QUOTE_OPEN = re.compile(r"\[quote=post:(\d{1,18})\][ \t]*$", re.IGNORECASE)
_QUOTE_CLOSE = re.compile(r"\[/quote\][ \t]*$", re.IGNORECASE)


def _line(state: StateBlock, line: int) -> str:
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def _quote_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.is_code_block(start_line):
        return False
    opening = _QUOTE_OPEN.match(_line(state, start_line))
    if opening is None:
        return False
    tries = state.env.setdefault("quote_tries", 0)
    if tries >= MAX_QUOTES:
        return False
    if silent:
        return True
    state.env["quote_tries"] = tries + 1
    # The closing line, counting nested quotes. A quote that is never closed is not a quote: its
    # lines stay text, so a stray "[quote=post:1]" cannot swallow the rest of the post.
    depth = 1
    close_line = start_line + 1
    while close_line < end_line:
        text = _line(state, close_line)
        if text and state.sCount[close_line] < state.blkIndent:
            return False  # the enclosing list item or blockquote ended first
        if state.sCount[close_line] - state.blkIndent < 4:
            if _QUOTE_OPEN.match(text):
                depth += 1
            elif _QUOTE_CLOSE.match(text):
                depth -= 1
                if depth == 0:
                    break
        close_line += 1
    else:
        return False

    old_parent, old_line_max = state.parentType, state.lineMax
    state.parentType = "blockquote"
    state.lineMax = close_line
    token = state.push("quote_open", "blockquote", 1)
    token.block = True
    token.markup = "[quote]"
    token.map = [start_line, close_line + 1]
    token.meta = {"post_id": int(opening.group(1))}
    state.md.block.tokenize(state, start_line + 1, close_line)
    token = state.push("quote_close", "blockquote", -1)
    token.block = True
    token.markup = "[/quote]"
    state.parentType, state.lineMax = old_parent, old_line_max
    state.line = close_line + 1
    return True


def _resolve_quotes(state: StateCore) -> None:
    resolver: QuoteResolver | None = state.env.get("quote_resolver")
    openings = [token for token in state.tokens if token.type == "quote_open"]
    post_ids = list(dict.fromkeys(token.meta["post_id"] for token in openings))
    targets = resolver(post_ids) if resolver is not None and post_ids else {}
    quoted: dict[int, QuoteRef] = {}
    stack: list[bool] = []
    for token in state.tokens:
        if token.type == "quote_open":
            target = targets.get(token.meta["post_id"])
            stack.append(target is not None)
            if target is None:
                token.type = "blockquote_open"  # an unknown post: an ordinary blockquote
                token.meta = {}
                continue
            token.meta["target"] = target
            quoted.setdefault(token.meta["post_id"], QuoteRef(token.meta["post_id"], target.author_id))
        elif token.type == "quote_close" and not stack.pop():
            token.type = "blockquote_close"
    state.env["quoted"] = list(quoted.values())


def _render_quote_open(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    target: QuoteTarget = token.meta["target"]
    # The source line names the author and links the post; the words around it ("wrote:") come from
    # the stylesheet, since stored HTML cannot follow the reader's language.
    return (
        f'<blockquote class="quote" data-post-id="{token.meta["post_id"]}" data-user-id="{target.author_id}">'
        f'\n<p class="quote-source"><a href="{escapeHtml(target.url)}">{escapeHtml(target.author_name)}</a>'
        "</p>\n"
    )


def quote_markup(post_id: int, source: str) -> str:
    """The text that quotes post ``post_id``, whose source is ``source``, for a reply: its words
    between ``[quote=post:N]`` and ``[/quote]``, without the quotes it holds itself (each reply to a
    reply would otherwise carry every quote before it). The quotes and code are found by the parser:
    a marker inside code stays as written, and a stray one (a quote never closed, a lone
    ``[/quote]``), which would pair with the quote around it, is escaped to stay text."""
    tokens = _markdown.parse(source, {"resolve_mentions": None, "quote_resolver": None})
    dropped: set[int] = set()
    as_written: set[int] = set()
    for token in tokens:
        if not token.map:
            continue
        # Unresolved (no resolver here), a quote is a blockquote that keeps its own markup.
        if token.markup == "[quote]" and token.nesting == 1:
            if token.level == 0:
                dropped.update(range(*token.map))
            else:  # inside a list item, say: kept whole, its markers with it
                as_written.update((token.map[0], token.map[1] - 1))
        elif token.type in ("fence", "code_block"):
            as_written.update(range(*token.map))
    lines = []
    for number, line in enumerate(source.splitlines()):
        if number in dropped:
            continue
        bare = line.lstrip()
        if number not in as_written and (_QUOTE_OPEN.match(bare) or _QUOTE_CLOSE.match(bare)):
            line = line.replace("[", "\\[", 1)
        lines.append(line)
    body = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return f"[quote=post:{post_id}]\n{body}\n[/quote]\n"


_BLANK_LINES = re.compile(r"\n{3,}")


def _render_quote_close(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    return "</blockquote>\n"


# --- Mentions: @username ------------------------------------------------------------------------------

# Usernames are letters and digits of any script, "_", "." and "-" (apps.authentication). The "@" must
# not follow a name character ("bob@example.com" is an address) and the name must not run into another
# "@"; trailing dots and hyphens are the sentence's punctuation ("thanks @alice.").
_MENTION = re.compile(r"(?<![\w.\-@])@([\w.\-]+)")
_MENTION_MAX_NAME = 30


def _mentions_in(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _MENTION.finditer(text):
        name = match.group(1).rstrip(".-")
        end = match.start(1) + len(name)
        if not name or len(name) > _MENTION_MAX_NAME or text.startswith("@", match.end()):
            continue
        found.append((match.start(), end, name))
    return found


def _mention_candidates(tokens: list[Token]) -> list[tuple[Token, bool]]:
    """The inline tokens' text tokens outside links, each with whether it sits in a resolved quote."""
    candidates: list[tuple[Token, bool]] = []
    quote_depth = 0
    for token in tokens:
        if token.type == "quote_open" and "target" in token.meta:
            quote_depth += 1
        elif token.type == "quote_close":
            quote_depth -= 1
        elif token.type == "inline" and token.children:
            link_depth = 0
            for child in token.children:
                # Autolinks and linkified URLs are links too; code spans are their own token type.
                if child.type == "link_open":
                    link_depth += 1
                elif child.type == "link_close":
                    link_depth -= 1
                elif child.type == "text" and link_depth == 0 and "@" in child.content:
                    candidates.append((child, quote_depth > 0))
    return candidates


def _resolve_mentions(state: StateCore) -> None:
    state.env["mentioned_user_ids"] = []
    resolver: MentionResolver | None = state.env.get("resolve_mentions")
    if resolver is None:
        return
    candidates = _mention_candidates(state.tokens)
    names: dict[str, None] = {}
    for token, _in_quote in candidates:
        for _start, _end, name in _mentions_in(token.content):
            if len(names) >= MAX_MENTIONS:
                break
            names.setdefault(name.lower())
    if not names:
        return
    targets = resolver(list(names))
    mentioned: dict[int, None] = {}
    replaced: dict[int, list[Token]] = {}
    for token, in_quote in candidates:
        pieces: list[Token] = []
        position = 0
        for start, end, name in _mentions_in(token.content):
            target = targets.get(name.lower()) if name.lower() in names else None
            if target is None:
                continue
            if start > position:
                pieces.append(_text_token(token.content[position:start]))
            mention = Token("mention", "a", 0, content="@" + name, meta={"target": target})
            pieces.append(mention)
            position = end
            if not in_quote:
                mentioned.setdefault(target.user_id)
        if pieces:
            if position < len(token.content):
                pieces.append(_text_token(token.content[position:]))
            replaced[id(token)] = pieces
    if replaced:
        for block in state.tokens:
            if block.type == "inline" and block.children:
                block.children = [
                    piece for child in block.children for piece in replaced.get(id(child), [child])
                ]
    state.env["mentioned_user_ids"] = list(mentioned)


def _text_token(content: str) -> Token:
    return Token("text", "", 0, content=content)


def _render_mention(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    target: MentionTarget = token.meta["target"]
    return (
        f'<a class="mention" href="{escapeHtml(target.profile_url)}" data-user-id="{target.user_id}">'
        f"{escapeHtml(token.content)}</a>"
    )


# --- Headings and images ------------------------------------------------------------------------------


def _lower_headings(state: StateCore) -> None:
    # The page has the h1 (the thread's title) and h2s of its own; a post's "# Title" becomes an h3.
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"


def _render_image(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    src = str(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    if _same_origin_path(src):
        title = token.attrGet("title")
        title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
        return f'<img src="{escapeHtml(src)}" alt="{escapeHtml(alt)}"{title_attr}>'
    # An image from another origin is shown as a link to it: the page loads nothing from elsewhere
    # (no tracking pixels, no mixed content, no Referer leaks to whoever hosts the picture).
    return f'<a href="{escapeHtml(src)}">{escapeHtml(alt or src)}</a>'


# --- Plain text ---------------------------------------------------------------------------------------

_BLOCK_ENDS = frozenset(
    {"paragraph_close", "heading_close", "list_item_close", "tr_close", "blockquote_close", "quote_close"}
)


def _inline_text(children: Sequence[Token]) -> str:
    parts = []
    for child in children:
        if child.type in ("text", "code_inline", "mention"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child.children or []))
    return "".join(parts)


def _plain_text(tokens: Sequence[Token]) -> str:
    parts: list[str] = []
    skip_depth = 0
    for token in tokens:
        # A resolved quote's words belong to the quoted post: indexed there, and no snippet material.
        if token.type == "quote_open":
            skip_depth += 1
        elif token.type == "quote_close":
            skip_depth -= 1
        if skip_depth:
            continue
        if token.type == "inline":
            parts.append(_inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            parts.append(token.content + "\n")
        elif token.type in ("th_close", "td_close"):
            parts.append(" ")
        elif token.type in _BLOCK_ENDS or token.type == "hr":
            parts.append("\n")
    # One block a line: what a search index and a one-line snippet want.
    return "\n".join(line.strip() for line in "".join(parts).splitlines() if line.strip())


# --- The sanitizer ------------------------------------------------------------------------------------

_CLASSES = {"a": {"mention"}, "blockquote": {"quote"}, "p": {"quote-source"}}
_CODE_LANGUAGE = re.compile(r"language-[\w+#.\-]{1,40}")
_DIGITS = re.compile(r"\d{1,18}")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    # What markdown-it and this module produce, and nothing else, even if a bug upstream let more by.
    if attribute == "class":
        if tag == "code":
            return value if _CODE_LANGUAGE.fullmatch(value) else None
        return value if value in _CLASSES.get(tag, ()) else None
    if attribute.startswith("data-"):
        return value if _DIGITS.fullmatch(value) else None
    if tag == "img" and attribute == "src":
        return value if _same_origin_path(value) else None
    return value


# fmt: off
_TAGS = {
    "p", "br", "hr", "h3", "h4", "h5", "h6", "strong", "em", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}
# fmt: on
_TEXT_ALIGN = {"text-align:left", "text-align:center", "text-align:right"}

_cleaner = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={
        "a": {"href", "title", "class", "data-user-id"},
        "img": {"src", "alt", "title"},
        "ol": {"start"},
        "blockquote": {"class", "data-post-id", "data-user-id"},
        "p": {"class"},
        "code": {"class"},
    },
    # Table column alignment is the only style there is, and only these exact values of it.
    tag_attribute_values={"th": {"style": _TEXT_ALIGN}, "td": {"style": _TEXT_ALIGN}},
    attribute_filter=_attribute_filter,
    url_schemes=set(_ALLOWED_SCHEMES),
    link_rel="nofollow ugc noopener",
    strip_comments=True,
)


# --- The parser ---------------------------------------------------------------------------------------


def _build() -> MarkdownIt:
    # html=False: HTML in the source is shown as text, never as markup.
    md = _ForumMarkdown("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    # Only URLs with a scheme ("https://...") and addresses become links: fuzzy matching would make
    # "readme.md" a link to Moldova.
    assert md.linkify is not None  # linkify-it-py is a dependency
    md.linkify.set({"fuzzy_link": False})
    md.block.ruler.before(
        "fence", "forum_quote", _quote_block, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    # After linkify, so links found in bare text are links before mentions are looked for.
    md.core.ruler.push("forum_quotes", _resolve_quotes)
    md.core.ruler.push("forum_mentions", _resolve_mentions)
    md.core.ruler.push("forum_headings", _lower_headings)
    md.add_render_rule("quote_open", _render_quote_open)
    md.add_render_rule("quote_close", _render_quote_close)
    md.add_render_rule("mention", _render_mention)
    md.add_render_rule("image", _render_image)
    return md


_markdown = _build()

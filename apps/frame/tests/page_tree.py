"""A small element tree of a page for the frame tests: descendant selectors of tags, #ids, .classes
and [attribute="value"], each element's text and attributes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
)
_SIMPLE = re.compile(r'([a-z0-9]+)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:="([^"]*)")?\]')


class Element:
    def __init__(self, tag: str, attributes: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attributes, self.parent = tag, attributes, parent
        self.children: list[Element] = []
        self.parts: list[str | Element] = []

    def get(self, name: str) -> str | None:
        return self.attributes.get(name)

    def text(self) -> str:
        words: list[str] = []
        for part in self.parts:
            words.append(part if isinstance(part, str) else part.text())
        return " ".join(" ".join(words).split())

    def _descendants(self) -> list[Element]:
        found: list[Element] = []
        for child in self.children:
            found.append(child)
            found.extend(child._descendants())
        return found

    def _matches(self, simple: str) -> bool:
        for tag, ident, cls, attribute, value in _SIMPLE.findall(simple):
            if tag and self.tag != tag:
                return False
            if ident and self.attributes.get("id") != ident:
                return False
            if cls and cls not in self.attributes.get("class", "").split():
                return False
            if attribute and (
                attribute not in self.attributes or (value and self.attributes[attribute] != value)
            ):
                return False
        return True

    def find(self, selector: str) -> list[Element]:
        scope: list[Element] = [self]
        for simple in selector.split():
            matched: list[Element] = []
            for element in scope:
                matched.extend(node for node in element._descendants() if node._matches(simple))
            scope = list(dict.fromkeys(matched))
        return scope

    def find_one(self, selector: str) -> Element:
        found = self.find(selector)
        assert len(found) == 1, (selector, len(found))
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs}, self.current)
        self.current.children.append(element)
        self.current.parts.append(element)
        if tag not in VOID:
            self.current = element

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.parts.append(data)


def Page(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root

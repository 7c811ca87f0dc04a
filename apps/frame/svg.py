"""A strict allow-list sanitiser for the SVG images of frames: what comes out is a new document written
from the shapes, gradients and presentation attributes listed here, and nothing else.

Refused outright: anything that is not well-formed XML, a DOCTYPE or entity declaration (no entity
can expand: billion laughs, external entities), a root that is not ``<svg>``, more than
``MAX_ELEMENTS`` elements or ``MAX_DEPTH`` levels. Dropped with everything inside them: elements not
listed (``script``, ``foreignObject``, ``style``, ``image``, ``use``, ``a``, animations, filters,
fonts, text) and elements of any other namespace. Dropped: attributes not listed (every ``on*``
handler, ``style``, ``href`` and ``xlink:href``, ``class``), values that refer to anything but a
fragment of the same document (``url(#id)``), and processing instructions, comments and text.

Only the standard library's expat parser is used, with every entity handler refusing; nothing is
fetched, nothing is expanded, and the output is written from scratch (so no parser quirk survives).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

from django.utils.translation import gettext as _

from forum.errors import ValidationFailed

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
MAX_BYTES = 100 * 1024
MAX_ELEMENTS = 2000
MAX_DEPTH = 24

_SHAPE = frozenset({"path", "circle", "ellipse", "rect", "line", "polyline", "polygon"})
ALLOWED_ELEMENTS = frozenset(
    {"svg", "g", "defs", "linearGradient", "radialGradient", "stop", "clipPath", "mask", *_SHAPE}
)

_PRESENTATION = frozenset(
    {
        "fill",
        "fill-opacity",
        "fill-rule",
        "stroke",
        "stroke-width",
        "stroke-opacity",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-dasharray",
        "stroke-dashoffset",
        "opacity",
        "transform",
        "clip-path",
        "clip-rule",
        "mask",
        "id",
        "vector-effect",
        "shape-rendering",
    }
)
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "svg": frozenset({"viewBox", "width", "height", "preserveAspectRatio", *_PRESENTATION}),
    "g": _PRESENTATION,
    "defs": frozenset({"id"}),
    "path": frozenset({"d", "pathLength", *_PRESENTATION}),
    "circle": frozenset({"cx", "cy", "r", *_PRESENTATION}),
    "ellipse": frozenset({"cx", "cy", "rx", "ry", *_PRESENTATION}),
    "rect": frozenset({"x", "y", "width", "height", "rx", "ry", *_PRESENTATION}),
    "line": frozenset({"x1", "y1", "x2", "y2", *_PRESENTATION}),
    "polyline": frozenset({"points", *_PRESENTATION}),
    "polygon": frozenset({"points", *_PRESENTATION}),
    "linearGradient": frozenset(
        {"id", "x1", "y1", "x2", "y2", "gradientUnits", "gradientTransform", "spreadMethod"}
    ),
    "radialGradient": frozenset(
        {"id", "cx", "cy", "r", "fx", "fy", "fr", "gradientUnits", "gradientTransform", "spreadMethod"}
    ),
    "stop": frozenset({"offset", "stop-color", "stop-opacity"}),
    "clipPath": frozenset({"id", "clipPathUnits", "transform"}),
    "mask": frozenset({"id", "x", "y", "width", "height", "maskUnits", "maskContentUnits"}),
}

# A value may name a fragment of this document and nothing else; everything that could reach out or
# run (url(http...), javascript:, data:, expression(, @import, escapes) is refused by this shape.
_LOCAL_REFERENCE = re.compile(r"url\(\s*#[A-Za-z_][\w.-]{0,63}\s*\)")
_SAFE_VALUE = re.compile(r"[\w\s.,:;#%()+\-/]*")
_FORBIDDEN_WORDS = re.compile(r"javascript|vbscript|data\s*:|expression|import|\\|&", re.IGNORECASE)
_ID = re.compile(r"[A-Za-z_][\w.-]{0,63}")
_MAX_VALUE_LENGTH = 20_000


class _Refused(Exception):
    pass


@dataclass
class _Node:
    name: str
    attributes: dict[str, str]
    children: list[_Node] = field(default_factory=list)


def _refuse() -> ValidationFailed:
    message = _("This SVG image could not be read, or holds something a frame may not.")
    return ValidationFailed(message, code="svg_refused", fields={"image": [message]})


def _clean_value(name: str, value: str) -> str | None:
    value = " ".join(value.split())
    if len(value) > _MAX_VALUE_LENGTH or _FORBIDDEN_WORDS.search(value):
        return None
    if name == "id":
        return value if _ID.fullmatch(value) else None
    if "url(" in value.lower():
        # The whole value is one local reference (fill="url(#ring)"), or it is dropped.
        return value if _LOCAL_REFERENCE.fullmatch(value) else None
    return value if _SAFE_VALUE.fullmatch(value) else None


def _parse(data: bytes) -> _Node:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node | None] = []
    root: list[_Node] = []
    count = 0

    def refuse(*_args: object) -> None:
        raise _Refused

    def refuse_external(*_args: object) -> int:
        raise _Refused

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS or len(stack) >= MAX_DEPTH:
            raise _Refused
        namespace, _space, local = name.rpartition(" ")
        parent = stack[-1] if stack else None
        if not stack:
            if namespace != SVG_NAMESPACE or local != "svg":
                raise _Refused
        elif parent is None or namespace != SVG_NAMESPACE or local not in ALLOWED_ELEMENTS or local == "svg":
            stack.append(None)  # dropped, with all it holds
            return
        allowed = ALLOWED_ATTRIBUTES[local]
        kept: dict[str, str] = {}
        for attribute, value in attributes.items():
            if " " in attribute:  # a namespaced attribute (xlink:href, foreign ones): never kept
                continue
            if attribute in allowed:
                cleaned = _clean_value(attribute, value)
                if cleaned is not None:
                    kept[attribute] = cleaned
        node = _Node(local, kept)
        if parent is not None:
            parent.children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.NotationDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_external
    parser.SkippedEntityHandler = refuse
    try:
        parser.Parse(data, True)
    except (_Refused, expat.ExpatError, ValueError) as error:
        raise _refuse() from error
    if not root:
        raise _refuse()
    return root[0]


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _write(node: _Node, out: list[str]) -> None:
    attributes = "".join(f' {name}="{_escape(value)}"' for name, value in sorted(node.attributes.items()))
    if node.name == "svg":
        attributes = f' xmlns="{SVG_NAMESPACE}"' + attributes
    if not node.children:
        out.append(f"<{node.name}{attributes}/>")
        return
    out.append(f"<{node.name}{attributes}>")
    for child in node.children:
        _write(child, out)
    out.append(f"</{node.name}>")


def looks_like_svg(data: bytes) -> bool:
    """Whether an upload claims to be SVG (an XML document whose first element is ``<svg``)."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml"):
        head = head.split(b"?>", 1)[-1].lstrip()
    while head.startswith(b"<!--"):
        head = head.split(b"-->", 1)[-1].lstrip()
    return head.startswith((b"<svg", b"<!DOCTYPE svg", b"<!doctype svg"))


def sanitize_svg(data: bytes) -> bytes:
    """The SVG rebuilt from its allowed parts only; ``ValidationFailed`` (field ``image``) when it is
    too large, not well-formed, declares a DOCTYPE or entities, or has no ``<svg>`` root with a size."""
    if len(data) > MAX_BYTES:
        message = _("An SVG frame may be at most 100 KB.")
        raise ValidationFailed(message, code="file_too_large", status=413, fields={"image": [message]})
    root = _parse(data)
    if "viewBox" not in root.attributes and not {"width", "height"} <= root.attributes.keys():
        raise _refuse()
    out: list[str] = []
    _write(root, out)
    return "".join(out).encode("utf-8")

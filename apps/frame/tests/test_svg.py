"""The SVG sanitiser: only listed shapes and attributes come out; anything that could run, load or
expand is removed or refused."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from apps.frame.svg import looks_like_svg, sanitize_svg
from forum.errors import ValidationFailed

SVG = "http://www.w3.org/2000/svg"


def clean(source: str) -> str:
    return sanitize_svg(source.encode()).decode()


def test_shapes_and_local_gradients_are_kept_and_the_output_is_well_formed() -> None:
    out = clean(
        f'<svg xmlns="{SVG}" viewBox="0 0 100 100"><defs><linearGradient id="g1">'
        '<stop offset="0" stop-color="#fc0"/><stop offset="1" stop-color="red"/></linearGradient></defs>'
        '<circle cx="50" cy="50" r="45" fill="url(#g1)" stroke="rgb(10, 20, 30)"'
        ' transform="rotate(45 50 50)"/>'
        '<path d="M10 10 L90 90 z"/></svg>'
    )
    root = ElementTree.fromstring(out)  # noqa: S314 - the sanitiser's own output, no DOCTYPE possible
    assert root.tag == f"{{{SVG}}}svg" and root.get("viewBox") == "0 0 100 100"
    circle = root.find(f"{{{SVG}}}circle")
    assert (
        circle is not None
        and circle.get("fill") == "url(#g1)"
        and circle.get("transform") == "rotate(45 50 50)"
    )
    assert [stop.get("stop-color") for stop in root.iter(f"{{{SVG}}}stop")] == ["#fc0", "red"]
    assert root.find(f"{{{SVG}}}path") is not None


@pytest.mark.parametrize(
    "inside",
    [
        "<script>alert(1)</script>",
        '<script xlink:href="https://evil.example/x.js" xmlns:xlink="http://www.w3.org/1999/xlink"/>',
        '<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<img src="x" onerror="alert(1)"/></div></foreignObject>',
        '<image href="https://evil.example/track.png" width="10" height="10"/>',
        '<use href="https://evil.example/sprite.svg#a"/>',
        '<a href="javascript:alert(1)"><circle r="5"/></a>',
        "<style>circle { fill: url(https://evil.example/x) }</style>",
        '<animate attributeName="href" to="javascript:alert(1)"/>',
        '<set attributeName="onmouseover" to="alert(1)"/>',
        '<iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example"/>',
    ],
)
def test_elements_that_run_or_load_are_dropped_with_what_they_hold(inside: str) -> None:
    out = clean(f'<svg xmlns="{SVG}" viewBox="0 0 10 10">{inside}<rect width="10" height="10"/></svg>')
    lowered = out.lower()
    for word in (
        "script",
        "foreignobject",
        "image",
        "use",
        "href",
        "style",
        "animate",
        "set ",
        "iframe",
        "evil",
        "alert",
    ):
        assert word not in lowered, (word, out)
    assert "<rect" in out


def test_handlers_styles_and_references_outside_the_document_are_dropped() -> None:
    out = clean(
        f'<svg xmlns="{SVG}" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"'
        ' onload="alert(1)">'
        '<circle r="4" onclick="alert(2)" style="fill:red" class="x" fill="url(https://evil.example/#a)"'
        ' stroke="javascript:alert(3)" xlink:href="#b" mask="url(data:image/svg+xml;base64,AAAA)"'
        ' clip-path="url(#ok)" id="ring"/></svg>'
    )
    for word in ("onload", "onclick", "style", "class", "evil", "javascript", "href", "data:", "alert"):
        assert word not in out, (word, out)
    assert 'clip-path="url(#ok)"' in out and 'id="ring"' in out and 'r="4"' in out


@pytest.mark.parametrize(
    "source",
    [
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        f'<svg xmlns="{SVG}" viewBox="0 0 1 1"><desc>&b;</desc></svg>',
        f'<!DOCTYPE svg SYSTEM "file:///etc/passwd"><svg xmlns="{SVG}" viewBox="0 0 1 1"/>',
        f'<svg xmlns="{SVG}" viewBox="0 0 1 1"><circle r="1">',  # not well-formed
        '<svg viewBox="0 0 1 1"><circle r="1"/></svg>',  # not in the SVG namespace
        f'<html xmlns="{SVG}"><svg viewBox="0 0 1 1"/></html>',  # not an svg root
        f'<svg xmlns="{SVG}"><circle r="1"/></svg>',  # no size at all
        f'<svg xmlns="{SVG}" viewBox="0 0 1 1">' + "<g>" * 40 + "</g>" * 40 + "</svg>",  # too deep
        f'<svg xmlns="{SVG}" viewBox="0 0 1 1">' + '<circle r="1"/>' * 2100 + "</svg>",  # too many
    ],
)
def test_what_cannot_be_read_safely_is_refused_on_the_image_field(source: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        clean(source)
    assert "image" in refused.value.fields


def test_a_large_svg_is_refused_as_too_large() -> None:
    with pytest.raises(ValidationFailed) as refused:
        sanitize_svg(
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">' + b" " * 200_000 + b"</svg>"
        )
    assert refused.value.status == 413


def test_svg_is_told_from_other_uploads() -> None:
    assert looks_like_svg(b'<?xml version="1.0"?>\n<!-- made by hand -->\n<svg xmlns="x"/>')
    assert looks_like_svg(b"\xef\xbb\xbf<svg/>")
    assert not looks_like_svg(b"\x89PNG\r\n\x1a\n....")
    assert not looks_like_svg(b"<html><svg/></html>")

"""QR codes (forum.qr): an SVG that stands alone, named for screen readers, no markup from input."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest
import segno

from forum.qr import qr_svg

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - segno's own output, no DOCTYPE possible


def test_label_names_the_image_and_is_escaped() -> None:
    svg = qr_svg("bitcoin:bc1qexample?amount=0.0005", css_class="checkout-qr__code", label='Pay <b>"1"</b>')

    root = _parsed(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == 'Pay <b>"1"</b>'
    assert root.get("class") == "checkout-qr__code"
    assert root.find(f"{SVG}title") is None
    assert "<b>" not in svg


def test_title_names_the_image_as_its_title_element() -> None:
    svg = qr_svg("otpauth://totp/Forum:ann?secret=ABC", css_class="two-factor-qr", title="Scan <me>")

    root = _parsed(svg)
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "Scan <me>"
    assert root.get("role") is None and root.get("class") == "two-factor-qr"
    assert "<me>" not in svg and "<script" not in svg and "href" not in svg


def test_the_code_carries_the_data_with_a_quiet_zone() -> None:
    data = "bitcoin:bc1qexample?amount=0.0005"
    svg = qr_svg(data, css_class="x", label="QR")

    # Four pixels a module, four modules of quiet zone around the symbol segno makes at level M.
    modules = segno.make(data, error="m").symbol_size(scale=1, border=4)[0]
    root = _parsed(svg)
    assert root.get("width") == root.get("height") == str(modules * 4)
    assert svg != qr_svg(data + "1", css_class="x", label="QR")


def test_a_code_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError):
        qr_svg("data", css_class="x")

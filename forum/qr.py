"""QR codes as inline SVG made here (segno): no external image, no markup from input."""

from __future__ import annotations

import io

import segno
from django.utils.html import escape


def qr_svg(data: str, *, css_class: str, label: str | None = None, title: str | None = None) -> str:
    """A QR code of ``data`` as an SVG element with its namespace, so it stands alone as an SVG file
    and may be put straight into a page.

    It is named for screen readers by ``label`` (``role="img"`` and an escaped ``aria-label``) or by
    ``title`` (a ``<title>`` child, escaped by segno), or both; the rest is segno's paths and numbers.
    """
    if label is None and title is None:
        raise ValueError("a QR code needs a name: label or title")
    code = segno.make(data, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=4,
        border=4,
        dark="#000",
        light="#fff",
        title=title,
        svgclass=css_class,
        lineclass=None,
    )
    svg = out.getvalue().decode()
    if label is not None:
        svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return svg

"""What the browser tests check on any page: no horizontal scrolling, no serious accessibility
violation (axe-core), and screenshots kept for a person to look at.

axe-core is vendored, unmodified, in ``forum/testing/vendor/axe-core/`` (see the README there): CI needs
neither Node.js nor a registry. It is evaluated into the page through the DevTools protocol, which the
pages' Content-Security-Policy does not govern (an injected <script> element would be refused).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

AXE_SCRIPT = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what the forum promises (docs/pages.md).
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


@cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def overflow(page: Page) -> dict[str, Any] | None:
    """None when the page does not scroll sideways; else its width, the window's and the elements that
    stick out furthest (to name in a failure)."""
    found: dict[str, Any] = page.evaluate(
        """() => {
          const width = window.innerWidth;
          const scroll = document.documentElement.scrollWidth;
          const culprits = [];
          if (scroll > width) {
            for (const element of document.body.querySelectorAll("*")) {
              const box = element.getBoundingClientRect();
              if (box.right > width + 1 && box.width > 0) {
                const name = element.tagName.toLowerCase()
                  + (element.id ? "#" + element.id : "")
                  + (typeof element.className === "string" && element.className
                     ? "." + element.className.trim().split(/\\s+/).join(".") : "");
                culprits.push({element: name, right: Math.round(box.right)});
              }
            }
          }
          culprits.sort((a, b) => b.right - a.right);
          return {scroll_width: scroll, window_width: width, culprits: culprits.slice(0, 8)};
        }"""
    )
    return found if found["scroll_width"] > found["window_width"] else None


def axe_violations(page: Page, *, rules: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of WCAG 2.1 A and AA on the page as it is (only
    ``rules`` when given), each with its rule, impact, help text and the elements' selectors."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": list(rules)}
    else:
        options["runOnly"] = {"type": "tag", "values": list(AXE_TAGS)}
    results: dict[str, Any] = page.evaluate("options => window.axe.run(document, options)", options)
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [
                {"target": node["target"], "summary": node.get("failureSummary", "")}
                for node in violation["nodes"][:5]
            ],
        }
        for violation in results["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def artifacts_dir() -> Path:
    """Where the browser tests leave what a person should look at: $FORUM_TEST_ARTIFACTS, else
    ``.artifacts/`` at the repository's root (git-ignored)."""
    folder = Path(os.environ.get("FORUM_TEST_ARTIFACTS") or Path(settings.BASE_DIR) / ".artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """A PNG of the page in the artefacts folder, named ``name`` (its path is printed): the whole page,
    or with ``full_page=False`` the window as the reader sees it now."""
    path = artifacts_dir() / (re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") + ".png")
    if not full_page:
        page.screenshot(path=str(path))
    else:
        # A window as tall as the page: sticky parts are drawn where they sit, not at the window's edge.
        window = page.viewport_size or PHONE
        height = int(page.evaluate("() => document.documentElement.scrollHeight"))
        page.set_viewport_size({"width": window["width"], "height": max(height, window["height"])})
        try:
            page.screenshot(path=str(path), full_page=True)
        finally:
            page.set_viewport_size(window)
    print(f"screenshot: {path}")  # the path is what a reviewer opens
    return path

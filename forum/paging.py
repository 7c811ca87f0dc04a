"""Numbered pages of a list, for every app: the page a request asks for, the page that exists, and a
page of items with what its links need.

Pages (HTML) are forgiving: a ``?page=`` that is not a number reads as the first page and one past the
end as the last (``page_number``, ``page_in_range``). The API is exact: a page number that is not a
whole number from 1 to PAGE_NUMBER_MAX is a 400 naming the field (``api_page_number``), and a page past
the end is an empty page that still tells the total (``page_as_asked``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from django.utils.translation import gettext as _

from forum.errors import ValidationFailed

__all__ = ["PAGE_NUMBER_MAX", "Page", "api_page_number", "page_as_asked", "page_in_range", "page_number"]

T = TypeVar("T")

# A page number past this is read as this one (and then as the last page there is); the API refuses it.
PAGE_NUMBER_MAX = 1_000_000
PAGE_FIELD = "page"
_DIGITS = re.compile(r"[0-9]{1,16}")


def page_number(raw: object) -> int:
    """The ``page`` a query string asks for: 1 when missing, not a number or below 1; never an error."""
    try:
        return max(1, min(int(str(raw if raw is not None else "1")), PAGE_NUMBER_MAX))
    except ValueError:
        return 1


def api_page_number(raw: str | None) -> int:
    """The ``page`` an API call asks for: 1 when missing; ``ValidationFailed`` (400, naming the field
    ``page``) for anything but a whole number from 1 to PAGE_NUMBER_MAX, so that a client's mistake
    is not silently answered with the first page."""
    if raw is None:
        return 1
    number = int(raw) if _DIGITS.fullmatch(raw) else 0
    if not 1 <= number <= PAGE_NUMBER_MAX:
        message = _("A page number is a whole number from 1 to %(max)d.") % {"max": PAGE_NUMBER_MAX}
        raise ValidationFailed(message, fields={PAGE_FIELD: [message]})
    return number


def page_in_range(page: int, total: int, per_page: int) -> int:
    """``page`` moved into the pages ``total`` items make (there is always a first page)."""
    return min(max(1, page), max(1, math.ceil(total / per_page)))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_as_asked(page: Page[T], asked: int) -> Page[T]:
    """The API's answer for page ``asked`` of a list whose reader moved it into range (``page``): an
    empty page numbered as asked, with the list's total, when it is past the end; ``page`` otherwise."""
    if asked <= page.number:
        return page
    return replace(page, items=(), number=asked)

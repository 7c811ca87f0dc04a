"""Numbered pages of a list, for every app: the page a request asks for, the page that exists, and a
page of items with what its links need."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["PAGE_NUMBER_MAX", "Page", "page_in_range", "page_number"]

T = TypeVar("T")

# A page number past this is read as this one (and then as the last page there is).
PAGE_NUMBER_MAX = 1_000_000


def page_number(raw: object) -> int:
    """The ``page`` a query string asks for: 1 when missing, not a number or below 1; never an error."""
    try:
        return max(1, min(int(str(raw if raw is not None else "1")), PAGE_NUMBER_MAX))
    except ValueError:
        return 1


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

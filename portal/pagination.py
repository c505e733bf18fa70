"""Page-number pagination shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from portal.extensions import db

MAX_PER_PAGE = 100
MAX_PAGE = 100_000  # past any real list; keeps OFFSET inside a bigint (page=9223372036854775807 was a 500)


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def clamp(page: Any, per_page: Any, default_per_page: int = 25) -> tuple[int, int]:
    """Turn request values into a sane (page, per_page), never raising on junk."""
    try:
        page = min(MAX_PAGE, max(1, int(page)))
    except (TypeError, ValueError, OverflowError):
        page = 1
    try:
        per_page = min(MAX_PER_PAGE, max(1, int(per_page)))
    except (TypeError, ValueError):
        per_page = default_per_page
    return page, per_page


def paginate(query: Select, page: int, per_page: int) -> Page:
    """Run query for one page and count the total (a page that is not full tells it without a count)."""
    page = min(max(1, page), MAX_PAGE)
    offset = (page - 1) * per_page
    items = list(db.session.scalars(query.limit(per_page).offset(offset)).unique())
    # Most lists are short: their one page ends before per_page, so the rows before it and on it are all of them.
    # A full page, or an empty one past the first (the list may have shrunk under a bookmark), needs the count.
    if len(items) < per_page and (items or page == 1):
        return Page(items, page, per_page, offset + len(items))
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return Page(items, page, per_page, total)

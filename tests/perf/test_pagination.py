"""A page of a list knows its total: from its own rows when the page is not full, from a count otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.pagination import paginate
from tests.factories import UserFactory


@pytest.fixture
def seven_users(app):
    for i in range(7):
        UserFactory(email=f"u{i}@example.test")
    return select(User).order_by(User.email)


@pytest.mark.parametrize(("page", "per_page", "shown", "statements_sent"), [
    (1, 10, 7, 1),  # one short page: its rows are the whole list, no count
    (2, 5, 2, 1),   # the last page, not full: 5 before it + 2 on it
    (1, 5, 5, 2),   # a full page: more may follow, so it counts
    (1, 7, 7, 2),   # exactly full: only a count can tell there is no page 2
    (3, 5, 0, 2),   # past the end (a bookmark to a list that shrank): counts, so the pager shows where it ends
])
def test_the_total_is_right_with_or_without_a_count(seven_users, statements, page, per_page, shown, statements_sent):
    with statements.recording():
        result = paginate(seven_users, page, per_page)
    assert (len(result.items), result.total, result.pages) == (shown, 7, -(-7 // per_page))
    assert len(statements) == statements_sent, statements.listing()


def test_an_empty_list_is_one_page_of_nothing_in_one_statement(app, statements):
    with statements.recording():
        result = paginate(select(User).where(User.email == "nobody@example.test"), 1, 25)
    assert (result.items, result.total, result.pages, result.has_next) == ([], 0, 1, False)
    assert len(statements) == 1

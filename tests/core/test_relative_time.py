"""Relative times as people read them ("3 min ago", "yesterday", "12 Nov"), in the reader's own time zone,
and the <time> element the shared macro draws around them (exact time on hover, ISO instant for machines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import render_template_string
from flask_login import login_user

from portal.web import relative_time, time_left
from tests.factories import UserFactory

NOW = datetime(2026, 12, 2, 14, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "shown"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-20), "just now"),  # a server clock a little ahead
        (timedelta(minutes=1), "1 min ago"),
        (timedelta(minutes=5, seconds=40), "5 min ago"),
        (timedelta(minutes=59), "59 min ago"),
        (timedelta(hours=1), "1 h ago"),
        (timedelta(hours=3, minutes=50), "3 h ago"),
        (timedelta(hours=14), "14 h ago"),  # 00:03 today
        (timedelta(hours=15), "yesterday"),  # 23:03 the day before
        (timedelta(days=1, hours=14), "yesterday"),  # 00:03 the day before
        (timedelta(days=2), "30 Nov"),
        (timedelta(days=20), "12 Nov"),
        (timedelta(days=385), "12 Nov 2025"),
        (timedelta(days=-3), "5 Dec"),  # the future has no "ago"
    ],
)
def test_relative_time_reads_like_a_person_would_say_it(app, ago, shown):
    with app.test_request_context():
        assert relative_time(NOW - ago, now=NOW) == shown


def test_relative_time_counts_days_in_the_readers_zone(app):
    # 23:03 UTC on 2 Dec is 12:03 on 3 Dec in Auckland (UTC+13): the same instants fall on other days there.
    now = datetime(2026, 12, 2, 23, 3, tzinfo=UTC)
    dec2_10h, dec1_10h = datetime(2026, 12, 2, 10, 0, tzinfo=UTC), datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    auckland = UserFactory(timezone="Pacific/Auckland")
    # A fresh app context each time, as each real request has: the reader's zone is kept on `g` for one request.
    with app.app_context(), app.test_request_context():
        login_user(auckland)
        assert relative_time(datetime(2026, 12, 2, 11, 30, tzinfo=UTC), now=now) == "11 h ago"  # 00:30 today there
        assert relative_time(dec2_10h, now=now) == "yesterday"  # 23:00 on 2 Dec there
        assert relative_time(dec1_10h, now=now) == "1 Dec"
    with app.app_context(), app.test_request_context():  # a reader in UTC
        assert relative_time(dec2_10h, now=now) == "13 h ago"
        assert relative_time(dec1_10h, now=now) == "yesterday"


def test_the_time_macro_shows_the_relative_time_with_the_exact_one_on_hover(app):
    when = datetime.now(UTC) - timedelta(minutes=3, seconds=10)
    template = '{% from "macros/time.html" import time_ago %}[{{ time_ago(when) }}][{{ time_ago(None) }}]'
    with app.test_request_context():
        html = render_template_string(template, when=when)
    iso = when.isoformat(timespec="seconds")
    assert html == f'[<time datetime="{iso}" title="{when:%Y-%m-%d %H:%M} UTC">3 min ago</time>][]'


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(minutes=15, seconds=20), "due in 15 min"),
        (timedelta(hours=2, minutes=5), "due in 2 h 5 min"),
        (timedelta(seconds=20), "due now"),
        (timedelta(minutes=-40), "overdue by 40 min"),
        (timedelta(hours=-26), "overdue by 26 h"),
    ],
)
def test_a_deadline_reads_as_time_left_or_how_long_it_is_overdue(left, shown):
    assert time_left(NOW + left, now=NOW) == shown

"""The SLA clock's arithmetic, as properties (hypothesis): business hours, holidays, time zones, pauses.

No example database (database=None): nothing is written into the checkout.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.support import sla

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
START = datetime(2026, 1, 1, tzinfo=UTC)

moments = st.integers(min_value=0, max_value=90 * 24 * 3600).map(lambda s: START + timedelta(seconds=s))


@st.composite
def calendars(draw) -> sla.Calendar:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    opens = draw(st.integers(0, 22))
    closes = draw(st.integers(opens + 1, 24))
    holidays = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2026, 4, 30)), max_size=10))
    return sla.Calendar(timezone=draw(st.sampled_from(ZONES)), work_days=days, start=time(opens),
                        end=time(closes) if closes < 24 else time(23, 59, 59), holidays=holidays)


@settings(max_examples=150, deadline=None, database=None)
@given(calendars(), moments, moments, moments)
def test_business_time_is_additive_over_consecutive_intervals(cal, a, b, c):
    a, b, c = sorted((a, b, c))
    assert sla.business_seconds(cal, a, b) + sla.business_seconds(cal, b, c) == sla.business_seconds(cal, a, c)


@settings(max_examples=150, deadline=None, database=None)
@given(calendars(), moments, moments)
def test_business_time_never_exceeds_wall_time_and_is_zero_backwards(cal, a, b):
    a, b = sorted((a, b))
    assert 0 <= sla.business_seconds(cal, a, b) <= (b - a).total_seconds() + 1
    assert sla.business_seconds(cal, b, a) == 0 or a == b


@settings(max_examples=150, deadline=None, database=None)
@given(calendars(), moments, st.integers(0, 200 * 3600))
def test_adding_business_time_then_measuring_it_gives_it_back(cal, start, seconds):
    due = sla.add_business_seconds(cal, start, seconds)
    assert due >= start
    assert sla.business_seconds(cal, start, due) == seconds


@settings(max_examples=150, deadline=None, database=None)
@given(calendars(), moments, st.integers(1, 100 * 3600))
def test_a_deadline_always_falls_in_working_time_and_is_the_earliest(cal, start, seconds):
    due = sla.add_business_seconds(cal, start, seconds)
    local_day = due.astimezone(cal.tz).date()
    windows = [w for d in (local_day - timedelta(days=1), local_day) if (w := cal.window(d))]
    assert any(w[0] < due <= w[1] for w in windows)
    assert sla.business_seconds(cal, start, due - timedelta(seconds=1)) == seconds - 1


@settings(max_examples=150, deadline=None, database=None)
@given(calendars(), moments, moments, moments, moments)
def test_a_pause_stops_exactly_the_business_time_inside_it(cal, created, pause_start, pause_end, now):
    created, pause_start, pause_end, now = sorted((created, pause_start, pause_end, now))
    paused = sla.business_seconds(cal, pause_start, pause_end)
    total = sla.business_seconds(cal, created, now)
    assert sla.elapsed(cal, created, now, paused_seconds=paused) == total - paused
    # while the pause is still open, the clock stands still
    assert sla.elapsed(cal, created, now, paused_at=pause_start) == sla.business_seconds(cal, created, pause_start)


@settings(max_examples=100, deadline=None, database=None)
@given(calendars(), moments, st.integers(60, 50 * 3600), st.integers(0, 50 * 3600))
def test_pausing_pushes_the_deadline_by_the_paused_business_time(cal, created, target, paused):
    due = sla.due_at(cal, created, target, paused)
    assert sla.business_seconds(cal, created, due) == target + paused
    assert sla.elapsed(cal, created, due, paused_seconds=paused) == target


@settings(max_examples=100, deadline=None, database=None)
@given(calendars(), moments, moments)
def test_no_time_counts_on_days_off_or_holidays(cal, a, b):
    a, b = sorted((a, b))
    day = a.astimezone(cal.tz).date()
    while day <= b.astimezone(cal.tz).date():
        if cal.window(day) is not None:
            break
        day += timedelta(days=1)
    else:
        assert sla.business_seconds(cal, a, b) == 0


def test_a_concrete_weekend_and_holiday_example():
    cal = sla.Calendar(timezone="Europe/Berlin", holidays=frozenset({date(2026, 1, 5)}))
    friday_4pm = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)  # 16:00 Berlin
    # one hour on Friday, Monday is a holiday, so the next 3 hours end Tuesday 12:00 Berlin (11:00 UTC)
    assert sla.add_business_seconds(cal, friday_4pm, 4 * 3600) == datetime(2026, 1, 6, 11, 0, tzinfo=UTC)
    assert sla.state(79, 100) == "ok" and sla.state(80, 100) == "warning" and sla.state(100, 100) == "breached"


def test_a_day_that_ends_at_24_00_counts_its_last_minute():
    """Around the clock is 00:00 to 24:00: the minute before midnight counts (23:59 lost it)."""
    cal = sla.calendar_from("UTC", "0,1,2,3,4,5,6", "00:00", "24:00", [])
    before = datetime(2026, 12, 1, 23, 50, tzinfo=UTC)
    assert sla.business_seconds(cal, before, before + timedelta(minutes=20)) == 20 * 60

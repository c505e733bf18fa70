"""The SLA clock: business-time arithmetic over an organization's calendar, with pauses.

Pure functions over timezone-aware datetimes: no database, so they are property-tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # never search further than ten years for working time


@dataclass(frozen=True)
class Calendar:
    """Working days (Monday = 0) and hours in a time zone, minus holidays (local dates)."""

    timezone: str = "UTC"
    work_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working interval of a local date, in UTC; None on days off."""
        if day.weekday() not in self.work_days or day in self.holidays or self.start >= self.end:
            return None
        tz = self.tz
        opens = datetime.combine(day, self.start, tzinfo=tz).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=tz).astimezone(UTC)
        return (opens, closes) if opens < closes else None

    @property
    def has_working_time(self) -> bool:
        return bool(self.work_days) and self.start < self.end


END_OF_DAY = "24:00"  # an end time meaning midnight at the end of the day: a team that works around the clock


def clock_time(text: str) -> time:
    """A stored HH:MM as a time; "24:00" is the last instant of the day (time.max), so 00:00-24:00 loses no minute."""
    return time.max if text == END_OF_DAY else time.fromisoformat(text)


def calendar_from(timezone: str, work_days: str, start: str, end: str, holidays: list[str]) -> Calendar:
    """A Calendar from stored strings ("0,1,2,3,4", "09:00", ["2026-12-25"])."""
    days = frozenset(int(d) for d in work_days.split(",") if d.strip() != "")
    return Calendar(
        timezone=timezone or "UTC",
        work_days=days,
        start=time.fromisoformat(start),
        end=clock_time(end),
        holidays=frozenset(date.fromisoformat(h) for h in holidays or []),
    )


def _local_day(cal: Calendar, moment: datetime) -> date:
    return moment.astimezone(cal.tz).date()


def business_seconds(cal: Calendar, start: datetime, end: datetime) -> int:
    """Working seconds between start and end (0 when end <= start)."""
    if end <= start or not cal.has_working_time:
        return 0
    total = 0.0
    day = _local_day(cal, start) - timedelta(days=1)
    last = _local_day(cal, end) + timedelta(days=1)
    while day <= last:
        w = cal.window(day)
        if w is not None:
            lo, hi = max(w[0], start), min(w[1], end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return round(total)


def add_business_seconds(cal: Calendar, start: datetime, seconds: int) -> datetime:
    """The moment when `seconds` of working time have passed since start."""
    if not cal.has_working_time:
        raise ValueError("the calendar has no working time")
    if seconds <= 0:
        return start
    remaining = float(seconds)
    day = _local_day(cal, start) - timedelta(days=1)
    for _ in range(MAX_DAYS):
        w = cal.window(day)
        day += timedelta(days=1)
        if w is None or w[1] <= start:
            continue
        lo = max(w[0], start)
        available = (w[1] - lo).total_seconds()
        if remaining <= available:
            return lo + timedelta(seconds=remaining)
        remaining -= available
    raise ValueError("no working time within ten years")


def elapsed(cal: Calendar, started: datetime, now: datetime, paused_seconds: int = 0, paused_at: datetime | None = None) -> int:
    """Working seconds a ticket's clock has run: total minus the closed pauses minus the open one."""
    running = business_seconds(cal, started, now) - paused_seconds
    if paused_at is not None:
        running -= business_seconds(cal, paused_at, now)
    return max(0, running)


def due_at(cal: Calendar, started: datetime, target_seconds: int, paused_seconds: int = 0) -> datetime:
    """When a target of target_seconds runs out, the closed pauses pushing it later."""
    return add_business_seconds(cal, started, target_seconds + paused_seconds)


def state(used: int, target: int, warn_at: float = 0.8) -> str:
    """ok / warning (at 80% of the target) / breached (past it)."""
    if used >= target:
        return "breached"
    if used >= warn_at * target:
        return "warning"
    return "ok"

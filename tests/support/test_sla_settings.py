"""An organization's SLA settings (business hours and four priorities' targets) are saved all or nothing: every value
is checked first, so one bad target leaves the calendar and the other targets as they were."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.support import service
from portal.support.models import SlaPolicy, SupportCalendar

SAVED = {"low": (100, 1000), "medium": (50, 500), "high": (20, 200), "critical": (10, 100)}


def _form(**changes) -> dict:
    form = {"timezone": "Europe/Berlin", "work_days": ["0", "1", "2"], "start_time": "08:00", "end_time": "16:00", "holidays": "2026-12-24",
            **{f"{p}_first": str(f) for p, (f, _r) in SAVED.items()}, **{f"{p}_resolution": str(r) for p, (_f, r) in SAVED.items()}}
    form.update(changes)
    return form


def _settings(org) -> tuple:
    db.session.expire_all()
    return service.calendar_for(org), service.policies_for(org)


def test_a_bad_third_target_leaves_the_calendar_and_the_first_two_targets_unchanged(app, desk, client, login_as):
    url = f"/support/orgs/{desk.org.public_id}/sla"
    login_as(desk.agent)
    assert client.post(url, data=_form()).status_code == 303
    saved = _settings(desk.org)
    assert saved[1] == SAVED and saved[0].timezone == "Europe/Berlin"
    # a new calendar, new low and medium targets, and a high target whose first response comes after its resolution
    changed = _form(timezone="UTC", work_days=["0", "1", "2", "3", "4"], start_time="09:00", end_time="17:00", holidays="",
                    low_first="30", low_resolution="300", medium_first="15", medium_resolution="150", high_first="500", high_resolution="100")
    page = client.post(url, data=changed)
    assert page.status_code == 422
    assert "Nothing was saved" in page.text and "the first response comes before the resolution" in page.text
    assert 'value="500"' in page.text and 'value="UTC"' in page.text  # the page keeps what was entered, to correct it
    assert _settings(desk.org) == saved


def test_the_service_checks_every_value_before_writing_any(app, desk):
    calendar = service.CalendarSettings(timezone="Asia/Kolkata", work_days="0,1,2,3,4", start_time="10:00", end_time="18:00")
    with pytest.raises(ValidationFailed) as exc:
        service.save_sla_settings(desk.org, calendar, {"low": (60, 600), "medium": (30, 300), "high": (0, 100), "critical": (10, 50)})
    assert set(exc.value.fields) == {"high_first"}
    db.session.flush()
    assert db.session.scalar(select(func.count(SupportCalendar.id))) == 0
    assert db.session.scalar(select(func.count(SlaPolicy.id))) == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("timezone", "Mars/Olympus", "Not a valid calendar: there is no time zone"),
    ("start_time", "9 o'clock", "give a time like 09:00"),
    ("holidays", "2026-12-24 Christmas", "is not a date like 2026-12-25"),
    ("end_time", "08:00", "hours that open before they close"),
])
def test_each_bad_calendar_value_is_named_next_to_its_field_and_nothing_is_saved(app, desk, field, value, message):
    entered = {"timezone": "UTC", "work_days": "0,1,2,3,4", "start_time": "09:00", "end_time": "17:00", "holidays": []}
    entered[field] = value.split() if field == "holidays" else value
    with pytest.raises(ValidationFailed) as exc:
        service.save_sla_settings(desk.org, service.CalendarSettings(**entered), {"low": (60, 600)})
    assert message in " ".join(exc.value.fields.values())
    db.session.flush()
    assert db.session.scalar(select(func.count(SlaPolicy.id))) == 0


def test_a_target_that_is_not_a_number_is_refused_by_the_form(app, desk, client, login_as):
    login_as(desk.agent)
    page = client.post(f"/support/orgs/{desk.org.public_id}/sla", data=_form(critical_resolution="soon"))
    assert page.status_code == 422 and "Not a valid integer value" in page.text
    assert _settings(desk.org)[1] == {p: service.DEFAULT_POLICIES[p] for p in SAVED}  # nothing saved


def test_saving_moves_the_due_dates_once_for_the_calendar_and_the_targets_together(app, desk):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Due", body="b", priority="high")
    ticket.created_at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
    service.recompute_due(ticket)
    db.session.commit()
    # 09-13 UTC on weekdays, and 120 business minutes to resolve a high ticket: Monday 12:00
    calendar = service.CalendarSettings(timezone="UTC", work_days="0,1,2,3,4", start_time="09:00", end_time="13:00")
    service.save_sla_settings(desk.org, calendar, {"high": (60, 120)})
    db.session.commit()
    db.session.expire_all()
    assert ticket.resolution_due_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

"""WTForms for the support pages: every POST (and the report's query) is parsed here, never in a view.

Choices come from the enumerations in support/models.py, written there once.
"""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.errors import ValidationFailed
from portal.support.labels import label
from portal.support.models import CATEGORIES, PRIORITIES, STATUSES, SupportCalendar, Ticket
from portal.support.services.sla import CalendarSettings

WEEKDAYS = [("0", "Mon"), ("1", "Tue"), ("2", "Wed"), ("3", "Thu"), ("4", "Fri"), ("5", "Sat"), ("6", "Sun")]
NOT_ZERO = ("0", "false", "")  # a checkbox or hidden flag posting "0" means off


def _choices(values, kind: str) -> list[tuple[str, str]]:
    return [(v, label(v, kind)) for v in values]


def uploads(field) -> list[tuple[str, bytes]]:
    """The (filename, bytes) of a file field's uploads; an input left empty sends none."""
    return [(f.filename, f.read()) for f in (field.data or []) if f and (f.filename or "") != ""]


def invalid(form: FlaskForm) -> ValidationFailed:
    """The form's problems as a ServiceError, for posts that have no page to re-render (buttons, hidden fields)."""
    return ValidationFailed({name: " ".join(messages) for name, messages in form.errors.items()})


class OptionalSelectField(SelectField):
    """A select that a post may leave out: then it asks for no change (`sent` is False)."""

    def pre_validate(self, form) -> None:
        if self.sent:
            super().pre_validate(form)

    @property
    def sent(self) -> bool:
        return bool(self.raw_data)


# ---------------------------------------------------------------- customers


class TicketForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    category = SelectField("Category", choices=_choices(CATEGORIES, "category"), default="question")
    priority = SelectField("Priority", choices=_choices(PRIORITIES, "priority"), default="medium")
    body = TextAreaField("Description", validators=[DataRequired(), Length(max=50_000)], description="Markdown is supported.")
    file = MultipleFileField("Attachment", description="Optional: an image, PDF, text, ZIP or gzip file up to 10 MB.")


class ReplyForm(FlaskForm):
    body = TextAreaField("Reply", validators=[Optional(), Length(max=50_000)], description="Markdown is supported.")
    file = MultipleFileField("Attachment")


class StatusForm(FlaskForm):
    """The customer's close and reopen buttons."""

    status = SelectField("Status", choices=_choices(STATUSES, "status"))


class RatingForm(FlaskForm):
    rating = RadioField("Rating", coerce=int, choices=[(n, f"{n} star{'s' if n > 1 else ''}") for n in range(1, 6)],
                        validators=[InputRequired(message="Choose 1 to 5 stars.")])
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000)])


class AttachmentForm(FlaskForm):
    file = MultipleFileField("Attachment")


# ---------------------------------------------------------------- agents


class AgentReplyForm(ReplyForm):
    canned_id = StringField("Canned reply", validators=[Optional()])  # the service checks it names a canned reply
    internal = BooleanField("Internal note (never shown to the customer)", false_values=NOT_ZERO)


class TicketUpdateForm(FlaskForm):
    """An agent's change of a ticket: only the fields the post sends are changed (an empty assignee unassigns)."""

    status = OptionalSelectField("Status", choices=_choices(STATUSES, "status"))
    priority = OptionalSelectField("Priority", choices=_choices(PRIORITIES, "priority"))
    category = OptionalSelectField("Category", choices=_choices(CATEGORIES, "category"))
    assignee_id = OptionalSelectField("Assignee", validate_choice=False)  # the service checks it is an agent

    def __init__(self, ticket: Ticket, agents: list, **kwargs):
        current = {"status": ticket.status, "priority": ticket.priority, "category": ticket.category,
                   "assignee_id": ticket.assignee.public_id if ticket.assignee else ""}
        super().__init__(data=current, **kwargs)
        self.assignee_id.choices = [("", "Unassigned"), *((a.public_id, a.display_name) for a in agents)]

    def changes(self) -> dict[str, str]:
        """The keyword arguments of service.update_ticket the post asks for."""
        return {f.name: f.data for f in (self.status, self.priority, self.category, self.assignee_id) if f.sent}


class BulkForm(FlaskForm):
    ticket = SelectMultipleField("Tickets", validate_choice=False)
    status = SelectField("Set status", choices=[("", "Status unchanged"), *_choices(STATUSES, "status")], default="")
    assignee_id = StringField("Assign to", validators=[Optional()])  # "" leaves the assignee as it is
    query = StringField("Queue filters", validators=[Optional()])


class AvailabilityForm(FlaskForm):
    available = BooleanField("Available for automatic assignment", false_values=NOT_ZERO)


class SavedViewForm(FlaskForm):
    # the service refuses a blank name and shortens long ones
    name = StringField("Name this view", validators=[Optional()])
    query = StringField("Queue filters", validators=[Optional()])


class CannedForm(FlaskForm):
    title = StringField("Title", validators=[Optional()])  # the service refuses blanks and shortens long titles
    body = TextAreaField("Body", validators=[Optional()])


class ReportForm(FlaskForm):
    """The SLA report's period (a GET: no CSRF token); a day left empty takes the default period's."""

    class Meta:
        csrf = False

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The last day is before the first.")

    def show_period(self, first: date, last: date) -> None:
        """Show the period the report counts: the default's days in place of empty ones."""
        for field, day in ((self.start, first), (self.end, last)):
            field.data, field.raw_data = day, None  # raw_data (what was typed, "" for an empty day) would show over data


class SlaForm(FlaskForm):
    """An organization's business hours and, per priority, its targets in business minutes (fields added below)."""

    timezone = StringField("Time zone", validators=[Optional()], description="An IANA zone, like Europe/Berlin.")
    work_days = SelectMultipleField("Working days", choices=WEEKDAYS)
    start_time = StringField("Opens", validators=[Optional()])
    end_time = StringField("Closes", validators=[Optional()])
    holidays = TextAreaField("Holidays", validators=[Optional()], description="One date a line, like 2026-12-25.")

    @staticmethod
    def initial(cal: SupportCalendar, policies: dict[str, tuple[int, int]]) -> dict:
        """The form's values for the org's current settings."""
        data = {"timezone": cal.timezone, "work_days": [d for d in cal.work_days.split(",") if d], "start_time": cal.start_time,
                "end_time": cal.end_time, "holidays": "\n".join(cal.holidays or [])}
        for priority, (first, resolution) in policies.items():
            data[f"{priority}_first"], data[f"{priority}_resolution"] = first, resolution
        return data

    def calendar(self) -> CalendarSettings:
        """The business hours as entered, for service.save_sla_settings (which checks them)."""
        return CalendarSettings(timezone=(self.timezone.data or "UTC").strip(), work_days=",".join(self.work_days.data or []),
                                start_time=self.start_time.data or "", end_time=self.end_time.data or "",
                                holidays=(self.holidays.data or "").split())

    def policies(self) -> dict[str, tuple[int | None, int | None]]:
        """{priority: (first response, resolution)} as entered (None where left empty)."""
        return {p: (self[f"{p}_first"].data, self[f"{p}_resolution"].data) for p in PRIORITIES}


for _priority in PRIORITIES:  # one pair of number fields per priority, named as the page and the service know them
    setattr(SlaForm, f"{_priority}_first", IntegerField(f"{label(_priority, 'priority')} first response", validators=[Optional()]))
    setattr(SlaForm, f"{_priority}_resolution", IntegerField(f"{label(_priority, 'priority')} resolution", validators=[Optional()]))

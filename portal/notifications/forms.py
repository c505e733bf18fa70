"""Forms of the notification pages: they parse what is posted; the service checks the rules and names bad fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import Length

from portal.notifications.catalog import CHANNELS, EVENTS

# The events a person chooses for: "message" is whatever an admin sends, never muted by a preference.
MATRIX_EVENTS = tuple(name for name in EVENTS if name != "message")


def box(event: str, channel: str) -> str:
    """The name of the checkbox of one event and channel, as the matrix template writes it."""
    return f"{event}|{channel}"


class MatrixForm(FlaskForm):
    """The event × channel checkbox grid; every box shown is decided by presence (unticked: not posted)."""

    def choices(self) -> dict[str, dict[str, bool]]:
        """The grid as {event: {channel: on}}."""
        return {event: {c: bool(self[box(event, c)].data) for c in CHANNELS} for event in MATRIX_EVENTS}


for _event in MATRIX_EVENTS:
    for _channel in CHANNELS:
        setattr(MatrixForm, box(_event, _channel), BooleanField())


class ActionForm(FlaskForm):
    """Which of the preferences page's forms was posted."""

    action = HiddenField(default="matrix")


class PreferencesForm(MatrixForm):
    """A member's preferences document, as on the API: the grid and the quiet hours, saved all or nothing."""

    quiet_start = StringField("From", validators=[Length(max=5)])
    quiet_end = StringField("Until", validators=[Length(max=5)])


class PhoneForm(FlaskForm):
    phone = StringField("Phone number", validators=[Length(max=32)])


class ConfirmPhoneForm(FlaskForm):
    code = StringField("Code", validators=[Length(max=12)])


class OneClickForm(FlaskForm):
    """RFC 8058: a mail client's one-click unsubscribe posts List-Unsubscribe=One-Click."""

    def is_one_click(self) -> bool:
        return self["List-Unsubscribe"].data == "One-Click"


setattr(OneClickForm, "List-Unsubscribe", StringField())


class TemplateForm(FlaskForm):
    subject = StringField("Subject")
    body = TextAreaField("Body")


class ReadForm(FlaskForm):
    read = StringField(default="1")  # "0" marks a notification unread again

    def wants_read(self) -> bool:
        return (self.read.data or "1") == "1"

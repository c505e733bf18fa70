"""WTForms for the support pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.support.models import CATEGORIES, PRIORITIES


def _choices(values) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ").capitalize()) for v in values]


class TicketForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    category = SelectField("Category", choices=_choices(CATEGORIES), default="question")
    priority = SelectField("Priority", choices=_choices(PRIORITIES), default="medium")
    body = TextAreaField("Description", validators=[DataRequired(), Length(max=50_000)], description="Markdown is supported.")
    file = FileField("Attachment", description="Optional: an image, PDF, text, ZIP or gzip file up to 10 MB.")


class ReplyForm(FlaskForm):
    body = TextAreaField("Reply", validators=[Optional(), Length(max=50_000)], description="Markdown is supported.")
    file = FileField("Attachment")


class RatingForm(FlaskForm):
    rating = IntegerField("Rating (1–5)", validators=[DataRequired(), NumberRange(min=1, max=5)])
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000)])

"""Billing's page forms: each POST is parsed by one of these (CSRF included)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import Optional

from portal.billing.plans import INTERVALS, PLANS
from portal.errors import ValidationFailed


class ActionForm(FlaskForm):
    """A button with no fields (cancel, resume, portal, trial): the CSRF token is all it carries."""


class PlanForm(FlaskForm):
    """A plan and a billing interval (upgrade through Checkout, or a change of plan)."""

    plan = SelectField("Plan", choices=[(k, p.name) for k, p in PLANS.items()])
    interval = SelectField("Billed", choices=[(i, f"{i}ly") for i in INTERVALS], default="month")


class ChangeForm(PlanForm):
    """A confirmed change of plan: the preview's proration date rides along so the charge is the one shown."""

    proration_date = IntegerField("Proration date", validators=[Optional()], widget=HiddenField.widget)


class AssignPlanForm(FlaskForm):
    """A super admin's choice of plan for an org."""

    plan = SelectField("Plan", choices=[(k, p.name) for k, p in PLANS.items()])


def parsed(form: FlaskForm) -> FlaskForm:
    """The posted form, or a 422 naming each bad field."""
    if not form.validate_on_submit():
        raise ValidationFailed({name: " ".join(messages) for name, messages in form.errors.items()})
    return form

"""Forms of the keys pages; the service checks the rules (policy, scopes, expiry) and names bad fields."""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.keys.models import SCOPE_LABELS, SCOPES

SCOPE_CHOICES = [(s, SCOPE_LABELS[s]) for s in SCOPES]
GRACE_CHOICES = [(0, "Right away"), (300, "After 5 minutes"), (3600, "After 1 hour"), (86_400, "After 24 hours")]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class _OwnerField(FlaskForm):
    # Declared before KeyForm's fields so that NewKeyForm shows it first (WTForms orders fields by creation).
    owner = SelectField("Owner", validate_choice=False,
                        description="The member the key acts as. Its secret is shown to you, once: hand it over safely.")


class KeyForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=100)], description="What uses the key: an app, a server, a CI job.")
    scopes = MultiCheckboxField("Scopes", choices=SCOPE_CHOICES, default=["read"], validate_choice=False)
    expires_at = DateField("Expires on (UTC)", validators=[Optional()], description="The key stops working at 00:00 UTC that day. Empty: never, unless the organization caps key lifetime.")
    rate_limit = IntegerField("Rate limit", validators=[Optional()], description="Requests a minute.")


class NewKeyForm(KeyForm, _OwnerField):
    """The create form; org admins also pick the owner among the org's members (the service checks the choice)."""

    # One-time, fresh with each empty form: the view remembers which key it created, so a resubmit (Reload) makes no second.
    submit_token = HiddenField(default=lambda: secrets.token_urlsafe(16))


class RotateForm(FlaskForm):
    grace_period = SelectField("The old key stops working", choices=GRACE_CHOICES, coerce=int, default=3600)


class PolicyForm(FlaskForm):
    max_lifetime_days = IntegerField("Maximum lifetime (days)", validators=[Optional(), NumberRange(min=1, max=3650)],
                                     description="New keys must expire within this many days. Empty: no limit.")
    user_scopes = MultiCheckboxField("Scopes plain members may create", choices=SCOPE_CHOICES, validate_choice=False,
                                     description="Org admins and billing admins may create keys with any scope; a key never does more than its owner's role allows.")

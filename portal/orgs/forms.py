from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from portal.forms import valid_email
from portal.roles import ORG_ROLES, ROLE_LABELS

ROLE_CHOICES = [(r, ROLE_LABELS[r]) for r in ORG_ROLES]


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), valid_email])
    role = SelectField("Role", choices=ROLE_CHOICES, default="user")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class NewOrgForm(FlaskForm):
    name = StringField("Organization name", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Address", validators=[DataRequired()], render_kw={"data-slug-from": "name"},
                       description="Its web address, /o/your-address/: lowercase letters, digits and dashes (filled in from the name).")


class AcceptForm(FlaskForm):
    """Accepting an invitation while logged in: nothing to fill in (the form carries the CSRF token)."""

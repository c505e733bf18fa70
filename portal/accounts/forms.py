from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal.accounts.service import COLOR_SCHEMES, TIMEZONES
from portal.forms import valid_email


class SignupForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), valid_email])
    password = PasswordField("Password", validators=[DataRequired()], description="At least 10 characters, hard to guess.")
    org_name = StringField("Organization name", validators=[DataRequired(), Length(max=120)])
    org_slug = StringField(
        "Organization address", validators=[DataRequired()], render_kw={"data-slug-from": "org_name"},
        description="Your portal's web address, /o/your-address/: lowercase letters, digits and dashes (filled in from the name).",
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), valid_email])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("Repeat it", validators=[DataRequired(), EqualTo("password", "The passwords differ.")])


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    timezone = SelectField("Time zone", choices=sorted(TIMEZONES), validate_choice=False)
    # The service names a bad value next to the field; the form only parses it.
    color_scheme = SelectField("Colour scheme", choices=list(COLOR_SCHEMES.items()), validate_choice=False,
                               description="System follows your device's light or dark setting.")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("Repeat it", validators=[DataRequired(), EqualTo("password", "The passwords differ.")])


class AcceptSignupForm(FlaskForm):
    """Sign-up from an invitation: the email is the invited one, so only name and password are asked."""

    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Password", validators=[DataRequired()], description="At least 10 characters, hard to guess.")

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf


class SuspendForm(FlaskForm):
    """Suspend ("1") or restore ("0") an organization or a user: the console rows' one button."""

    suspended = HiddenField(validators=[AnyOf(["0", "1"], message="Say 1 to suspend or 0 to restore.")])


class CustomJsForm(FlaskForm):
    """Allow ("1") or stop ("0") an organization's custom JavaScript: the console row's switch."""

    allowed = HiddenField(validators=[AnyOf(["0", "1"], message="Say 1 to allow or 0 to turn it off.")])

"""Forms of the theme editor: they parse what is posted; the service checks the rules and names bad fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.fields import ColorField, IntegerField
from wtforms.validators import Optional
from wtforms.widgets import NumberInput

from portal.themes.css import MAX_BYTES
from portal.themes.services.drafts import MAX_JS_BYTES
from portal.themes.settings import ASSET_LABELS, COLOUR_FIELDS, COLOUR_LABELS, DEFAULTS, FONTS, MAX_RADIUS, PRESETS


class ThemeForm(FlaskForm):
    """The draft's colours, font, radius and custom CSS (posted to save; sent as a query for the live preview)."""

    font = SelectField("Font", choices=[(k, f.label) for k, f in FONTS.items()], validate_choice=False)
    radius = IntegerField("Corner radius (px)", validators=[Optional()], widget=NumberInput(min=0, max=MAX_RADIUS),
                          description=f"0 for square corners, up to {MAX_RADIUS}.")
    custom_css = TextAreaField("Custom CSS", description=f"Up to {MAX_BYTES // 1024} KB. Checked by a CSS parser: no @import, "
                               "no outside url(), no scripts, no attribute selectors on form values.")
    # Removed from the form (del form.custom_js) unless a super admin allowed the org custom JavaScript.
    custom_js = TextAreaField("Custom JavaScript", description=f"Up to {MAX_JS_BYTES // 1024} KB, served as a file of its own "
                              "on members' pages (never on login, password or new-key pages, nor this editor, nor to platform staff).",
                              render_kw={"spellcheck": "false"})

    def values(self) -> dict:
        """The settings as the service takes them (every field, so the service names every bad one)."""
        values = {name: self[name].data for name in COLOUR_FIELDS}
        values["font"] = self.font.data
        values["radius"] = self.radius.raw_data[0] if self.radius.raw_data else DEFAULTS["radius"]
        return values


for _name in COLOUR_FIELDS:
    setattr(ThemeForm, _name, ColorField(COLOUR_LABELS[_name]))


class LogoForm(FlaskForm):
    variant = SelectField("Which", choices=list(ASSET_LABELS.items()), validate_choice=False)
    file = FileField("File", description="PNG, JPEG, WebP or SVG (favicon: PNG, ICO or SVG); 1 MB and 2048 px a side at most.")


class VariantForm(FlaskForm):
    variant = HiddenField()


class ImportForm(FlaskForm):
    file = FileField("Theme file (JSON)")


class RevertForm(FlaskForm):
    version = HiddenField()


class PresetForm(FlaskForm):
    preset = SelectField("Preset", choices=[(k, p["label"]) for k, p in PRESETS.items()], validate_choice=False)


class ConfirmForm(FlaskForm):
    """Reset, the palette's and the contrast fix's one click: nothing but the CSRF token."""


class PreviewStopForm(ConfirmForm):
    """The preview banner's "Stop previewing": the CSRF token and the page to return to."""

    next = HiddenField()


class PublishForm(FlaskForm):
    """Publish: the CSRF token, and which pairs below WCAG AA the admin agreed to publish (empty at first)."""

    accepted = HiddenField()

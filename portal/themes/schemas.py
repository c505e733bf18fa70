"""API schemas of the themes domain."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.themes.css import MAX_BYTES as MAX_CSS_BYTES
from portal.themes.services.drafts import MAX_JS_BYTES
from portal.themes.settings import FONTS, MAX_RADIUS

# The shapes the service accepts, stated for the document. The service checks them itself so that one 422
# names every bad field and every refused CSS construct at once (a schema error would stop at the first).
Colour = Annotated[str, Field(json_schema_extra={"pattern": "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"})]
FontName = Annotated[str, Field(json_schema_extra={"enum": list(FONTS)})]


class ThemeIn(BaseModel):
    """A change to the draft: only the fields sent change. The service checks each value and names bad ones."""

    model_config = ConfigDict(extra="forbid")
    primary: Colour = Field(None, description="Hex colour, e.g. #0b5cab")
    secondary: Colour = None
    accent: Colour = None
    background_light: Colour = None
    text_light: Colour = None
    background_dark: Colour = None
    text_dark: Colour = None
    font: FontName = Field(None, description="system, inter or source-serif-4")
    radius: int = Field(None, json_schema_extra={"minimum": 0, "maximum": MAX_RADIUS}, description=f"Corner radius in px, 0-{MAX_RADIUS}")
    logo_light: str | None = Field(None, max_length=40, description="An uploaded file's id (tha_...), from POST .../logo; null removes it")
    logo_dark: str | None = Field(None, max_length=40)
    favicon: str | None = Field(None, max_length=40)
    custom_css: str = Field(None, json_schema_extra={"maxLength": MAX_CSS_BYTES}, description="Up to 50 KB; refused constructs are named with line and column")
    custom_js: str = Field(None, json_schema_extra={"maxLength": MAX_JS_BYTES},
                           description="Up to 50 KB; refused (422) unless a platform admin allowed the organization custom JavaScript")
    publish: bool = Field(False, description="Publish the draft once saved")


class LogoIn(BaseModel):
    """The multipart form's fields besides `file`."""

    variant: Literal["light", "dark", "favicon"]


class ContrastOut(BaseModel):
    pair: str
    label: str
    ratio: float
    required: float
    passes: bool
    suggestion: str | None


class ThemeOut(BaseModel):
    org: str
    version: str | None
    number: int | None
    is_default: bool
    colours: dict[str, str]
    font: str
    font_stack: str
    radius: int
    logos: dict[str, str | None]
    css_url: str


class DraftOut(BaseModel):
    org: str
    draft: dict
    custom_css: str
    custom_js: str
    custom_js_allowed: bool
    contrast: list[ContrastOut]
    published: ThemeOut


class AssetOut(BaseModel):
    id: str
    variant: Literal["light", "dark", "favicon"]
    url: str
    content_type: str
    width: int
    height: int
    size: int

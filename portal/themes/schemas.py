"""API schemas of the themes domain."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ThemeIn(BaseModel):
    """A change to the draft: only the fields sent change. The service checks each value and names bad ones."""

    model_config = ConfigDict(extra="forbid")
    primary: str | None = Field(None, description="Hex colour, e.g. #0b5cab")
    secondary: str | None = None
    accent: str | None = None
    background_light: str | None = None
    text_light: str | None = None
    background_dark: str | None = None
    text_dark: str | None = None
    font: str | None = Field(None, description="system, inter or source-serif-4")
    radius: int | None = Field(None, description="Corner radius in px, 0-24")
    logo_light: str | None = Field(None, description="An uploaded file's id (tha_...), from POST .../logo")
    logo_dark: str | None = None
    favicon: str | None = None
    custom_css: str | None = Field(None, description="Up to 50 KB; refused constructs are named with line and column")
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

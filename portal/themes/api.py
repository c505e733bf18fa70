"""Themes over the JSON API: the published theme and its stylesheet (public), the draft (admin scope), uploads.

`{org_id}` is the org's public id (org_…) or its slug. Writes resolve it to the org and then check the caller's
membership exactly as every org route does (tenancy.org_required), so another org's key or admin gets a 404.
"""

from __future__ import annotations

from functools import wraps

from flask import jsonify, request, url_for
from flask_login import current_user
from pydantic import ValidationError

from portal.api import bp
from portal.api.helpers import parse_body
from portal.api.openapi import route
from portal.errors import ValidationFailed
from portal.extensions import talisman
from portal.tenancy import current_org, org_required
from portal.themes import contrast, schemas, service, settings
from portal.themes.http import asset_response, conditional_css
from portal.themes.urls import ASSET_RULE, CSS_RULE, THEME_RULE, asset_path, css_path


def _font_url(path: str) -> str:
    return url_for("static", filename=path)


def org_from_path(view):
    """Hand tenancy.org_required the org named by <org_id> (public id or slug) as the org_slug it checks."""

    @wraps(view)
    def wrapped(org_id: str, **kwargs):
        return view(org_slug=service.org_by_ref(org_id).slug, **kwargs)

    return wrapped


def _theme_out(theme: service.CompiledTheme) -> dict:
    values = theme.settings
    return schemas.ThemeOut(
        org=theme.org_public_id, version=theme.version, number=theme.number, is_default=theme.is_default,
        colours={k: values[k] for k in settings.COLOUR_FIELDS}, font=values["font"], font_stack=settings.FONTS[values["font"]].stack,
        radius=values["radius"], logos=theme.logos, css_url=css_path(theme.org_public_id) + (f"?v={theme.etag}" if theme.version else ""),
    ).model_dump(mode="json")


@route(bp, THEME_RULE, "GET", summary="An organization's published theme (public)", tag="themes", response=schemas.ThemeOut, public=True)
def get_theme(org_id: str):
    return jsonify(_theme_out(service.published(service.org_by_ref(org_id), _font_url)))


@route(bp, CSS_RULE, "GET", summary="An organization's theme stylesheet (public; ETag)", tag="themes", public=True, media="text/css",
       errors=(304,))
def theme_css(org_id: str):
    theme = service.published(service.org_by_ref(org_id), _font_url)
    return conditional_css(theme.css, theme.etag, immutable=theme.version is not None and request.args.get("v") == theme.etag,
                           private=False)


@route(bp, ASSET_RULE, "GET", summary="An uploaded logo or favicon by its content-hashed name (public)", tag="themes", public=True,
       media="image/*", errors=(304,))
@talisman(content_security_policy={"default-src": "'none'"}, content_security_policy_nonce_in=[])
def theme_asset(org_id: str, filename: str):
    """An uploaded logo or favicon, by its content-hashed name (public: it is on every page of the org)."""
    asset, data = service.asset_file(service.org_by_ref(org_id), filename)
    return asset_response(data, asset.content_type, asset.sha256[:32])


def _draft_out() -> dict:
    draft = service.draft(current_org)
    checks = [schemas.ContrastOut(pair=c.name, label=c.label, ratio=round(c.ratio, 2), required=c.required, passes=c.passes,
                                  suggestion=c.suggestion) for c in contrast.checks(draft.settings)]
    return schemas.DraftOut(org=current_org.public_id, draft=draft.settings, custom_css=draft.custom_css, custom_js=draft.custom_js,
                            custom_js_allowed=draft.custom_js_allowed, contrast=checks,
                            published=_theme_out(service.published(current_org, _font_url))).model_dump(mode="json")


@route(bp, THEME_RULE, "PUT", summary="Change the draft theme; publish it with \"publish\": true", tag="themes",
       body=schemas.ThemeIn, response=schemas.DraftOut, errors=(401, 403, 404))
@org_from_path
@org_required("org.settings")
def put_theme(org_slug: str):
    body = parse_body(schemas.ThemeIn)
    values = body.model_dump(exclude_unset=True, exclude={"custom_css", "custom_js", "publish"})
    service.update_draft(current_org, values, custom_css=body.custom_css, custom_js=body.custom_js, by=current_user._get_current_object())
    if body.publish:
        service.publish(current_org, by=current_user._get_current_object())
    return jsonify(_draft_out())


@route(bp, THEME_RULE + "/logo", "POST", summary="Upload a logo (light, dark) or the favicon: multipart `file` and `variant`",
       tag="themes", response=schemas.AssetOut, status=201,
       multipart={"file": "PNG, JPEG, WebP, ICO or SVG, 1 MB and 2048 px at most",
                  "variant": {"type": "string", "enum": ["light", "dark", "favicon"], "description": "Which logo this is"}})
@org_from_path
@org_required("org.settings")
def upload_theme_logo(org_slug: str):
    try:
        variant = schemas.LogoIn.model_validate(request.form.to_dict()).variant
    except ValidationError as exc:
        raise ValidationFailed({"variant": "Send variant=light, dark or favicon."}) from exc
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed({"file": "Send the image as a multipart field named file."})
    asset = service.upload(current_org, service.API_VARIANTS[variant], upload.read(), by=current_user._get_current_object())
    body = schemas.AssetOut(id=asset.public_id, variant=variant, url=asset_path(current_org.public_id, asset.filename),
                            content_type=asset.content_type, width=asset.width, height=asset.height, size=asset.size)
    return jsonify(body.model_dump(mode="json")), 201


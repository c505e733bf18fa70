"""Theme pages: the editor with its live preview, publish/revert/reset, uploads, import/export, the stylesheet and
the org's custom JavaScript (when a super admin allowed it)."""

from __future__ import annotations

import hashlib
import json

from flask import Response, flash, g, render_template, request, session, url_for
from flask_login import current_user

from portal.errors import NotFound, ServiceError, ValidationFailed
from portal.forms import apply_errors
from portal.roles import role_allows
from portal.tenancy import branded_org, current_org, org_required
from portal.themes import bp, contrast, service, settings
from portal.themes.forms import (
    ConfirmForm,
    ImportForm,
    LogoForm,
    PresetForm,
    PreviewStopForm,
    PublishForm,
    RevertForm,
    ThemeForm,
    VariantForm,
)
from portal.themes.http import conditional_css, conditional_js
from portal.themes.optout import custom_code_refused, no_custom_code
from portal.themes.stylesheet import build_preview
from portal.themes.urls import css_path
from portal.web import after_change, flash_error, render_page, wants_fragment

SAFE_MODE = "theme_safe_mode"
PREVIEW = "theme_preview"  # the public ids of the orgs whose saved draft this session's admin previews on the real pages


def _me():
    return current_user._get_current_object()


def _font_url(path: str) -> str:
    return url_for("static", filename=path)


# ---------------------------------------------------------------- every org page


@bp.before_app_request
def remember_safe_mode():
    """`?safe_mode=1` turns the org's theme off for this session (an admin whose CSS broke the pages); `=0` back on."""
    asked = request.args.get("safe_mode")
    if asked in ("0", "1"):
        session[SAFE_MODE] = asked == "1"


@bp.app_context_processor
def theme_of_the_page():
    """`page_theme()` for layouts/base.html: the published theme on org pages (the draft for its admin previewing it),
    None on platform pages and in safe mode; `theme_preview()` for the preview banner."""
    return {"page_theme": _page_theme, "theme_safe_mode": lambda: bool(session.get(SAFE_MODE)), "theme_preview": previewing,
            "brand_org": branded_org, "theme_css_url": _theme_css_url, "theme_js_url": theme_js_url}


def previewing() -> bool:
    """True when this page wears the org's draft: its admin's session previews this org, and safe mode is off."""
    # The permission is checked on every page, not when the preview started: an admin demoted meanwhile stops at once.
    org, membership = g.get("org"), g.get("membership")
    if org is None or membership is None or g.get("platform_staff") or session.get(SAFE_MODE):
        return False
    return org.public_id in session.get(PREVIEW, ()) and role_allows(membership.role, "org.settings")


def _page_theme():
    org = g.get("org") or g.get("brand_org")
    if org is None or g.get("platform_staff") or session.get(SAFE_MODE):
        return None
    if previewing():  # the draft even when it is the platform's look: that is what a publish would show
        return service.draft_preview(org, _font_url)
    theme = service.published(org, _font_url)
    return None if theme.is_default else theme


def _theme_css_url(theme) -> str:
    """A member's pages link the org's private stylesheet; an anonymous visitor's branded page the public one; the
    admin previewing the draft its draft's (a URL only org.settings may fetch)."""
    if theme.is_draft:
        return url_for("themes.draft_stylesheet", org_slug=current_org.slug, v=theme.etag)
    if g.get("org") is not None:
        return url_for("themes.stylesheet", org_slug=current_org.slug, v=theme.etag)
    return f"{css_path(branded_org.public_id)}?v={theme.etag}"


def theme_js_url(theme) -> str | None:
    """The org's script for this page, or None: only a member's own org page (g.org), never a platform staff
    member's view, nor a page that opted out (@no_custom_code: secrets, passwords, login). `theme` is what
    page_theme() gave, so safe mode and platform pages have none already; it carries a script only while allowed,
    and never while its admin previews the draft (unpublished code does not run)."""
    if theme is None or not theme.script or theme.is_draft or g.get("org") is None or g.get("platform_staff") or custom_code_refused():
        return None
    if current_user.is_authenticated and current_user.platform_role:  # a super admin or agent who is also a member
        return None
    return url_for("themes.script", org_slug=current_org.slug, v=theme.script_etag)


@bp.get("/o/<org_slug>/theme.js")
@org_required()
def script(org_slug: str):
    """The org's published custom JavaScript (404 when none, or not allowed); ?v=<its content hash> is cached for a year."""
    theme = service.published(current_org, _font_url)
    if not theme.script:
        raise NotFound()
    return conditional_js(theme.script, theme.script_etag, immutable=request.args.get("v") == theme.script_etag)


@bp.get("/o/<org_slug>/theme.css")
@org_required()
def stylesheet(org_slug: str):
    """The org's published stylesheet; pages link it as ?v=<its content hash>, so that URL may be cached for a year.

    The hash, not the version: a deploy that changes the generated CSS (new variables) changes the URL too, so no
    browser keeps last release's stylesheet for a year."""
    theme = service.published(current_org, _font_url)
    return conditional_css(theme.css, theme.etag, immutable=request.args.get("v") == theme.etag,
                           private=True)


@bp.get("/o/<org_slug>/settings/theme/draft.css")
@org_required("org.settings")
def draft_stylesheet(org_slug: str):
    """The saved draft's stylesheet, made as a publish would make it, for its admin's preview (members get a 403)."""
    theme = service.draft_preview(current_org, _font_url)
    return conditional_css(theme.css, theme.etag, immutable=request.args.get("v") == theme.etag, private=True)


# ---------------------------------------------------------------- the editor


def _editor_url() -> str:
    return url_for("themes.editor", org_slug=current_org.slug)


def _preview_context(values: dict, errors: dict[str, str]) -> dict:
    """What the preview fragment shows: the values it previews, the contrast checks, and its stylesheet's URL."""
    args = {k: values[k] for k in (*settings.COLOUR_FIELDS, "font", "radius")}
    return {"preview": values, "preview_errors": errors, "checks": contrast.checks(values), "text_on": contrast.text_on,
            "preview_css": url_for("themes.preview_css", org_slug=current_org.slug, **args)}


def _theme_form(draft: service.Draft, **kwargs) -> ThemeForm:
    """The editor's form; without its JavaScript field unless the org is allowed custom JavaScript."""
    form = ThemeForm(**kwargs)
    if not draft.custom_js_allowed:
        del form.custom_js
    return form


def _editor_page(form: ThemeForm, status: int = 200):
    draft = service.draft(current_org)
    values, errors = settings.validate(form.values(), base=draft.settings) if form.is_submitted() else (draft.settings, {})
    context = {
        "org": current_org, "form": form, "draft": draft, "published": service.published(current_org, _font_url),
        "logos": service.asset_urls(current_org, draft.settings), "history": service.history(current_org, per_page=20),
        "logo_form": LogoForm(formdata=None), "import_form": ImportForm(formdata=None, prefix="theme_import"), "preset_form": PresetForm(formdata=None),
        "confirm": ConfirmForm(formdata=None),
        "variant_labels": service.VARIANT_LABELS, "js_off": service.JS_OFF, **_preview_context(values, errors),
    }
    return render_template("themes/editor.html", **context), status


@bp.route("/o/<org_slug>/settings/theme", methods=["GET", "POST"])
@no_custom_code  # a broken script must never lock its admin out of the page that fixes it
@org_required("org.settings")
def editor(org_slug: str):
    """The editor; as the admin types, htmx asks the same URL (GET, the form as a query) for the preview fragment."""
    if request.method == "GET" and wants_fragment():
        form = ThemeForm(formdata=request.args, meta={"csrf": False})
        values, errors = settings.validate(form.values(), base=service.draft(current_org).settings)
        return render_template("themes/_preview.html", org=current_org, **_preview_context(values, errors))
    draft = service.draft(current_org)
    if request.method == "POST":
        form = _theme_form(draft)
        if _save_draft(form):
            flash("Draft saved. Members see it once you publish.", "success")
            return after_change(_editor_url())
        return _editor_page(form, 422)
    return _editor_page(_theme_form(draft, formdata=None, data={**draft.settings, "custom_css": draft.custom_css, "custom_js": draft.custom_js}))


def _save_draft(form: ThemeForm) -> bool:
    """Save the editor's posted values into the draft; False (the form carrying its errors) when refused."""
    if not form.validate_on_submit():
        return False
    custom_js = (form.custom_js.data or "") if form.custom_js else None  # None: the draft's stays as it is
    try:
        service.update_draft(current_org, form.values(), custom_css=form.custom_css.data or "", custom_js=custom_js, by=_me())
    except ServiceError as exc:
        apply_errors(form, exc)
        return False
    return True


@bp.get("/o/<org_slug>/settings/theme/preview.css")
@org_required("org.settings")
def preview_css(org_slug: str):
    """The preview panel's stylesheet, from the values in the query (what the admin is typing), never saved."""
    form = ThemeForm(formdata=request.args, meta={"csrf": False})
    values, _errors = settings.validate(form.values(), base=service.draft(current_org).settings)
    font = settings.FONTS[values["font"]].stylesheet
    text = build_preview(values, font_url=_font_url(font) if font else None)
    return Response(text, mimetype="text/css", headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"})


def _confirmed_action(action, message: str, form: ConfirmForm | None = None, to: str | None = None):
    """Run a one-click action (publish, reset, a preset, the palette) behind its form's CSRF check; back to the editor."""
    form = form or ConfirmForm()
    if not form.validate_on_submit():
        raise ValidationFailed({"csrf_token": "The form expired. Reload the page and try again."})
    try:
        action()
    except ServiceError as exc:
        flash_error(exc)
    else:
        flash(message, "success")
    return after_change(to or _editor_url())


def _set_preview(on: bool) -> None:
    """Turn this session's draft preview on or off for the current org (other orgs' previews stay as they are)."""
    others = [ref for ref in session.get(PREVIEW, ()) if ref != current_org.public_id]
    session[PREVIEW] = [*others, current_org.public_id] if on else others


def _back_to(path: str | None) -> str:
    """Where "Stop previewing" returns: the org page it was pressed on, else the org's dashboard (never off-site)."""
    home = url_for("orgs.dashboard", org_slug=current_org.slug)
    if path and path.startswith(home) and "//" not in path and "\\" not in path:
        return path
    return home


@bp.post("/o/<org_slug>/settings/theme/preview")
@org_required("org.settings")
def start_preview(org_slug: str):
    """Save the editor's values into the draft (its "Preview" button posts the editor's form here), then show this
    admin, in this session only, the draft on the org's real pages, starting from its dashboard.

    A refused value re-renders the editor with its field errors and starts nothing; a post without the editor's
    fields (an older page) previews the saved draft as it is. No flash: the preview banner says it on every page."""
    if any(name in request.form for name in settings.COLOUR_FIELDS):
        form = _theme_form(service.draft(current_org))
        if not _save_draft(form):
            return _editor_page(form, 422)
    elif not ConfirmForm().validate_on_submit():
        raise ValidationFailed({"csrf_token": "The form expired. Reload the page and try again."})
    _set_preview(True)
    return after_change(url_for("orgs.dashboard", org_slug=current_org.slug))


@bp.post("/o/<org_slug>/settings/theme/preview/stop")
@org_required()  # any member may switch off a flag of their own session (one who lost org.settings sees no draft anyway)
def stop_preview(org_slug: str):
    """End this session's draft preview for the org and go back to the page it was stopped on, in the published look."""
    form = PreviewStopForm()
    return _confirmed_action(lambda: _set_preview(False), "Preview stopped: you see the published theme again, as members do.",
                             form=form, to=_back_to(form.next.data))


def _accepted_failures(failing: list[contrast.Check]) -> str:
    """A short fingerprint of the failing pairs an admin agreed to publish: a draft changed since asks again."""
    seen = ",".join(f"{c.name}={c.foreground}/{c.background}" for c in failing)
    return hashlib.sha256(seen.encode()).hexdigest()[:16]


@bp.post("/o/<org_slug>/settings/theme/publish")
@org_required("org.settings")
def publish(org_slug: str):
    """Publish the draft; one with colour pairs below WCAG AA first shows them and asks for "Publish anyway"."""
    form = PublishForm()
    failing = contrast.failing(service.draft(current_org).settings) if form.validate_on_submit() else []
    if failing and form.accepted.data != _accepted_failures(failing):
        confirm = PublishForm(formdata=None, data={"accepted": _accepted_failures(failing)})
        return render_page("themes/publish_check.html", "themes/_publish_check.html", org=current_org, failing=failing,
                           ratio=contrast.ratio, labels=settings.COLOUR_LABELS, confirm=confirm, fix=ConfirmForm(formdata=None))
    # No failing pair, or the admin accepted exactly these: publish (an expired form is refused there, as for reset).
    return _confirmed_action(_publish_and_end_preview, "Published: members see the new theme on their next page.")


def _publish_and_end_preview() -> None:
    """Publish the draft; this admin's preview of it ends, since the draft is now what everyone sees."""
    service.publish(current_org, by=_me())
    _set_preview(False)


@bp.post("/o/<org_slug>/settings/theme/contrast-fix")
@org_required("org.settings")
def contrast_fix(org_slug: str):
    """Put the nearest passing colour of every pair below AA into the draft (the publish check offers it)."""
    suggestions = {c.foreground_field: c.suggestion for c in contrast.failing(service.draft(current_org).settings)}
    if not suggestions:  # another admin fixed the draft meanwhile
        return _confirmed_action(lambda: None, "Every colour pair of the draft passes WCAG AA already.")
    return _confirmed_action(lambda: service.update_draft(current_org, suggestions, by=_me()),
                             "The suggested colours are in the draft: check the preview, then publish.")


@bp.post("/o/<org_slug>/settings/theme/reset")
@org_required("org.settings")
def reset(org_slug: str):
    return _confirmed_action(lambda: service.reset(current_org, by=_me()), "Back to the platform's look. The history keeps every version.")


@bp.post("/o/<org_slug>/settings/theme/revert")
@org_required("org.settings")
def revert(org_slug: str):
    form = RevertForm()
    if not form.validate_on_submit() or not form.version.data:
        raise ValidationFailed({"version": "Choose a version to publish again."})
    version = service.revert(current_org, form.version.data, by=_me())
    flash(f"Version {version.reverted_from} is published again, as version {version.number}.", "success")
    return after_change(_editor_url())


@bp.post("/o/<org_slug>/settings/theme/preset")
@org_required("org.settings")
def preset(org_slug: str):
    form = PresetForm()
    name = form.preset.data if form.validate_on_submit() else ""
    return _confirmed_action(lambda: service.apply_preset(current_org, name or "", by=_me()), "Preset applied to the draft.")


@bp.route("/o/<org_slug>/settings/theme/palette", methods=["GET", "POST"])
@org_required("org.settings")
def palette(org_slug: str):
    """The colours suggested from the logo (GET: the fragment that offers them; POST: put them in the draft)."""
    suggestion = service.suggested_palette(current_org)
    if request.method == "POST":
        return _confirmed_action(lambda: service.update_draft(current_org, suggestion, by=_me()), "The logo's colours are in the draft.")
    return render_page("themes/palette.html", "themes/_palette.html", org=current_org, suggestion=suggestion,
                       labels=settings.COLOUR_LABELS, confirm=ConfirmForm(formdata=None))


@bp.post("/o/<org_slug>/settings/theme/logo")
@org_required("org.settings")
def upload_logo(org_slug: str):
    form = LogoForm()
    if form.validate_on_submit():
        data = form.file.data.read() if form.file.data else b""
        try:
            asset = service.upload(current_org, form.variant.data, data, by=_me())
        except ServiceError as exc:
            flash_error(exc)
        else:
            flash(f"{service.VARIANT_LABELS[form.variant.data]} uploaded ({asset.width}×{asset.height}). Publish to show it.", "success")
    else:
        flash("Choose a file to upload.", "error")
    return after_change(_editor_url())


@bp.post("/o/<org_slug>/settings/theme/logo/remove")
@org_required("org.settings")
def remove_logo(org_slug: str):
    form = VariantForm()
    try:
        service.remove(current_org, form.variant.data if form.validate_on_submit() else "", by=_me())
    except ServiceError as exc:
        flash_error(exc)
    return after_change(_editor_url())


@bp.get("/o/<org_slug>/settings/theme/export")
@org_required("org.settings")
def export(org_slug: str):
    body = json.dumps(service.export_theme(current_org), indent=2, sort_keys=True)
    headers = {"Content-Disposition": f'attachment; filename="theme-{current_org.slug}.json"', "Cache-Control": "no-store"}
    return Response(body, mimetype="application/json", headers=headers)


@bp.post("/o/<org_slug>/settings/theme/import")
@org_required("org.settings")
def import_theme(org_slug: str):
    form = ImportForm(prefix="theme_import")  # the upload form has a `file` field too: distinct ids on one page
    try:
        if not form.validate_on_submit() or not form.file.data:
            raise ValidationFailed({"file": "Choose a theme file (JSON) exported from a portal."})
        try:
            document = json.loads(form.file.data.read(256 * 1024) or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed({"file": "This file is not JSON."}) from exc
        service.import_theme(current_org, document, by=_me())
    except ServiceError as exc:
        flash_error(exc)
    else:
        flash("Theme imported into the draft.", "success")
    return after_change(_editor_url())

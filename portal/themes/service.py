"""The themes service: the one place views, the API and tests call (a façade over services/*)."""

from portal.themes.services.assets import API_VARIANTS, VARIANT_LABELS, asset_file, asset_urls, remove, suggested_palette, upload
from portal.themes.services.drafts import (
    JS_OFF,
    MAX_JS_BYTES,
    Draft,
    apply_preset,
    check_css,
    check_js,
    draft,
    export_theme,
    import_theme,
    org_by_ref,
    update_draft,
)
from portal.themes.services.published import CompiledTheme, clear_cache, draft_preview, published, published_version
from portal.themes.services.publishing import history, publish, reset, revert
from portal.themes.services.scripts import custom_js_allowed_orgs, set_custom_js_allowed

__all__ = [
    "API_VARIANTS", "JS_OFF", "MAX_JS_BYTES", "VARIANT_LABELS", "CompiledTheme", "Draft", "apply_preset", "asset_file",
    "asset_urls", "check_css", "check_js", "clear_cache", "custom_js_allowed_orgs", "draft", "draft_preview", "export_theme", "history",
    "import_theme", "org_by_ref", "publish", "published", "published_version", "remove", "reset", "revert",
    "set_custom_js_allowed", "suggested_palette", "update_draft", "upload",
]

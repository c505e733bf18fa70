"""The themes service: the one place views, the API and tests call (a façade over services/*)."""

from portal.themes.services.assets import API_VARIANTS, VARIANT_LABELS, asset_file, asset_urls, remove, suggested_palette, upload
from portal.themes.services.drafts import (
    Draft,
    apply_preset,
    check_css,
    draft,
    export_theme,
    import_theme,
    org_by_ref,
    update_draft,
)
from portal.themes.services.published import CompiledTheme, clear_cache, published, published_version
from portal.themes.services.publishing import history, publish, reset, revert

__all__ = [
    "API_VARIANTS", "VARIANT_LABELS", "CompiledTheme", "Draft", "apply_preset", "asset_file", "asset_urls", "check_css",
    "clear_cache", "draft", "export_theme", "history", "import_theme", "org_by_ref", "publish", "published",
    "published_version", "remove", "reset", "revert", "suggested_palette", "update_draft", "upload",
]

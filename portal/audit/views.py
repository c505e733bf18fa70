"""The audit log's pages: an organization's log, and the platform console's log of every organization."""

from flask import request

from portal.audit import bp, sentences, service
from portal.pagination import clamp
from portal.tenancy import current_org, org_required, platform_required
from portal.web import render_page


def _filters() -> dict:
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 50)
    return {
        "action": request.args.get("action", "").strip() or None,
        "actor_email": request.args.get("actor", "").strip()[:100] or None,
        "page": page,
        "per_page": per_page,
    }


def _render(result, filters: dict, org):
    # The names every row mentions are resolved for the whole page at once (sentences.describe), not per row.
    entries = sentences.describe(result.items, org)
    return render_page("audit/index.html", "audit/_table.html", result=result, entries=entries, filters=filters,
                       actions=sentences.action_choices(), org=org)


@bp.get("/o/<org_slug>/audit")
@org_required("audit.view")
def org_log(org_slug: str):
    filters = _filters()
    return _render(service.list_for_org(current_org, **filters), filters, current_org)


@bp.get("/admin/audit")
@platform_required("platform.admin")
def platform_log():
    filters = _filters()
    return _render(service.list_all(**filters), filters, None)

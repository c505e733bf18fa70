from flask import request

from portal.audit import bp, service
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


@bp.get("/o/<org_slug>/audit")
@org_required("audit.view")
def org_log(org_slug: str):
    filters = _filters()
    result = service.list_for_org(current_org, **filters)
    return render_page("audit/index.html", "audit/_table.html", result=result, filters=filters, actions=service.ACTIONS, org=current_org)


@bp.get("/admin/audit")
@platform_required("platform.admin")
def platform_log():
    filters = _filters()
    result = service.list_all(**filters)
    return render_page("audit/index.html", "audit/_table.html", result=result, filters=filters, actions=service.ACTIONS, org=None)

from flask import render_template, request, url_for
from flask_login import current_user

from portal.admin import bp, service
from portal.admin.forms import CustomJsForm, SuspendForm
from portal.errors import ValidationFailed
from portal.pagination import clamp
from portal.search import MAX_QUERY
from portal.support.pages import desk_context
from portal.tenancy import platform_required
from portal.web import after_change, render_page, toast


def _listing() -> dict:
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 25)
    return {"q": request.args.get("q", "").strip()[:MAX_QUERY], "page": page, "per_page": per_page}


def _suspend_form() -> SuspendForm:
    """The posted suspend/restore choice, or a 422 naming what is wrong with it."""
    return _valid(SuspendForm())


def _valid(form):
    """The posted console form, or a 422 naming what is wrong with it."""
    if not form.validate_on_submit():
        raise ValidationFailed({name: " ".join(messages) for name, messages in form.errors.items()})
    return form


def _done(suspended: bool) -> str:
    """What the toast (or, for a plain browser, the flash) says happened."""
    return "suspended" if suspended else "restored"


@bp.get("/")
@platform_required("platform.admin")
def index():
    """The super admin's home: the platform's counts, the support desk, the job queues, the newest organizations."""
    newest = service.newest_orgs()
    return render_template("admin/index.html", stats=service.platform_stats(), jobs=service.job_health(), newest=newest,
                           counts=service.member_counts(newest), **desk_context())


@bp.get("/orgs")
@platform_required("platform.admin")
def orgs():
    query = _listing()
    result = service.list_orgs(**query)
    counts = service.member_counts(result.items)
    return render_page("admin/orgs.html", "admin/_orgs_table.html", result=result, counts=counts, query=query,
                       js_allowed=service.custom_js_allowed(result.items))


@bp.post("/orgs/<org_id>/suspend")
@platform_required("platform.admin")
def suspend_org(org_id: str):
    org = service.set_org_suspended(org_id, _suspend_form().suspended.data == "1", by=current_user)
    answer = after_change(url_for("admin.orgs"), "admin/_org_row.html", o=org, counts=service.member_counts([org]),
                          js_allowed=service.custom_js_allowed([org]))
    return toast(answer, f"{org.name} {_done(org.is_suspended)}.")


@bp.post("/orgs/<org_id>/custom-js")
@platform_required("platform.support")  # staff know the console exists: an agent is told no (403), others see a 404
def custom_js(org_id: str):
    """The super admin's switch for an org's custom JavaScript (the service refuses anyone else)."""
    allowed = _valid(CustomJsForm()).allowed.data == "1"
    org = service.set_org_custom_js(org_id, allowed, by=current_user)
    answer = after_change(url_for("admin.orgs"), "admin/_org_row.html", o=org, counts=service.member_counts([org]),
                          js_allowed=service.custom_js_allowed([org]))
    return toast(answer, f"Custom JavaScript {'allowed' if allowed else 'turned off'} for {org.name}.")


@bp.get("/users")
@platform_required("platform.admin")
def users():
    query = _listing()
    result = service.list_users(**query)
    return render_page("admin/users.html", "admin/_users_table.html", result=result, query=query)


@bp.post("/users/<user_id>/suspend")
@platform_required("platform.admin")
def suspend_user(user_id: str):
    user = service.set_user_suspended(user_id, _suspend_form().suspended.data == "1", by=current_user)
    answer = after_change(url_for("admin.users"), "admin/_user_row.html", u=user)
    return toast(answer, f"{user.name or user.email} {_done(user.is_suspended)}.")

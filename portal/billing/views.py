"""Billing pages: the org's plan, usage and invoices, the plans table, the actions that change the plan,
and the platform console's list of every org's plan."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, render_template, request, url_for
from flask_login import current_user

from portal.billing import bp, service
from portal.billing.forms import ActionForm, AssignPlanForm, PlanForm, parsed
from portal.billing.plans import INTERVALS, LABELS, METRICS, PLANS
from portal.errors import ServiceError
from portal.tenancy import current_membership, current_org, org_required, platform_required
from portal.web import after_change, flash_error, render_page


def _home() -> str:
    return url_for("billing.index", org_slug=current_org.slug)


@bp.get("/o/<org_slug>/billing")
@org_required()
def index(org_slug: str):
    acct = service.find_account(current_org)
    usage = service.usage_report(current_org)
    invoices, invoices_problem = [], None
    try:
        invoices = service.invoices(current_org)
    except ServiceError as exc:  # the provider is down: the page still shows plan and usage
        invoices_problem = exc.message
    return render_page(
        "billing/index.html", org=current_org, membership=current_membership, acct=acct, plan=service.effective_plan(acct),
        usage=usage, forecasts={u.metric: service.forecast(u) for u in usage}, chart=service.daily_usage(current_org, "workflow_runs"),
        invoices=invoices, invoices_problem=invoices_problem, grace_ends=service.grace_ends_at(acct),
        configured=service.payments_configured(), form=ActionForm(), plan_form=PlanForm(), money=service.format_money,
        checkout_done=request.args.get("checkout") == "done", epoch=lambda seconds: datetime.fromtimestamp(seconds, UTC),
    )


@bp.get("/o/<org_slug>/billing/plans")
@org_required()
def plans(org_slug: str):
    acct = service.find_account(current_org)
    return render_page("billing/plans.html", org=current_org, plans=PLANS.values(), metrics=METRICS, labels=LABELS, intervals=INTERVALS,
                       current=service.effective_plan(acct), acct=acct, configured=service.payments_configured(), form=ActionForm(),
                       money=service.format_money)


@bp.post("/o/<org_slug>/billing/checkout")
@org_required("billing.manage")
def checkout(org_slug: str):
    try:
        form = parsed(PlanForm())
        return after_change(service.checkout(current_org, form.plan.data, form.interval.data, by=current_user))
    except ServiceError as exc:
        flash_error(exc)
        return after_change(url_for("billing.plans", org_slug=org_slug))


@bp.post("/o/<org_slug>/billing/subscription")
@org_required("billing.manage")
def change_plan(org_slug: str):
    try:
        form = parsed(PlanForm())
        service.subscribe(current_org, form.plan.data, form.interval.data, by=current_user)
    except ServiceError as exc:
        if exc.code == "payment_method_required":  # the checkout collects one and starts the subscription
            return after_change(exc.fields["checkout_url"])
        flash_error(exc)
    return after_change(_home())


def _act(action, done: str | None = None) -> object:
    """Run a button's action; say what happened (`done`) or why it was refused; back to the billing page
    (or on to the URL the action returns, such as the provider's portal)."""
    try:
        parsed(ActionForm())
        result = action()
    except ServiceError as exc:
        flash_error(exc)
        return after_change(_home())
    if done:
        flash(done, "success")
    return after_change(result if isinstance(result, str) else _home())


@bp.post("/o/<org_slug>/billing/portal")
@org_required("billing.manage")
def customer_portal(org_slug: str):
    return _act(lambda: service.portal(current_org, by=current_user))


@bp.post("/o/<org_slug>/billing/cancel")
@org_required("billing.manage")
def cancel(org_slug: str):
    return _act(lambda: service.cancel(current_org), "The plan ends at the end of this period; until then nothing changes.")


@bp.post("/o/<org_slug>/billing/resume")
@org_required("billing.manage")
def resume(org_slug: str):
    return _act(lambda: service.resume(current_org), "The plan goes on: it renews as before.")


@bp.post("/o/<org_slug>/billing/trial")
@org_required("billing.manage")
def trial(org_slug: str):
    return _act(lambda: service.start_trial(current_org, by=current_user), "The Pro trial has started.")


# ---------------------------------------------------------------- the platform console


@bp.get("/admin/billing")
@platform_required("platform.admin")
def admin_index():
    rows = [(org, acct, service.effective_plan(acct), service.monthly_revenue(acct)) for org, acct in service.all_accounts()]
    return render_template("admin/billing.html", rows=rows, total=sum(r[3] for r in rows), money=service.format_money,
                           form=AssignPlanForm(), plans=PLANS, configured=service.payments_configured())


@bp.post("/admin/billing/<org_id>/plan")
@platform_required("platform.admin")
def admin_assign(org_id: str):
    try:
        form = parsed(AssignPlanForm())
        org = service.org_for_console(org_id)
        service.assign_plan(org, form.plan.data, by=current_user)
    except ServiceError as exc:
        flash_error(exc)
    else:
        flash(f"{org.name} is on the {PLANS[form.plan.data].name} plan now.", "success")
    return after_change(url_for("billing.admin_index"))

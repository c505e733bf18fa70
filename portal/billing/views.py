"""Billing pages: the org's plan, usage and invoices, the plans table, the actions that change the plan,
and the platform console's list of every org's plan."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, render_template, request, url_for
from flask_login import current_user
from werkzeug.local import LocalProxy

from portal.billing import bp, service
from portal.billing.forms import ActionForm, AssignPlanForm, ChangeForm, PlanForm, parsed
from portal.billing.plans import INTERVALS, LABELS, METRICS, PLANS
from portal.errors import ServiceError
from portal.extensions import talisman
from portal.security import CSP
from portal.tenancy import current_membership, current_org, org_required, platform_required
from portal.web import after_change, flash_error, render_page, toast, wants_fragment


def _home() -> str:
    return url_for("billing.index", org_slug=current_org.slug)


# The billing pages' forms (checkout, plan change, customer portal) are answered with a redirect to the
# provider's hosted pages, and a browser applies form-action to where a form's redirect leads too.
PAYING_CSP = {**CSP, "form-action": LocalProxy(lambda: " ".join(("'self'", *service.provider_origins())))}
POLL_SECONDS = 2  # after a checkout, how often the billing page asks whether the provider's webhook has arrived
MAX_POLLS = 90  # then it stops asking and says to reload later


def _status(checkout_done: bool, tries: int) -> dict:
    """What the plan part of the billing page shows (templates/billing/_status.html)."""
    acct = service.find_account(current_org)
    waiting = checkout_done and not service.has_subscription(acct) and tries < MAX_POLLS
    return {"org": current_org, "membership": current_membership, "acct": acct, "plan": service.effective_plan(acct),
            "grace_ends": service.grace_ends_at(acct), "configured": service.payments_configured(), "form": ActionForm(),
            "checkout_done": checkout_done, "waiting": waiting, "tries": tries, "poll_seconds": POLL_SECONDS, "max_tries": MAX_POLLS}


@bp.get("/o/<org_slug>/billing")
@talisman(content_security_policy=PAYING_CSP)
@org_required()
def index(org_slug: str):
    checkout_done = request.args.get("checkout") == "done"
    status = _status(checkout_done, request.args.get("tries", 0, type=int))
    arrived = checkout_done and service.has_subscription(status["acct"])
    if checkout_done and wants_fragment():  # the page polling for the webhook after a checkout
        if not arrived:
            return render_template("billing/_status.html", **status)
        # The whole page changes with the plan (limits, invoices): load it again, with the news on top.
        return toast(after_change(_home()), f"You're on {status['plan'].name} now.")
    if arrived:
        flash(f"You're on {status['plan'].name} now.", "success")
    usage = service.usage_report(current_org)
    invoices, invoices_problem = [], None
    try:
        invoices = service.invoices(current_org)
    except ServiceError as exc:  # the provider is down: the page still shows plan and usage
        invoices_problem = exc.message
    return render_page(
        "billing/index.html", **status, usage=usage, forecasts={u.metric: service.forecast(u) for u in usage},
        chart=service.daily_usage(current_org, "workflow_runs"), invoices=invoices, invoices_problem=invoices_problem,
        plan_form=PlanForm(), money=service.format_money, epoch=lambda seconds: datetime.fromtimestamp(seconds, UTC),
    )


@bp.get("/o/<org_slug>/billing/plans")
@talisman(content_security_policy=PAYING_CSP)
@org_required()
def plans(org_slug: str):
    acct = service.find_account(current_org)
    return render_page("billing/plans.html", org=current_org, plans=PLANS.values(), metrics=METRICS, labels=LABELS, intervals=INTERVALS,
                       current=service.effective_plan(acct), acct=acct, configured=service.payments_configured(), form=ActionForm(),
                       money=service.format_money, subscribed=service.has_subscription(acct))


@bp.get("/o/<org_slug>/billing/change")
@org_required("billing.manage")
def preview_change(org_slug: str):
    """The confirm step of a change of plan: what it costs now and from the period's end, from the provider's preview."""
    plan, interval = request.args.get("plan", ""), request.args.get("interval", "month")
    try:
        change = service.preview_change(current_org, plan, interval)
    except ServiceError as exc:
        flash_error(exc)
        return after_change(url_for("billing.plans", org_slug=org_slug))
    form = ChangeForm(formdata=None, plan=change.plan.key, interval=change.interval,
                      proration_date=change.preview.proration_date if change.preview else None)
    return render_page("billing/change.html", org=current_org, change=change, form=form, money=service.format_money,
                       epoch=lambda seconds: datetime.fromtimestamp(seconds, UTC))


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
        form = parsed(ChangeForm())
        acct = service.subscribe(current_org, form.plan.data, form.interval.data, by=current_user, proration_date=form.proration_date.data)
    except ServiceError as exc:
        if exc.code == "payment_method_required":  # the checkout collects one and starts the subscription
            return after_change(exc.fields["checkout_url"])
        flash_error(exc)
    else:
        if acct.plan == form.plan.data and not acct.cancel_at_period_end:
            flash(f"You're on {PLANS[acct.plan].name} now, billed {acct.interval}ly.", "success")
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

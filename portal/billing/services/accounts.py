"""An org's billing account: which plan applies now (trials, grace periods, cancellations), and the
super admin's plan assignment for installs without a payment provider."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing.models import BillingAccount
from portal.billing.plans import FREE, PLANS, TRIAL_PLAN, Plan, get_plan
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.models import insert_for, new_public_id, utcnow
from portal.orgs.models import Organization
from portal.tenancy import get_unscoped_or_404, scoped_by_org_id, unscoped
from portal.tokens import external_url

LIVE = ("active", "trialing", "past_due")  # statuses that keep the plan (past_due: within the grace period)


def insert_ignoring_duplicates(model, values: dict, unique: list[str]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING on either backend: the new row's id, or None when the row existed."""
    statement = insert_for(model, db.session.get_bind().dialect.name).values(**values).on_conflict_do_nothing(index_elements=unique).returning(model.id)
    # RETURNING rather than rowcount: with RETURNING (which PostgreSQL inserts get) the driver reports no rowcount.
    return db.session.execute(statement).scalar()


_ACCOUNT = scoped_by_org_id(BillingAccount)  # read on every page (the banner, the plan): built once, see scoped_by_org_id
_KNOWN = "billing_accounts"  # the unit of work's session.info: org id -> its account, held while the session lives
_ABSENT = "billing_accounts_absent"  # session.info: (transaction, org ids found to have no account in it)


@event.listens_for(Session, "after_rollback")
def _forget_accounts(session: Session) -> None:
    """A rollback may undo the row an account held here was loaded from (a first usage creates it): forget them all.
    A refused request that renders its page again (the run form over a plan's limit) would otherwise read a gone row."""
    session.info.pop(_KNOWN, None)


def find_account(org: Organization) -> BillingAccount | None:
    """The org's billing account, or None when it never had one (it is on the free plan).

    A page asks several times (plan, limits, usage, the nav): after the first query the unit of work's session
    answers with the row it loaded (held here: the identity map alone lets go of it), refreshed after a commit
    like any loaded row. An org without one (every org on the free plan) is remembered as such for the rest of the
    transaction, so a page of a free org asks once too; `account()` forgets that when it creates the row.
    """
    known = db.session.info.setdefault(_KNOWN, {})
    acct = known.get(org.id)
    if acct is not None and inspect(acct).persistent and inspect(acct).session is db.session():
        return acct
    absent = db.session.info.get(_ABSENT)
    if absent is not None and absent[0] is db.session().get_transaction() and org.id in absent[1]:
        return None
    acct = db.session.scalar(_ACCOUNT, {"org_id": org.id})
    if acct is not None:
        known[org.id] = acct
        return acct
    transaction = db.session().get_transaction()
    if absent is None or absent[0] is not transaction:  # a new transaction: what the last one found no longer holds
        absent = db.session.info[_ABSENT] = (transaction, set())
    absent[1].add(org.id)
    return None


def has_subscription(acct: BillingAccount | None) -> bool:
    """True when the account has a provider subscription that still holds (a change of plan updates it)."""
    return bool(acct and acct.stripe_subscription_id and acct.status in LIVE)


def account(org: Organization) -> BillingAccount:
    """The org's billing account, created on first need (two requests at once create one)."""
    found = find_account(org)
    if found is None:
        absent = db.session.info.get(_ABSENT)
        if absent is not None:
            absent[1].discard(org.id)
        insert_ignoring_duplicates(BillingAccount, {"org_id": org.id, "public_id": new_public_id(BillingAccount.public_id_prefix),
                                                    "plan": "free", "status": "active", "created_at": utcnow(), "updated_at": utcnow()},
                                   ["org_id"])
        found = find_account(org)
    return found


def account_by_customer(customer_id: str | None) -> BillingAccount | None:
    """The account of a provider customer id (a webhook names the customer, not the org)."""
    if not customer_id:
        return None
    query = unscoped(BillingAccount, reason="a payment provider's event names its customer; the customer maps to one org")
    return db.session.scalar(query.where(BillingAccount.stripe_customer_id == customer_id))


def grace_days() -> int:
    """Days a failed payment keeps the paid plan (BILLING_GRACE_DAYS)."""
    return int(current_app.config.get("BILLING_GRACE_DAYS", 7))


def grace_ends_at(acct: BillingAccount | None) -> datetime | None:
    """When a failed payment's grace period ends (None while payments are fine)."""
    if acct is None or acct.payment_failed_at is None:
        return None
    return acct.payment_failed_at + timedelta(days=grace_days())


def effective_plan(acct: BillingAccount | None, now: datetime | None = None) -> Plan:
    """The plan whose limits apply now: free for no account, an ended trial or subscription, or an unpaid
    invoice past its grace period; the account's plan otherwise. Nothing is deleted on a fallback."""
    now = now or utcnow()
    if acct is None or acct.status not in LIVE:
        return FREE
    if acct.status == "trialing" and acct.trial_end is not None and acct.trial_end <= now and not acct.stripe_subscription_id:
        return FREE  # the portal's own trial ended without a subscription
    ends = grace_ends_at(acct)
    if ends is not None and ends <= now:
        return FREE
    return get_plan(acct.plan)


def plan_changes_at(acct: BillingAccount | None, now: datetime | None = None) -> datetime | None:
    """When effective_plan(acct) next changes with no write to the account (a trial or grace period ends), or None."""
    now = now or utcnow()
    if acct is None or acct.status not in LIVE:
        return None
    moments = [grace_ends_at(acct)]
    if acct.status == "trialing" and not acct.stripe_subscription_id:
        moments.append(acct.trial_end)
    ahead = [m for m in moments if m is not None and m > now]
    return min(ahead) if ahead else None


def plan_of(org: Organization, now: datetime | None = None) -> Plan:
    """The plan whose limits apply to org now."""
    return effective_plan(find_account(org), now)


def limit_of(org: Organization, metric: str) -> int | None:
    """org's limit of metric under its plan now (None: unlimited)."""
    return plan_of(org).limit(metric)


def billing_url(org: Organization) -> str:
    """The org's billing page, absolute (for emails and API errors)."""
    return external_url("billing.index", org_slug=org.slug)


def upgrade_url(org: Organization) -> str:
    """Where an org over a limit gets more: its plans page."""
    return external_url("billing.plans", org_slug=org.slug)


def start_trial(org: Organization, by: User | None = None) -> BillingAccount:
    """Give an org on the free plan a trial of Pro, once, without a card."""
    acct = account(org)
    if acct.trial_used:
        raise Conflict("This organization has already had its trial.", code="trial_used")
    if effective_plan(acct) != FREE:
        raise Conflict("Trials are for organizations on the free plan.", code="not_on_free")
    days = int(current_app.config.get("BILLING_TRIAL_DAYS", 14))
    acct.plan, acct.interval, acct.status, acct.trial_used = TRIAL_PLAN, None, "trialing", True
    acct.trial_end = utcnow() + timedelta(days=days)
    acct.current_period_start, acct.current_period_end, acct.cancel_at_period_end = utcnow(), acct.trial_end, False
    db.session.flush()
    return acct


def assign_plan(org: Organization, plan_key: str, by: User) -> BillingAccount:
    """A super admin puts an org on a plan (the embedded default's way in; also a comp on Stripe installs)."""
    if plan_key not in PLANS:
        raise ValidationFailed({"plan": f"Choose one of: {', '.join(PLANS)}."})
    acct = account(org)
    acct.plan, acct.status, acct.interval, acct.trial_end = plan_key, "active", None, None
    acct.cancel_at_period_end, acct.payment_failed_at, acct.assigned_by_id = False, None, by.id
    db.session.flush()
    return acct


def org_for_console(public_id: str) -> Organization:
    """An org by public id for the platform console, or NotFound."""
    return get_unscoped_or_404(Organization, public_id, reason="super admins assign plans to any org")


def all_accounts() -> list[tuple[Organization, BillingAccount | None]]:
    """Every org with its billing account (None: never had one), for the platform console."""
    orgs = db.session.scalars(unscoped(Organization, reason="the platform console lists every org's plan").order_by(Organization.name)).all()
    query = unscoped(BillingAccount, reason="the platform console lists every org's plan")
    accounts = {a.org_id: a for a in db.session.scalars(query.where(BillingAccount.org_id.in_([o.id for o in orgs] or [0])))}
    return [(o, accounts.get(o.id)) for o in orgs]


def monthly_revenue(acct: BillingAccount | None) -> int:
    """The account's monthly recurring revenue in cents (a yearly price spread over 12 months)."""
    if acct is None or acct.status not in ("active", "past_due") or not acct.stripe_subscription_id:
        return 0
    plan = get_plan(acct.plan)
    return plan.prices["year"] // 12 if acct.interval == "year" else plan.prices["month"]

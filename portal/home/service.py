"""The org home page's read model: one function that asks each domain's service for what this member should see.

Read-only (it writes nothing), and a leaf: no domain imports it, so gathering from every domain adds no cycle."""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.accounts.models import User
from portal.billing import service as billing
from portal.billing.plans import METERED
from portal.keys import service as keys
from portal.notifications import service as notifications
from portal.orgs import service as orgs
from portal.orgs.models import Membership, Organization
from portal.roles import role_allows
from portal.support import service as support
from portal.workflows import service as workflows

CHART_DAYS = 14
LIST_LENGTH = 5


@dataclass
class Overview:
    """Everything the home page shows; sections a role may not see stay empty (None for the counts)."""

    approvals: list = field(default_factory=list)
    my_runs: list = field(default_factory=list)
    tickets: list = field(default_factory=list)
    tickets_are_everyones: bool = False
    unread: list = field(default_factory=list)
    unread_count: int = 0
    expiring_keys: list = field(default_factory=list)
    members: int | None = None
    invitations: int | None = None
    usage: list = field(default_factory=list)
    runs_by_day: list = field(default_factory=list)
    api_calls_by_day: list = field(default_factory=list)


def overview(org: Organization, user: User, membership: Membership) -> Overview:
    """What `user` should see first on `org`'s home page, by what their role allows."""
    role = membership.role
    view = Overview()
    if role_allows(role, "workflows.run"):
        view.approvals = workflows.waiting_for_approval(org, user, role, LIST_LENGTH)
        view.my_runs = workflows.recent_runs_of(org, user, LIST_LENGTH)
        view.runs_by_day = workflows.runs_per_day(org, CHART_DAYS)
    if role_allows(role, "tickets.create"):
        view.tickets_are_everyones = role_allows(role, "tickets.view_all")
        view.tickets, _next = support.customer_queue(org, user, membership, support.QueueFilters(status="active"), per_page=LIST_LENGTH)
    page = notifications.inbox(org, user, unread_only=True, per_page=LIST_LENGTH)
    view.unread, view.unread_count = page.items, page.total
    if role_allows(role, "keys.create"):
        view.expiring_keys = keys.expiring_soon(org, membership, limit=LIST_LENGTH)
    if role_allows(role, "keys.manage"):
        view.api_calls_by_day = keys.org_usage_per_day(org, CHART_DAYS)
    heads = orgs.head_count(org) if any(role_allows(role, p) for p in ("members.view", "members.manage", "billing.manage")) else None
    if role_allows(role, "members.view"):
        view.members = heads.members
    if role_allows(role, "members.manage"):
        view.invitations = heads.invited
    if role_allows(role, "billing.manage"):
        # The month's metered usage and the seats (counted above): the billing page has the rest.
        view.usage = [u for u in billing.usage_report(org, metrics=(*METERED, "seats"), held={"seats": heads.seats}) if u.used is not None]
    return view

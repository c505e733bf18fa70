"""The support desk at a glance, for platform staff's home pages: how many active tickets there are and how
many are unassigned or past their SLA, the tickets closest to (or past) their deadline, and the organizations
with the most open tickets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.orgs.models import Organization
from portal.support.models import FINISHED, Ticket
from portal.tenancy import unscoped

AT_RISK_STATES = ("warning", "breached")
WHY = "platform staff's home: the support desk across organizations"


@dataclass(frozen=True)
class DeskHealth:
    active: int
    unassigned: int
    warning: int
    breached: int


@dataclass(frozen=True)
class OrgLoad:
    org: Organization
    open: int
    breached: int


def _active():
    return unscoped(Ticket, reason=WHY).where(Ticket.status.not_in(FINISHED))


def desk_health() -> DeskHealth:
    """Active (not resolved or closed) tickets: how many, unassigned, in SLA warning, past their SLA; one statement."""
    counts = _active().with_only_columns(
        func.count(Ticket.id),
        func.count(case((Ticket.assignee_id.is_(None), 1))),
        func.count(case((Ticket.sla_state == "warning", 1))),
        func.count(case((Ticket.sla_state == "breached", 1))),
    )
    active, unassigned, warning, breached = db.session.execute(counts).one()
    return DeskHealth(active=active, unassigned=unassigned, warning=warning, breached=breached)


def at_risk(limit: int = 8) -> list[Ticket]:
    """Active tickets in SLA warning or past it, the nearest resolution deadline (or the longest overdue) first."""
    query = (_active().where(Ticket.sla_state.in_(AT_RISK_STATES))
             .options(joinedload(Ticket.org), joinedload(Ticket.assignee))
             .order_by(Ticket.resolution_due_at, Ticket.id).limit(limit))
    return list(db.session.scalars(query))


def busiest_orgs(limit: int = 5) -> list[OrgLoad]:
    """The organizations with the most active tickets, with how many of those are past their SLA."""
    breached = func.count(case((Ticket.sla_state == "breached", 1)))
    query = (_active().with_only_columns(Ticket.org_id, func.count(Ticket.id), breached)
             .group_by(Ticket.org_id).order_by(func.count(Ticket.id).desc(), Ticket.org_id).limit(limit))
    rows = db.session.execute(query).all()
    orgs = {o.id: o for o in db.session.scalars(unscoped(Organization, reason=WHY).where(Organization.id.in_([r[0] for r in rows])))}
    return [OrgLoad(org=orgs[org_id], open=n, breached=b) for org_id, n, b in rows if org_id in orgs]

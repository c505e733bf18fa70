"""The nav's search: the current org's tickets, workflows, runs, members and keys matching what was typed, each
domain asked through its own service (so each keeps its own visibility rule: a user finds only their tickets and keys)."""

from __future__ import annotations

from dataclasses import dataclass

from portal.accounts.models import User
from portal.keys import service as keys
from portal.orgs import service as orgs
from portal.orgs.models import Membership, Organization
from portal.roles import role_allows
from portal.search import MAX_QUERY
from portal.support import service as support
from portal.workflows import service as workflows

PER_KIND = 5


@dataclass
class Found:
    """One kind of result: its heading and the objects found (at most PER_KIND)."""

    kind: str
    heading: str
    items: list


def find(org: Organization, user: User, membership: Membership, text: str) -> list[Found]:
    """What in org matches text for this member, by kind, in a fixed order; nothing for blank text."""
    text = (text or "").strip()[:MAX_QUERY]
    if not text:
        return []
    role = membership.role
    found = []
    if role_allows(role, "tickets.create"):
        tickets, _next = support.customer_queue(org, user, membership, support.QueueFilters(q=text), per_page=PER_KIND)
        found.append(Found("tickets", "Tickets", tickets))
    if role_allows(role, "workflows.run"):
        found.append(Found("workflows", "Workflows", workflows.find_workflows(org, text, PER_KIND)))
        found.append(Found("runs", "Runs", workflows.find_runs(org, text, PER_KIND)))
    if role_allows(role, "members.view"):
        found.append(Found("members", "Members", orgs.list_members(org, q=text, per_page=PER_KIND).items))
    if role_allows(role, "keys.create"):
        found.append(Found("keys", "API keys", keys.list_keys(org, membership, q=text, per_page=PER_KIND).items))
    return found

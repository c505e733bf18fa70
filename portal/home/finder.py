"""The nav's search: the current org's tickets, workflows, runs, members and keys matching what was typed, each
domain asked through its own service (so each keeps its own visibility rule: a user finds only their tickets and keys).
A ticket's short number ("#1042", or "1042" alone) finds that ticket of the org, first among the tickets."""

from __future__ import annotations

import re
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
# "#1042", "# 1042" or "1042": a ticket's short number (at most 9 digits, inside the column's 32-bit integer)
TICKET_NUMBER = re.compile(r"#?\s*(\d{1,9})")


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
        number = TICKET_NUMBER.fullmatch(text)
        numbered = support.ticket_by_number(org, user, membership, int(number.group(1))) if number else None
        if numbered is not None:
            tickets = [numbered, *(t for t in tickets if t.id != numbered.id)][:PER_KIND]
        found.append(Found("tickets", "Tickets", tickets))
    if role_allows(role, "workflows.run"):
        found.append(Found("workflows", "Workflows", workflows.find_workflows(org, text, PER_KIND)))
        found.append(Found("runs", "Runs", workflows.find_runs(org, text, PER_KIND)))
    if role_allows(role, "members.view"):
        found.append(Found("members", "Members", orgs.list_members(org, q=text, per_page=PER_KIND).items))
    if role_allows(role, "keys.create"):
        found.append(Found("keys", "API keys", keys.list_keys(org, membership, q=text, per_page=PER_KIND).items))
    return found

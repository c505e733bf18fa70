"""The words people read for support's codes (statuses, priorities, categories, SLA states and targets), and file
sizes in words: one mapping, used by every support page, form and message. A leaf module: it imports nothing."""

from __future__ import annotations

STATUS_LABELS = {"open": "Open", "in_progress": "In progress", "waiting_on_customer": "Waiting on customer", "resolved": "Resolved",
                 "closed": "Closed"}
PRIORITY_LABELS = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
CATEGORY_LABELS = {"question": "Question", "bug": "Bug", "billing": "Billing", "account": "Account", "feature_request": "Feature request",
                   "other": "Other"}
NO_REPLY = "Closed without a reply"  # a finished ticket whose first response target nobody answered
SLA_LABELS = {"ok": "On track", "warning": "Due soon", "breached": "Breached", "paused": "Paused", "met": "Met", "unanswered": NO_REPLY}
TARGET_LABELS = {"first_response": "First response", "resolution": "Resolution"}

LABELS = {"status": STATUS_LABELS, "priority": PRIORITY_LABELS, "category": CATEGORY_LABELS, "sla": SLA_LABELS, "target": TARGET_LABELS}


def plural(count: int, noun: str) -> str:
    """'1 ticket', '3 tickets', '0 tickets'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def label(code: str | None, kind: str) -> str:
    """The words for a code of one kind ("status", "priority", "category", "sla", "target"); an unknown code as it is."""
    if code is None:
        return ""
    return LABELS[kind].get(code, code)


def choices(kind: str) -> list[tuple[str, str]]:
    """(code, words) pairs for a select: the option values stay the codes."""
    return list(LABELS[kind].items())


def unanswered(ticket) -> bool:
    """True when the ticket was resolved or closed before any agent replied: its first response target was never met."""
    return not ticket.is_open and ticket.first_response_at is None


def sla_label(ticket) -> str:
    """The ticket's stored overall SLA state in words ("unanswered" reads "Closed without a reply", never "Met")."""
    return label(ticket.sla_state, "sla")


def sla_target(ticket, name: str, status: dict) -> str:
    """One SLA target as the agent page shows it: 'First response 12 / 240 business min', '(done)' once met, or
    'First response: Closed without a reply' when the ticket was finished before any agent replied."""
    if name == "first_response" and unanswered(ticket):
        return f"{label(name, 'target')}: {NO_REPLY}"
    done = " (done)" if status["done"] else ""
    return f"{label(name, 'target')} {status['used'] // 60} / {status['target'] // 60} business min{done}"

"""The event catalog: every event the platform sends, its variables, default channels and templates.

Only events something sends belong here (members set preferences for each one). Billing sends the usage
thresholds (portal.billing.services.usage) and failed payments (portal.billing.services.webhooks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHANNELS = ("in_app", "email", "sms")
CHANNEL_LABELS = {"in_app": "In-app", "email": "Email", "sms": "SMS"}
# Variables every template may use, whatever the event.
COMMON_VARIABLES = ("org_name", "recipient_name", "url")


@dataclass(frozen=True)
class Event:
    name: str
    description: str
    variables: tuple[str, ...]
    subject: str
    body: str
    sms: str
    channels: frozenset[str] = field(default_factory=lambda: frozenset({"in_app", "email"}))
    critical: bool = False  # security events: cannot be muted, ignore quiet hours

    @property
    def all_variables(self) -> tuple[str, ...]:
        return (*COMMON_VARIABLES, *self.variables)

    def default_template(self, channel: str) -> tuple[str, str]:
        """(subject, body) of the built-in template for a channel."""
        if channel == "sms":
            return "", self.sms
        return self.subject, self.body


def _e(name, description, variables, subject, body, sms, channels=("in_app", "email"), critical=False) -> Event:
    return Event(name, description, tuple(variables), subject, body, sms, frozenset(channels), critical)


EVENTS: dict[str, Event] = {
    e.name: e
    for e in [
        _e(
            "member.invited", "Someone was invited to the organization", ("inviter_name", "role", "invite_url"),
            "You're invited to {{ org_name }} on VetrAI Portal",
            "{{ inviter_name }} invited you to join {{ org_name }} as {{ role }}.\n\nAccept the invitation: {{ invite_url }}\n\nThe link works for 7 days.",
            "{{ inviter_name }} invited you to {{ org_name }}: {{ invite_url }}",
            channels=("email",), critical=True,
        ),
        _e(
            "ticket.created", "A support ticket was filed", ("ticket_id", "ticket_number", "subject", "priority", "requester_name"),
            "New {{ priority }} ticket {{ ticket_number }}: {{ subject }}",
            "{{ requester_name }} filed a {{ priority }} ticket in {{ org_name }}, {{ ticket_number }}: {{ subject }}",
            "New {{ priority }} ticket {{ ticket_number }}: {{ subject }}",
        ),
        _e(
            "ticket.replied", "A ticket got a reply", ("ticket_id", "ticket_number", "subject", "author_name", "excerpt"),
            "New reply on {{ ticket_number }}: {{ subject }}",
            "{{ author_name }} replied to {{ ticket_number }} \"{{ subject }}\":\n\n{{ excerpt }}",
            "{{ author_name }} replied to {{ ticket_number }} \"{{ subject }}\"",
        ),
        _e(
            "ticket.assigned", "A ticket was assigned", ("ticket_id", "ticket_number", "subject", "assignee_name"),
            "Assigned to {{ assignee_name }}: {{ ticket_number }} {{ subject }}",
            "Ticket {{ ticket_number }} \"{{ subject }}\" is now assigned to {{ assignee_name }}.",
            "{{ ticket_number }} \"{{ subject }}\" assigned to {{ assignee_name }}",
        ),
        _e(
            "ticket.status_changed", "A ticket's status changed", ("ticket_id", "ticket_number", "subject", "old_status", "new_status", "changed_by"),
            "{{ new_status }}: {{ ticket_number }} {{ subject }}",
            "{{ changed_by }} changed {{ ticket_number }} \"{{ subject }}\" from {{ old_status }} to {{ new_status }}.",
            "{{ ticket_number }} \"{{ subject }}\" is now {{ new_status }}",
        ),
        _e(
            "ticket.sla_warning", "A ticket is close to breaching its SLA", ("ticket_id", "ticket_number", "subject", "target", "due_at"),
            "SLA warning: {{ target }} due {{ due_at }} on {{ ticket_number }} \"{{ subject }}\"",
            "Ticket {{ ticket_number }} \"{{ subject }}\" reaches its {{ target }} target at {{ due_at }}.",
            "SLA warning: {{ target }} due {{ due_at }} on {{ ticket_number }} \"{{ subject }}\"",
            channels=("in_app", "email", "sms"),
        ),
        _e(
            "ticket.sla_breached", "A ticket breached its SLA", ("ticket_id", "ticket_number", "subject", "target"),
            "SLA breached: {{ target }} on {{ ticket_number }} \"{{ subject }}\"",
            "Ticket {{ ticket_number }} \"{{ subject }}\" missed its {{ target }} target.",
            "SLA breached: {{ target }} on {{ ticket_number }} \"{{ subject }}\"",
            channels=("in_app", "email", "sms"),
        ),
        _e(
            "workflow.succeeded", "A workflow run finished", ("workflow_name", "run_id", "duration"),
            "{{ workflow_name }} finished",
            "The {{ workflow_name }} run succeeded in {{ duration }}.",
            "{{ workflow_name }} run succeeded",
            channels=("in_app",),
        ),
        _e(
            "workflow.failed", "A workflow run failed", ("workflow_name", "run_id", "error"),
            "{{ workflow_name }} failed",
            "The {{ workflow_name }} run failed: {{ error }}",
            "{{ workflow_name }} run failed: {{ url }}",
        ),
        _e(
            "workflow.rejected", "A workflow run was rejected at its approval", ("workflow_name", "run_id", "approver_name", "reason"),
            "{{ workflow_name }} was rejected",
            "{{ approver_name }} rejected the {{ workflow_name }} run: {{ reason }}",
            "{{ workflow_name }} run rejected by {{ approver_name }}: {{ url }}",
        ),
        _e(
            "workflow.needs_approval", "A workflow run waits for approval", ("workflow_name", "run_id", "step"),
            "{{ workflow_name }} needs your approval",
            "A {{ workflow_name }} run is waiting for your approval at step {{ step }}.",
            "{{ workflow_name }} needs approval: {{ url }}",
        ),
        _e(
            "key.expiring", "An API key expires soon", ("key_name", "key_prefix", "expires_at", "days_left"),
            "API key {{ key_name }} expires in {{ days_left }} day(s)",
            "Your API key {{ key_name }} ({{ key_prefix }}…) expires on {{ expires_at }}. Rotate it before then to avoid failed calls.",
            "API key {{ key_name }} expires in {{ days_left }} day(s)",
            critical=True,
        ),
        _e(
            "usage.threshold_reached", "The organization used 80%, 90% or 100% of a plan limit",
            ("metric", "percent", "used", "limit", "period_end"),
            "{{ org_name }} has used {{ percent }}% of its {{ metric }}",
            "{{ org_name }} has used {{ used }} of its {{ limit }} {{ metric }} ({{ percent }}%) in the period ending {{ period_end }}.\n\nSee usage or upgrade: {{ url }}",
            "{{ org_name }}: {{ percent }}% of {{ metric }} used",
        ),
        _e(
            "invoice.payment_failed", "A payment for the organization's plan failed", ("invoice_number", "amount", "grace_ends"),
            "Payment failed for {{ org_name }}: invoice {{ invoice_number }}",
            "The payment of {{ amount }} for invoice {{ invoice_number }} failed. Update the payment method before {{ grace_ends }}, or {{ org_name }} falls back to the free plan's limits (nothing is deleted).\n\n{{ url }}",
            "Payment of {{ amount }} failed for {{ org_name }}; update it before {{ grace_ends }}",
            critical=True,
        ),
        _e(
            "message", "A message sent through the API", ("title", "body"),
            "{{ title }}",
            "{{ body }}",
            "{{ title }}: {{ body }}",
            channels=("in_app", "email", "sms"),
        ),
    ]
}


# The data field that names each event's object (its public id): the inbox links to it, and an action item
# is resolved by it (portal.notifications.links builds the URL). Billing's events are about the org itself.
OBJECT_KEYS = {
    "member.invited": "invitation_id",
    **{name: "ticket_id" for name in EVENTS if name.startswith("ticket.")},
    **{name: "run_id" for name in EVENTS if name.startswith("workflow.")},
    "key.expiring": "key_id",
}


def object_id(event_name: str, data: dict) -> str | None:
    """The public id of the object a notification is about, when its event has one and data carries it."""
    key = OBJECT_KEYS.get(event_name)
    value = data.get(key) if key else None
    return str(value) if value else None


def get_event(name: str) -> Event:
    """The catalog entry for name; KeyError for an unknown event."""
    return EVENTS[name]

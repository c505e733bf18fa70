"""The event catalog holds every event the portal sends, each with variables, channels, a critical flag and
a default template per channel that the sandbox accepts with only the event's own variables."""

import pytest

from portal.notifications import templating
from portal.notifications.catalog import CHANNELS, EVENTS

ISSUE_EVENTS = (
    "member.invited", "ticket.created", "ticket.replied", "ticket.assigned", "ticket.sla_warning",
    "ticket.sla_breached", "workflow.succeeded", "workflow.failed", "workflow.needs_approval", "key.expiring",
    "message", "usage.threshold_reached", "invoice.payment_failed",
)
# Events nothing sends yet: members are not offered preferences for them. (Billing's two joined with their
# senders: portal.billing.services.usage and portal.billing.services.webhooks.)
UNSENT_EVENTS: tuple[str, ...] = ()


def test_every_event_of_the_issue_is_in_the_catalog():
    assert set(ISSUE_EVENTS) <= set(EVENTS)


def test_events_nothing_sends_are_not_in_the_catalog():
    assert not set(UNSENT_EVENTS) & set(EVENTS)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_each_event_declares_variables_and_default_channels(name):
    event = EVENTS[name]
    assert event.variables, f"{name} declares no variables"
    assert event.channels and event.channels <= set(CHANNELS)
    assert event.description


def test_security_events_are_critical_and_the_rest_are_not():
    assert {n for n, e in EVENTS.items() if e.critical} == {"member.invited", "key.expiring", "invoice.payment_failed"}


@pytest.mark.parametrize("name", sorted(EVENTS))
@pytest.mark.parametrize("channel", CHANNELS)
def test_default_templates_render_in_the_sandbox_with_declared_variables(name, channel):
    event = EVENTS[name]
    subject, body = event.default_template(channel)
    # The same check an org admin's override goes through: declared variables only, renders in the sandbox.
    templating.validate_override(event, channel, subject, body)
    rendered = templating.render(body, templating.sample_data(event))
    assert rendered.strip() and "{{" not in rendered
    if channel != "sms":
        assert templating.render(subject, templating.sample_data(event)).strip()

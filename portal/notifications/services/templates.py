"""Org template overrides (checked by the sandbox in `templating`) and rendering a message with them."""

from __future__ import annotations

import logging

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.notifications import templating
from portal.notifications.catalog import CHANNELS, Event, get_event
from portal.notifications.models import NotificationTemplate
from portal.orgs.models import Organization
from portal.tenancy import scoped

log = logging.getLogger(__name__)


def known_event(name: str) -> Event:
    """The catalog's event, or ValidationFailed naming the `event` field."""
    try:
        return get_event(name)
    except KeyError as exc:
        raise ValidationFailed({"event": f"Unknown event {name!r}."}) from exc


def _override(org: Organization, event: Event, channel: str) -> NotificationTemplate | None:
    return db.session.scalar(scoped(NotificationTemplate, org).filter_by(event=event.name, channel=channel))


def template_for(org: Organization, event: Event, channel: str) -> tuple[str, str, bool]:
    """(subject, body, customized) used for this org, event and channel."""
    override = _override(org, event, channel)
    if override is not None:
        return override.subject, override.body, True
    return (*event.default_template(channel), False)


def save_template(org: Organization, event_name: str, channel: str, subject: str, body: str) -> NotificationTemplate:
    """Store an org's override after checking it renders in the sandbox with the event's variables."""
    event = known_event(event_name)
    if channel not in CHANNELS:
        raise ValidationFailed({"channel": "Unknown channel."})
    templating.validate_override(event, channel, subject, body)
    row = _override(org, event, channel)
    if row is None:
        row = NotificationTemplate(org_id=org.id, event=event.name, channel=channel, subject=subject, body=body)
        db.session.add(row)
    else:
        row.subject, row.body = subject, body
    db.session.flush()
    return row


def reset_template(org: Organization, event_name: str, channel: str) -> None:
    """Go back to the built-in template."""
    row = _override(org, known_event(event_name), channel)
    if row is not None:
        db.session.delete(row)
        db.session.flush()


def preview(event_name: str, channel: str, subject: str, body: str) -> dict:
    """Render a draft on sample data: {"subject", "body"} or {"errors"}."""
    event = known_event(event_name)
    try:
        templating.validate_override(event, channel, subject, body)
    except ValidationFailed as exc:
        return {"errors": exc.fields}
    data = templating.sample_data(event)
    return {"subject": templating.render(subject, data) if subject else "", "body": templating.render(body, data)}


def render_for(org: Organization, event: Event, channel: str, data: dict, cache: dict | None = None) -> tuple[str, str]:
    """(subject, body) of the org's template for event and channel, rendered with data."""
    cache = {} if cache is None else cache
    key = (org.id, event.name, channel)
    if key not in cache:
        cache[key] = template_for(org, event, channel)[:2]
    subject, body = cache[key]
    try:
        return templating.render(subject, data), templating.render(body, data)
    except templating.TemplateProblem:
        # A customized template that no longer fits its data must not lose the message.
        log.warning("org %s template for %s/%s failed; using the default", org.slug, event.name, channel)
        default_subject, default_body = event.default_template(channel)
        return templating.render(default_subject, data), templating.render(default_body, data)

"""The notification service: `notify()` (or, for one member given by id, `notify_member()`) is the only way in for every domain.

A façade over `services/`, one module per concern, so that views, the API, jobs, tests and other domains
keep calling `notifications.service.<name>`.
"""

from __future__ import annotations

from portal.notifications.services.deliveries import deliveries, reconcile, record_sms_status, resend
from portal.notifications.services.fanout import Recipient, notify, notify_member, send_to_members
from portal.notifications.services.inbox import (
    archive,
    inbox,
    latest,
    mark_all_read,
    mark_read,
    mark_read_about,
    notification_deliveries,
    own_notification,
    resolve_for,
    staff_inbox,
    unread_count,
)
from portal.notifications.services.phone import confirm_phone, remove_phone, start_phone_verification
from portal.notifications.services.preferences import (
    find_profile,
    preference_matrix,
    profile_for,
    quiet_until,
    replace_preferences,
    resolve,
    save_preferences,
    set_quiet_hours,
)
from portal.notifications.services.templates import preview, render_for, reset_template, save_template, template_for
from portal.notifications.services.unsubscribe import from_unsubscribe_token, unsubscribe, unsubscribe_token

__all__ = [
    "Recipient", "archive", "confirm_phone", "deliveries", "find_profile", "from_unsubscribe_token", "inbox",
    "latest", "mark_all_read", "mark_read", "mark_read_about", "notification_deliveries", "notify", "notify_member", "own_notification", "preference_matrix",
    "preview", "profile_for", "quiet_until", "reconcile", "record_sms_status", "remove_phone", "render_for",
    "replace_preferences", "resend", "reset_template", "resolve", "resolve_for", "save_preferences", "save_template", "send_to_members",
    "set_quiet_hours", "staff_inbox", "start_phone_verification", "template_for", "unread_count", "unsubscribe",
    "unsubscribe_token",
]

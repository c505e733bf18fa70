"""key.expiring reminders: 7 days and 1 day before a key expires, once per threshold, however many schedulers run."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import or_, update

from portal.extensions import db
from portal.keys.models import ApiKey
from portal.models import utcnow
from portal.notifications.service import notify
from portal.orgs.models import Organization
from portal.tenancy import unscoped

EXPIRY_NOTICE_DAYS = (7, 1)  # key.expiring goes out this many days before a key expires, once each


def _claim(key: ApiKey, threshold: int) -> bool:
    """Record that key's notice for threshold is going out, unless it went out already: True for the one
    caller that changed the row. One UPDATE whose WHERE rechecks the flag, so that of two schedulers running
    at once the second waits for the first's row lock, sees its committed flag and claims nothing."""
    claimed = db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id, or_(ApiKey.expiry_notice_days.is_(None), ApiKey.expiry_notice_days > threshold))
        .values(expiry_notice_days=threshold)
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1


def notify_expiring(now: datetime | None = None) -> int:
    """Send key.expiring to each active key's owner 7 days and 1 day before it expires, once per threshold;
    returns the notices sent. The claims and the notifications commit together (the job's unit of work)."""
    now = now or utcnow()
    horizon = now + timedelta(days=max(EXPIRY_NOTICE_DAYS))
    candidates = db.session.scalars(
        unscoped(ApiKey, reason="the expiry reminder job looks at every organization's keys")
        .join(Organization, Organization.id == ApiKey.org_id)
        .where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > now, ApiKey.expires_at <= horizon, Organization.is_suspended.is_(False))
        .order_by(ApiKey.id)  # one order for every scheduler: their row locks never deadlock
    ).all()
    sent = 0
    for key in candidates:
        left = (key.expires_at - now).total_seconds() / 86_400
        threshold = min(t for t in EXPIRY_NOTICE_DAYS if left <= t)
        if not _claim(key, threshold):
            continue
        org = db.session.get(Organization, key.org_id)
        data = {"key_id": key.public_id, "key_name": key.name, "key_prefix": key.prefix, "expires_at": key.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
                "days_left": max(1, math.ceil(left))}
        notify(org, [key.owner], "key.expiring", data)
        sent += 1
    return sent

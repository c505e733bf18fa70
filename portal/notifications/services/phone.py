"""Phone verification: a 6-digit code by SMS, typed back within ten minutes and five tries."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app

from portal.accounts.models import User
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.infra.sms import SMSError, is_e164, send_sms
from portal.models import utcnow
from portal.notifications.models import NotificationProfile
from portal.notifications.services.preferences import profile_for

MAX_ATTEMPTS = 5
CODE_LIFETIME = timedelta(minutes=10)


def _code_hash(code: str) -> str:
    return hmac.new(current_app.secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


def start_phone_verification(user: User, phone: str) -> None:
    """Send a 6-digit code to phone; SMS is enabled for the user once they type it back."""
    phone = (phone or "").strip().replace(" ", "")
    if not is_e164(phone):
        raise ValidationFailed({"phone": "Use the international format with a plus sign, like +14155550123."})
    profile = profile_for(user)
    code = f"{secrets.randbelow(10**6):06d}"
    try:
        # Sent now, not after the commit: the person waits on this page to hear whether the number works.
        send_sms(phone, f"Your VetrAI Portal verification code is {code}. It expires in 10 minutes.")
    except SMSError as exc:
        # The unit of work rolls back what this request flushed (a new profile, say): nothing is kept.
        raise ValidationFailed({"phone": f"We couldn't send a code to this number: {exc}"}) from exc
    profile.pending_phone = phone
    profile.code_hash = _code_hash(code)
    profile.code_expires_at = utcnow() + CODE_LIFETIME
    profile.code_attempts = 0
    db.session.flush()


def confirm_phone(user: User, code: str) -> NotificationProfile:
    """Check the code; five wrong tries or ten minutes end it."""
    profile = profile_for(user)
    if not profile.pending_phone or not profile.code_hash:
        raise ValidationFailed({"code": "Ask for a code first."})
    if profile.code_expires_at < utcnow() or profile.code_attempts >= MAX_ATTEMPTS:
        raise ValidationFailed({"code": "This code has expired. Ask for a new one."})
    if not hmac.compare_digest(profile.code_hash, _code_hash((code or "").strip())):
        profile.code_attempts += 1
        db.session.flush()
        # Refused, but the attempt is kept: otherwise every wrong guess would be free.
        raise ValidationFailed({"code": "That code is not right."}, persist=True)
    profile.phone, profile.phone_verified_at = profile.pending_phone, utcnow()
    profile.pending_phone = profile.code_hash = profile.code_expires_at = None
    db.session.flush()
    return profile


def remove_phone(user: User) -> None:
    """Forget the user's phone number (verified or pending): SMS stops reaching them."""
    profile = profile_for(user)
    profile.phone = profile.phone_verified_at = profile.pending_phone = profile.code_hash = None
    db.session.flush()

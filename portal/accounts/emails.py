"""The account emails (verify an address, reset a password): their signed links and the job that sends them.

A leaf of the accounts domain: the service enqueues `send_account_email` by reference, so this module
must not import the service.
"""

from __future__ import annotations

from portal.accounts.models import User
from portal.extensions import db
from portal.infra.mail import send_mail
from portal.themes.email import look_for, render_email
from portal.tokens import external_url, make_token

SUBJECTS = {"verify": "Verify your email for VetrAI Portal", "reset": "Reset your VetrAI Portal password"}


def verification_token(user: User) -> str:
    """A signed token that proves the holder reads the user's current address."""
    return make_token("verify", {"u": user.public_id, "e": user.email})


def reset_token(user: User) -> str:
    """A signed, single-use token for a password reset."""
    # The tail of the current hash makes the link single-use: it dies when the password changes.
    return make_token("reset", {"u": user.public_id, "h": user.password_hash[-16:]})


def send_account_email(kind: str, user_id: int) -> str | None:
    """Job: send the verification or reset email to a user, with a freshly signed link."""
    user = db.session.get(User, user_id)
    if user is None:
        return None
    if kind == "verify":
        if user.is_verified:
            return None
        link = external_url("accounts.verify", token=verification_token(user))
    else:
        link = external_url("accounts.reset_password", token=reset_token(user))
    # An account belongs to no organization: these emails wear the platform's look.
    text, html = render_email(kind, look_for(None), user=user, link=link, subject=SUBJECTS[kind])
    return send_mail(user.email, SUBJECTS[kind], text, html)

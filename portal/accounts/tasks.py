"""Background jobs of the accounts domain: they take ids and reload."""

from flask import render_template

from portal.extensions import db
from portal.infra.mail import send_mail
from portal.tokens import external_url

SUBJECTS = {"verify": "Verify your email for VetrAI Portal", "reset": "Reset your VetrAI Portal password"}


def send_account_email(kind: str, user_id: int) -> str | None:
    """Send the verification or reset email to a user, with a freshly signed link."""
    from portal.accounts import service
    from portal.accounts.models import User

    user = db.session.get(User, user_id)
    if user is None:
        return None
    if kind == "verify":
        if user.is_verified:
            return None
        link = external_url("accounts.verify", token=service.verification_token(user))
    else:
        link = external_url("accounts.reset_password", token=service.reset_token(user))
    ctx = {"user": user, "link": link}
    return send_mail(
        user.email,
        SUBJECTS[kind],
        render_template(f"email/{kind}.txt", **ctx),
        render_template(f"email/{kind}.html", **ctx),
    )

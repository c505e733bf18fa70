"""Background jobs of the orgs domain."""

from flask import render_template

from portal.extensions import db
from portal.infra.mail import send_mail
from portal.tokens import external_url


def send_invitation_email(invitation_id: int) -> str | None:
    """Email the signed invitation link, unless the invitation is no longer pending."""
    from portal.orgs.models import Invitation
    from portal.orgs.service import invitation_token

    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.status != "pending":
        return None
    ctx = {"invitation": invitation, "link": external_url("orgs.accept_invitation", token=invitation_token(invitation))}
    return send_mail(
        invitation.email,
        f"You're invited to {invitation.org.name} on VetrAI Portal",
        render_template("email/invite.txt", **ctx),
        render_template("email/invite.html", **ctx),
    )

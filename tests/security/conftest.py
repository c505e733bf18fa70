"""Fixtures of the security tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.keys.service import create_key
from portal.models import utcnow
from portal.notifications.models import Delivery, Notification
from portal.orgs.models import Invitation, Membership
from portal.themes import service as themes
from tests.factories import OrgFactory, UserFactory, member

from .routes import World


@pytest.fixture
def world(app) -> World:
    """Org A with an admin, a member, a pending invitation, a notification, a failed delivery and an API key; org B with its own admin and member."""
    org_a = OrgFactory(name="Acme Secret Labs", slug="acme-secret")
    admin_a = member(org_a, "org_admin", email="boss@acme.test")
    member_a = member(org_a, "user", email="alice@acme.test", name="Alice Acme")
    membership_a = db.session.scalar(select(Membership).filter_by(org_id=org_a.id, user_id=member_a.id))
    invitation_a = Invitation(
        org_id=org_a.id, email="newhire@acme.test", role="user", invited_by_id=admin_a.id, expires_at=utcnow() + timedelta(days=7)
    )
    db.session.add(invitation_a)
    db.session.flush()
    notification_a = Notification(org_id=org_a.id, user_id=admin_a.id, event="member.invited", title="Acme secret memo", in_inbox=True)  # admin_a's own: the control walk opens it
    db.session.add(notification_a)
    db.session.flush()
    delivery_a = Delivery(org_id=org_a.id, notification_id=notification_a.id, channel="email", to_address=member_a.email, status="failed")
    db.session.add(delivery_a)
    # Org A's custom JavaScript, allowed by a super admin and published: /o/<slug>/theme.js is org A's own (issue 12).
    themes.set_custom_js_allowed(org_a, True, by=UserFactory(platform_role="super_admin"))
    themes.update_draft(org_a, {}, custom_js="window.brand = 'Acme Secret Labs';", by=admin_a)
    themes.publish(org_a, by=admin_a)
    db.session.commit()
    org_b = OrgFactory(name="Bravo", slug="bravo")
    admin_b = member(org_b, "org_admin", email="mallory@bravo.test")
    member(org_b, "user")
    membership_b = db.session.scalar(select(Membership).filter_by(org_id=org_b.id, user_id=admin_b.id))
    key_a, _secret = create_key(org_a, membership_a, name="Acme deploy key", scopes=["read", "write"])
    return World(org_a, admin_a, member_a, membership_a, invitation_a, notification_a, delivery_a, org_b, admin_b, membership_b, key_a)

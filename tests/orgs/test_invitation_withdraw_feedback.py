"""Withdrawing a pending invitation tells the person so: a toast for htmx, a flash after the redirect for a browser."""

import json

from sqlalchemy import select

from portal.extensions import db
from portal.orgs.models import Invitation
from tests.factories import OrgFactory, member

HTMX = {"HX-Request": "true"}


def _invitation(client, org, email):
    client.post(f"/o/{org.slug}/invitations", data={"email": email, "role": "user"}, headers=HTMX)
    return db.session.scalar(select(Invitation).filter_by(org_id=org.id, email=email))


def test_withdrawing_with_htmx_swaps_the_panel_and_toasts(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    invitation = _invitation(client, org, "gone@example.test")
    response = client.post(f"/o/{org.slug}/invitations/{invitation.public_id}/revoke", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="invite-panel">') and "gone@example.test" not in response.text
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast == {"message": "Invitation to gone@example.test withdrawn.", "kind": "success"}
    db.session.refresh(invitation)
    assert invitation.status == "revoked"


def test_withdrawing_from_a_browser_redirects_to_the_members_page_with_a_flash(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    invitation = _invitation(client, org, "later@example.test")
    response = client.post(f"/o/{org.slug}/invitations/{invitation.public_id}/revoke")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/o/{org.slug}/members")
    page = client.get(response.headers["Location"])
    assert "Invitation to later@example.test withdrawn." in page.text

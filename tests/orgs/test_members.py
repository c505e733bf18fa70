from html.parser import HTMLParser

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.orgs.models import Membership
from tests.factories import OrgFactory, member
from tests.security.helpers import tags


def _membership(user, org):
    return db.session.scalar(select(Membership).filter_by(user_id=user.id, org_id=org.id))


class _RowsAsSeen(HTMLParser):
    """Table rows as a person reads them: each cell's text, a select showing only its chosen option;
    <noscript> fallbacks (hidden with scripts on) are left out."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self._cell: list[str] | None = None
        self._noscript = 0
        self._unchosen_option = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append({"id": dict(attrs).get("id"), "cells": []})
        elif tag == "td":
            self._cell = []
        elif tag == "noscript":
            self._noscript += 1
        elif tag == "option":
            self._unchosen_option = "selected" not in dict(attrs)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "noscript":
            self._noscript -= 1
        elif tag == "option":
            self._unchosen_option = False

    def handle_data(self, data):
        if self._cell is not None and not self._noscript and not self._unchosen_option:
            self._cell.append(data)


def rows_as_seen(html: str) -> list[dict]:
    parser = _RowsAsSeen()
    parser.feed(html)
    return parser.rows


def test_admin_changes_a_members_role_and_the_row_shows_it(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    target = member(org, "user")
    m = _membership(target, org)
    response = client.post(f"/o/{org.slug}/members/{m.public_id}/role", data={"role": "billing_admin"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    # The answer is the member's row alone (it replaces the row in place, and keeps the id the next change targets),
    # and its role now reads "Billing admin".
    [row] = rows_as_seen(response.text)
    assert row["id"] == f"row-{m.public_id}"
    name, email, role, *_ = row["cells"]
    assert (name, email, role) == (target.name, target.email, "Billing admin")
    db.session.refresh(m)
    assert m.role == "billing_admin"
    event = db.session.scalar(select(AuditEvent).filter_by(action="member.role_changed"))
    assert event.data == {"from": "user", "to": "billing_admin"} and event.org_id == org.id


def test_the_last_org_admin_cannot_be_demoted_or_removed(client, login_as, row_counts):
    org = OrgFactory()
    admin = member(org, "org_admin")
    login_as(admin)
    m = _membership(admin, org)
    before = row_counts()
    demote = client.post(f"/o/{org.slug}/members/{m.public_id}/role", data={"role": "user"}, headers={"HX-Request": "true"})
    assert demote.status_code == 409
    assert "You can&#39;t demote the last org admin" in demote.text
    remove = client.post(f"/o/{org.slug}/members/{m.public_id}/remove", follow_redirects=True)
    assert "You can&#39;t remove the last org admin" in remove.text
    assert row_counts() == before
    db.session.refresh(m)
    assert m.role == "org_admin"


def test_with_two_admins_one_can_step_down(client, login_as):
    org = OrgFactory()
    me = member(org, "org_admin")
    member(org, "org_admin")
    login_as(me)
    m = _membership(me, org)
    response = client.post(f"/o/{org.slug}/members/{m.public_id}/role", data={"role": "user"}, headers={"HX-Request": "true"})
    # Having given up admin rights, the browser is sent to the dashboard rather than a page it can't manage.
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/o/{org.slug}/"
    assert client.post(f"/o/{org.slug}/invitations", data={"email": "x@example.test", "role": "user"}).status_code == 403


def test_admin_removes_a_member_who_then_loses_access(client, login_as, app):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    leaver = member(org, "user")
    m = _membership(leaver, org)
    response = client.post(f"/o/{org.slug}/members/{m.public_id}/remove", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert _membership(leaver, org) is None
    other = app.test_client()
    with other.session_transaction() as sess:
        sess["_user_id"] = leaver.get_id()
    assert other.get(f"/o/{org.slug}/").status_code == 404


def test_unknown_role_is_refused(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin"))
    m = _membership(member(org, "user"), org)
    response = client.post(f"/o/{org.slug}/members/{m.public_id}/role", data={"role": "super_admin"}, headers={"HX-Request": "true"})
    assert response.status_code == 409
    db.session.refresh(m)
    assert m.role == "user"


def test_members_page_filters_sorts_and_paginates(client, login_as):
    org = OrgFactory()
    login_as(member(org, "org_admin", name="Zed Admin"))
    for i in range(30):
        member(org, "user", name=f"Member {i:02d}", email=f"m{i:02d}@example.test")
    member(org, "billing_admin", name="Bea Billing", email="bea@example.test")

    full = client.get(f"/o/{org.slug}/members")
    assert "<html" in full.text and "Page 1 of 2" in full.text

    fragment = client.get(f"/o/{org.slug}/members?q=bea", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="members-table"')
    assert "bea@example.test" in fragment.text and "m01@example.test" not in fragment.text

    by_role = client.get(f"/o/{org.slug}/members?role=billing_admin", headers={"HX-Request": "true"})
    assert "bea@example.test" in by_role.text and "Zed Admin" not in by_role.text

    desc = client.get(f"/o/{org.slug}/members?sort=name&dir=desc", headers={"HX-Request": "true"})
    assert desc.text.index("Zed Admin") < desc.text.index("Member 29")

    page2 = client.get(f"/o/{org.slug}/members?page=2", headers={"HX-Request": "true"})
    assert "Page 2 of 2" in page2.text and "Zed Admin" in page2.text

    # The pager's link keeps the filter and the sort: the rest of the users, still by name, descending.
    users = client.get(f"/o/{org.slug}/members?role=user&sort=name&dir=desc", headers={"HX-Request": "true"})
    assert "Page 1 of 2 · 30 members" in users.text
    [next_link] = [a["href"] for a in tags(users.text, "a") if a.get("rel") == "next"]
    rest = client.get(next_link, headers={"HX-Request": "true"})
    assert [row["cells"][0] for row in rows_as_seen(rest.text) if row["cells"]] == [f"Member {i:02d}" for i in range(4, -1, -1)]

    nothing = client.get(f"/o/{org.slug}/members?q=nobody-at-all", headers={"HX-Request": "true"})
    assert "No member matches these filters." in nothing.text


def test_members_page_shows_the_permission_matrix(client, login_as):
    org = OrgFactory()
    login_as(member(org, "user"))
    page = client.get(f"/o/{org.slug}/members")
    assert "What each role may do" in page.text and "Invite, re-role and remove members" in page.text
    # A plain user sees the list but no management controls.
    assert "Send invitation" not in page.text and "Remove" not in page.text


def test_org_switcher_lists_every_org_of_the_user(client, login_as):
    first, second = OrgFactory(name="First Org"), OrgFactory(name="Second Org")
    user = member(first, "user")
    Membership.query  # noqa: B018 - the model is loaded
    db.session.add(Membership(org_id=second.id, user_id=user.id, role="org_admin"))
    db.session.commit()
    login_as(user)
    page = client.get(f"/o/{first.slug}/")
    assert "First Org" in page.text and "Second Org" in page.text and f"/o/{second.slug}/" in page.text


def test_user_creates_another_org(client, login_as):
    org = OrgFactory()
    login_as(member(org, "user"))
    response = client.post("/orgs/new", data={"name": "Side Project", "slug": "side-project"})
    assert response.status_code == 302 and response.headers["Location"] == "/o/side-project/"
    bad = client.post("/orgs/new", data={"name": "Side Project", "slug": "side-project"})
    assert bad.status_code == 422 and "This address is taken" in bad.text

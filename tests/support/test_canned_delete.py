"""An agent deletes a canned reply from the list: it is gone from the list and from the reply box's choices, the
page says so; nobody else can delete one."""

from __future__ import annotations

import json

from portal.extensions import db
from portal.support import service

HX = {"HX-Request": "true"}


def test_an_agent_deletes_a_canned_reply_and_is_told(client, login_as, desk):
    keep = service.create_canned("Thanks", "Thanks, {{ customer_name }}.")
    gone = service.create_canned("Restart", "Please restart.")
    db.session.commit()
    login_as(desk.agent)
    page = client.get("/support/canned").text
    assert f"/support/canned/{gone.public_id}/delete" in page and "Delete the canned reply “Restart”?" in page

    answer = client.post(f"/support/canned/{gone.public_id}/delete", headers=HX)
    assert answer.status_code == 200 and json.loads(answer.headers["HX-Trigger"])["toast"]["message"] == "Canned reply “Restart” deleted."
    assert 'id="canned-list"' in answer.text and "Restart" not in answer.text and "Thanks" in answer.text
    assert [r.title for r in service.canned_replies()] == [keep.title]

    browser = client.post(f"/support/canned/{keep.public_id}/delete", follow_redirects=True)
    assert browser.status_code == 200 and "Canned reply “Thanks” deleted." in browser.text and "None yet." in browser.text


def test_an_unknown_reply_or_a_customer_gets_404_and_nothing_is_deleted(client, login_as, desk):
    reply = service.create_canned("Thanks", "Thanks.")
    db.session.commit()
    login_as(desk.agent)
    assert client.post("/support/canned/cr_nope/delete").status_code == 404
    login_as(desk.admin)  # an org admin is not platform support staff
    assert client.post(f"/support/canned/{reply.public_id}/delete").status_code == 404
    assert [r.public_id for r in service.canned_replies()] == [reply.public_id]

"""The console says what it just did: an htmx suspend or restore answers with the new row and a toast naming
the organization or person; a plain browser's POST gets the same words as a flash on the list it lands on."""

from __future__ import annotations

import json

from tests.factories import OrgFactory, UserFactory

HTMX = {"HX-Request": "true"}


def toast_of(response) -> dict:
    return json.loads(response.headers["HX-Trigger"])["toast"]


def test_suspend_and_restore_of_an_org_answer_with_the_row_and_a_toast(client, login_as):
    org = OrgFactory(name="Acme")
    login_as(UserFactory(platform_role="super_admin"))
    suspended = client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "1"}, headers=HTMX)
    assert suspended.status_code == 200
    assert suspended.text.lstrip().startswith(f'<tr id="org-{org.public_id}"') and "<mark>Suspended</mark>" in suspended.text
    assert toast_of(suspended) == {"message": "Acme suspended.", "kind": "success"}
    restored = client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "0"}, headers=HTMX)
    assert "Restore" not in restored.text and toast_of(restored)["message"] == "Acme restored."


def test_suspending_a_user_toasts_their_name_or_else_their_email(client, login_as):
    named = UserFactory(name="Bo Member", email="bo@example.test")
    unnamed = UserFactory(name="", email="nameless@example.test")
    login_as(UserFactory(platform_role="super_admin"))
    answer = client.post(f"/admin/users/{named.public_id}/suspend", data={"suspended": "1"}, headers=HTMX)
    assert f'<tr id="user-{named.public_id}"' in answer.text and toast_of(answer)["message"] == "Bo Member suspended."
    answer = client.post(f"/admin/users/{unnamed.public_id}/suspend", data={"suspended": "1"}, headers=HTMX)
    assert toast_of(answer)["message"] == "nameless@example.test suspended."


def test_a_plain_browser_post_lands_on_the_list_with_a_flash(client, login_as):
    org = OrgFactory(name="Acme")
    login_as(UserFactory(platform_role="super_admin"))
    answer = client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "1"})
    assert answer.status_code == 303 and "HX-Trigger" not in answer.headers
    listing = client.get(answer.headers["Location"])
    assert 'class="notice notice-success"' in listing.text and "Acme suspended." in listing.text


def test_a_refused_suspend_shows_no_success_toast(client, login_as):
    root = UserFactory(platform_role="super_admin")
    login_as(root)
    myself = client.post(f"/admin/users/{root.public_id}/suspend", data={"suspended": "1"}, headers=HTMX)
    assert myself.status_code == 400 and "toast" not in myself.headers.get("HX-Trigger", "")


def test_an_htmx_action_that_redirects_carries_its_words_to_the_next_page(client, login_as):
    """A boosted link or a form without a target gets 204 + HX-Redirect: a toast on it would never show, so it is a flash."""
    org = OrgFactory(name="Acme")
    login_as(UserFactory(platform_role="super_admin"))
    answer = client.post(f"/admin/orgs/{org.public_id}/suspend", data={"suspended": "1"}, headers={**HTMX, "HX-Boosted": "true"})
    assert answer.status_code == 204 and "toast" not in answer.headers.get("HX-Trigger", "")
    landing = client.get(answer.headers["HX-Redirect"])
    assert "Acme suspended." in landing.text

"""The audit log reads as sentences of names (people, organizations, keys, role labels), not ids and dicts."""

from __future__ import annotations

import html
import re

import pytest

from portal.audit import sentences
from portal.audit import service as audit
from portal.extensions import db
from portal.keys import service as keys
from portal.orgs import service as orgs
from tests.factories import OrgFactory, UserFactory, member
from tests.keys.helpers import counted_queries
from tests.security.helpers import tags

# An id (usr_..., key_..., aud_...), a Python dict/list repr or key=value pairs: what the page used to show.
RAW = re.compile(r"\b(usr|key|org|aud|mem|thv)_\w+|\{'|\['|\w+=\S")


def _text(page) -> str:
    """What a person reads: tags and the Details disclosure (ids on purpose) taken out, entities decoded."""
    body = re.sub(r"<details.*?</details>", " ", page.text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _sentences(page) -> list[str]:
    return [html.unescape(s).strip() for s in re.findall(r'<span class="audit-sentence">(.*?)</span>', page.text, flags=re.S)]


@pytest.fixture
def acme(app):
    """An org with an admin (Dana), another admin (Ada) and a plain member (Uma)."""
    org = OrgFactory(name="Acme Vets", slug="acme-vets")
    dana = member(org, "org_admin", email="dana@acme.test", name="Dana Admin")
    ada = member(org, "org_admin", email="ada@acme.test", name="Ada")
    uma = member(org, "user", email="uma@acme.test", name="Uma User")
    return org, dana, ada, uma


def test_key_and_member_changes_read_as_sentences_with_names(acme, client, login_as):
    org, dana, ada, uma = acme
    by_dana = orgs.membership_of(org, dana)
    key, _secret = keys.create_key(org, by_dana, name="Deploy bot", scopes=["read"], owner=uma.public_id)
    keys.update_key(org, by_dana, key.public_id, {"scopes": ["read", "write"], "rate_limit": 100})
    keys.rotate_key(org, by_dana, key.public_id, grace_period=300)
    keys.revoke_key(org, by_dana, key.public_id)
    orgs.change_role(org, orgs.membership_of(org, uma).public_id, "org_admin", by=ada)
    db.session.commit()
    login_as(dana)
    page = client.get(f"/o/{org.slug}/audit")
    said = _sentences(page)
    assert "Dana Admin created the API key \u201cDeploy bot\u201d (read) for Uma User" in said
    assert any(s.startswith("Dana Admin changed the API key \u201cDeploy bot\u201d: scopes from read to read, write") for s in said)
    assert "Dana Admin rotated the API key \u201cDeploy bot\u201d; the old secret kept working for 5 minutes" in said
    assert "Dana Admin revoked the API key \u201cDeploy bot\u201d" in said
    assert "Ada changed Uma User's role from User to Org admin" in said
    # No ids or data dumps where people read; the ids wait behind Details, each with a copy button.
    assert not RAW.search(_text(page)), RAW.search(_text(page))
    copies = [b["data-copy"] for b in tags(page.text, "button") if b.get("data-copy")]
    assert key.public_id in copies and uma.public_id in copies and dana.public_id in copies


def _sample_data(action: str, org, actor, other) -> tuple[str, dict]:
    """The target and data each service records for action (see the audit.record calls)."""
    key_data = {"name": "Deploy bot", "prefix": "vk_abc"}
    return {
        "member.invited": (other.email, {"role": "billing_admin"}),
        "member.joined": (other.email, {"role": "user"}),
        "member.role_changed": (other.email, {"from": "user", "to": "org_admin"}),
        "member.removed": (other.email, {"role": "user"}),
        "invitation.revoked": (other.email, {}),
        "org.created": (org.slug, {}),
        "org.suspended": (org.slug, {}),
        "org.restored": (org.slug, {}),
        "user.suspended": (other.email, {}),
        "user.restored": (other.email, {}),
        "login.failed": (actor.email, {"reason": "suspended"}),
        "key.created": ("key_missing", {**key_data, "scopes": ["read"], "expires_at": "2027-01-03T00:00:00+00:00",
                                        "owner": other.public_id, "owner_email": other.email}),
        "key.updated": ("key_missing", {"scopes": ["read", "write"], "before": {"scopes": ["read"]}, "name": "Deploy bot"}),
        "key.rotated": ("key_missing", {**key_data, "previous_prefix": "vk_old", "grace_period": 0}),
        "key.revoked": ("key_missing", key_data),
        "key.policy_changed": (org.public_id, {"max_lifetime_days": 90, "user_scopes": ["read"]}),
        "theme.published": ("thv_x", {"number": 3}),
        "theme.reverted": ("thv_x", {"number": 4, "from": 2}),
        "theme.reset": ("thv_x", {"number": 5}),
    }.get(action, (actor.email, {}))


def test_every_known_action_has_its_own_sentence_of_names(acme):
    org, dana, _ada, uma = acme
    assert set(sentences.ACTION_LABELS) == set(audit.ACTIONS)  # every action the services record has words
    events = []
    for action in audit.ACTIONS:
        target, data = _sample_data(action, org, dana, uma)
        events.append(audit.record(action, org=org, actor=dana, target=target, data=data))
    db.session.flush()
    for entry in sentences.describe(events, org):
        fallback = sentences._fallback(entry.event, entry.event.data, None)
        assert entry.sentence != fallback, f"{entry.event.action} has no sentence of its own"
        assert "Dana Admin" in entry.sentence, entry.sentence
        assert not RAW.search(entry.sentence), entry.sentence
        assert entry.event.action not in entry.sentence
    said = {e.event.action: e.sentence for e in sentences.describe(events, org)}
    assert said["member.invited"] == "Dana Admin invited Uma User as Billing admin"
    assert said["key.created"] == "Dana Admin created the API key \u201cDeploy bot\u201d (read) for Uma User, expiring 3 Jan 2027"
    assert said["key.policy_changed"] == "Dana Admin set the API key policy: new keys last at most 90 days; plain users may grant read"
    assert said["org.suspended"] == "Dana Admin suspended the organization Acme Vets"


def test_an_unknown_action_still_reads_as_words(acme):
    org, dana, _ada, _uma = acme
    event = audit.record("workflow.run_archived", org=org, actor=dana, target="Nightly import")
    db.session.flush()
    [entry] = sentences.describe([event], org)
    assert entry.label == "Workflow run archived"
    assert entry.sentence == "Dana Admin: workflow run archived (Nightly import)"


def _seed(org, actor, others, count: int) -> None:
    """count events of the kinds that name other people and keys, each naming a different one."""
    kinds = ["key.created", "key.updated", "member.role_changed", "member.invited", "user.suspended"]
    for i in range(count):
        other = others[i % len(others)]
        action = kinds[i % len(kinds)]
        data = {"owner": other.public_id, "owner_email": other.email, "name": f"Key {i}", "scopes": ["read"]} if action == "key.created" \
            else {"from": "user", "to": "org_admin"} if action == "member.role_changed" else {"scopes": ["write"]}
        audit.record(action, org=org, actor=actor, target=f"key_{i:04d}" if action.startswith("key.") else other.email, data=data)
    db.session.commit()


def test_the_page_sends_as_many_queries_for_30_rows_as_for_5(acme, client, login_as):
    org, dana, _ada, _uma = acme
    others = [member(org, "user", email=f"m{i}@acme.test", name=f"Member {i}") for i in range(30)]
    _seed(org, dana, others[:5], 5)
    login_as(dana)
    client.get(f"/o/{org.slug}/audit")  # warm the per-process caches
    with counted_queries() as five:
        page5 = client.get(f"/o/{org.slug}/audit")
    _seed(org, dana, others, 25)
    client.get(f"/o/{org.slug}/audit")  # the same warm-up: the seed's commit dropped what the caches held
    with counted_queries() as thirty:
        page30 = client.get(f"/o/{org.slug}/audit")
    assert len(_sentences(page5)) == 5 and len(_sentences(page30)) == 30
    assert "Member 24" in page30.text  # the new rows' people are named, from the same batched query
    assert len(thirty) == len(five), "\n".join(["--- five"] + [q[:90] for q in five] + ["--- thirty"] + [q[:90] for q in thirty])


def test_another_orgs_entries_and_key_names_never_show(acme, client, login_as):
    org, dana, _ada, uma = acme
    bravo = OrgFactory(name="Bravo Clinic")
    boss = member(bravo, "org_admin", email="boss@bravo.test", name="Bravo Boss")
    secret_key, _ = keys.create_key(bravo, orgs.membership_of(bravo, boss), name="Bravo payroll", scopes=["read"])
    orgs.invite(bravo, "hire@bravo.test", "user", by=boss)
    # An Acme event that (somehow) names Bravo's key: the name is not looked up across organizations.
    audit.record("key.revoked", org=org, actor=dana, target=secret_key.public_id, data={})
    db.session.commit()
    login_as(dana)
    page = client.get(f"/o/{org.slug}/audit")
    assert "Dana Admin revoked an API key" in _sentences(page)
    for leaked in ("Bravo payroll", "Bravo Boss", "hire@bravo.test", "Bravo Clinic"):
        assert leaked not in page.text


def test_the_action_filter_lists_words_and_still_filters_by_code(acme, client, login_as):
    org, dana, _ada, uma = acme
    audit.record("member.invited", org=org, actor=dana, target="new@acme.test", data={"role": "user"})
    audit.record("key.revoked", org=org, actor=dana, target="key_x", data={"name": "Old key"})
    db.session.commit()
    login_as(dana)
    page = client.get(f"/o/{org.slug}/audit").text
    start = page.index('<select name="action"')
    block = page[start: page.index("</select>", start)]
    labels = [html.unescape(t) for t in re.findall(r"<option[^>]*>([^<]*)</option>", block)]
    assert "API key created" in labels and "Member's role changed" in labels
    assert not [label for label in labels if "." in label or "_" in label]  # no codes
    assert 'value="key.created"' in block  # the value stays the code: old links keep working
    only = client.get(f"/o/{org.slug}/audit?action=key.revoked", headers={"HX-Request": "true"})
    assert _sentences(only) == ["Dana Admin revoked the API key \u201cOld key\u201d"]


def test_the_consoles_org_column_shows_names_linked_to_the_console(app, client, login_as):
    kennel = OrgFactory(name="Named Kennel", slug="named-kennel")
    root = UserFactory(platform_role="super_admin", name="Root Admin")
    owner = member(kennel, "org_admin", name="Kim Owner")
    audit.record("org.created", org=kennel, actor=owner, target=kennel.slug)
    audit.record("login.failed", target="ghost@example.test")  # a platform event: no organization
    db.session.commit()
    login_as(root)
    page = client.get("/admin/audit", headers={"HX-Request": "true"})
    cells = re.findall(r"<td>(.*?)</td>", page.text, flags=re.S)
    assert str(kennel.id) not in [c.strip() for c in cells]
    links = [a for a in tags(page.text, "a") if "/admin/orgs" in (a.get("href") or "")]
    assert links and "q=named-kennel" in links[0]["href"]
    assert ">Named Kennel</a>" in page.text and "Platform" in page.text
    assert _sentences(page) == ["A sign-in as ghost@example.test failed", "Kim Owner created the organization Named Kennel"]

"""The editor's "Test this node": one node's function once with a sample input and state, its result shown under the
node's form (the fragment for htmx, the editor for a browser), with nothing stored: no run, no step, no approval."""

from __future__ import annotations

import copy
import html
import json
import re

from sqlalchemy import func, select

from portal.extensions import db
from portal.notifications.models import Notification
from portal.workflows import service
from portal.workflows.definition import STARTERS
from portal.workflows.models import WorkflowRun, WorkflowStep
from tests.factories import OrgFactory, member

HX = {"HX-Request": "true"}


def _url(org, wf, node_id: str) -> str:
    return f"/o/{org.slug}/workflows/{wf.public_id}/nodes/{node_id}/test"


def _text(fragment: str) -> str:
    """What a person reads in the fragment: tags dropped, entities unescaped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _stored_counts() -> tuple[int, int]:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(WorkflowRun)), db.session.scalar(select(func.count()).select_from(WorkflowStep))


def _sample(inp: dict | None = None, state: dict | None = None) -> str:
    return json.dumps({"input": inp or {}, "state": state or {}})


def test_a_transform_node_shows_the_update_it_returns(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    before = _stored_counts()
    resp = client.post(_url(org, wf, "greet"), headers=HX, data={"sample_input": _sample({"name": "Ada"})})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert '"greeting": "Hello, Ada!"' in html.unescape(page)
    assert re.search(r"greet ran in (\d+|under 1) ms\.", _text(page))
    assert _stored_counts() == before  # no run, no step
    assert wf.latest_version == 1  # and no new version


def test_the_settings_typed_in_the_nodes_form_are_tested_unsaved(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    resp = client.post(_url(org, wf, "shout"), headers=HX, data={
        "change": "edit_node", "id": "shout", "type": "transform", "cfg.set": "shout: {{ state.greeting | lower }}!",
        "sample_input": _sample(state={"greeting": "HeLLo"})})
    assert resp.status_code == 200
    assert '"shout": "hello!"' in html.unescape(resp.get_data(as_text=True))
    db.session.expire_all()
    assert service.latest(wf).definition["nodes"][1]["config"]["set"]["shout"] == "{{ state.greeting | upper }}"  # not saved


def test_a_condition_node_shows_the_branch_it_chooses(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "triage", admin)
    login_as(admin)
    high = _text(client.post(_url(org, wf, "check"), headers=HX, data={"sample_input": _sample({"score": 7})}).get_data(as_text=True))
    low = _text(client.post(_url(org, wf, "check"), headers=HX, data={"sample_input": _sample({"score": 2})}).get_data(as_text=True))
    assert "Branch chosen: high → escalate" in high
    assert "Branch chosen: low → archive" in low


def test_bad_json_is_said_in_words_and_nothing_runs(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    resp = client.post(_url(org, wf, "greet"), headers=HX, data={"sample_input": '{"input": {"name": "Ada",}}'})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422  # as the editor's refused saves (htmx swaps 422 answers)
    assert 'role="alert"' in page
    assert "Not JSON" in _text(page) and "line 1" in _text(page)
    wrong_shape = client.post(_url(org, wf, "greet"), headers=HX, data={"sample_input": '{"name": "Ada"}'})
    assert wrong_shape.status_code == 422
    assert 'takes only "input" and "state", not \'name\'' in _text(wrong_shape.get_data(as_text=True))


def test_a_node_that_raises_is_shown_in_words_not_a_500(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    resp = client.post(_url(org, wf, "greet"), headers=HX, data={"sample_input": _sample()})  # no input.name
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'role="alert"' in page
    assert "greet failed" in _text(page) and "name" in _text(page)


def test_settings_that_do_not_fit_are_named_before_running(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    resp = client.post(_url(org, wf, "greet"), headers=HX, data={
        "change": "edit_node", "id": "greet", "type": "transform", "cfg.set": "", "sample_input": _sample({"name": "A"})})
    assert resp.status_code == 422
    assert "Set is required." in _text(resp.get_data(as_text=True))


def test_an_approval_node_says_what_it_would_ask_and_requests_no_approval(app, client, login_as, org, admin, user):
    wf = service.create_from_starter(org, "approval", admin)
    login_as(admin)
    before = _stored_counts()
    resp = client.post(_url(org, wf, "approve"), headers=HX, data={"sample_input": _sample({"amount": 120}, {"summary": "120 for lunch"})})
    assert resp.status_code == 200
    assert "Would pause for approval: Approve 120 for lunch?" in _text(resp.get_data(as_text=True))
    assert _stored_counts() == before
    # An approval is a run waiting for a decision, announced by a notification: neither exists.
    assert db.session.scalar(select(func.count()).select_from(WorkflowRun).where(WorkflowRun.status == "waiting_for_approval")) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_an_http_node_goes_through_the_allowlist_and_shows_status_and_body(app, client, login_as, org, admin, local_server):
    base, gate = local_server
    d = copy.deepcopy(STARTERS["greeting"])
    d["nodes"].append({"id": "call", "type": "http", "config": {"url": base + "/hello/{{ input.name }}", "output_key": "resp"}})
    wf = service.create_workflow(org, d, admin, strict=False)
    login_as(admin)
    refused = client.post(_url(org, wf, "call"), headers=HX, data={"sample_input": _sample({"name": "ada"})})
    assert "Refused: 127.0.0.1 resolves to the internal address" in _text(refused.get_data(as_text=True))
    assert gate.hits == {}  # the SSRF check stopped it before any request
    service.allow_host(base.split("//", 1)[1])  # a super admin allowlists the local server, as for real runs
    before = _stored_counts()
    resp = client.post(_url(org, wf, "call"), headers=HX, data={"sample_input": _sample({"name": "ada"})})
    text = _text(resp.get_data(as_text=True))
    assert resp.status_code == 200
    assert "HTTP status 200" in text and '"path": "/hello/ada"' in text
    assert gate.hits == {"/hello/ada": 1}
    failing = client.post(_url(org, wf, "call"), headers=HX, data={
        "change": "edit_node", "id": "call", "type": "http", "cfg.url": base + "/fail", "cfg.output_key": "resp", "sample_input": _sample()})
    assert "answered 500" in _text(failing.get_data(as_text=True))
    assert _stored_counts() == before


def test_an_llm_node_without_an_endpoint_says_so(app, client, login_as, org, admin):
    d = copy.deepcopy(STARTERS["greeting"])
    d["nodes"].append({"id": "ask", "type": "llm", "config": {"prompt": "Hi {{ input.name }}", "output_key": "a"}})
    wf = service.create_workflow(org, d, admin, strict=False)
    login_as(admin)
    resp = client.post(_url(org, wf, "ask"), headers=HX, data={"sample_input": _sample({"name": "Ada"})})
    assert resp.status_code == 200 and "no LLM endpoint configured" in _text(resp.get_data(as_text=True))


def test_an_llm_node_shows_the_reply_of_the_orgs_endpoint(app, client, login_as, org, admin, llm_katan):
    service.save_llm_settings(org, llm_katan, "echo-model", "sk-test-secret")
    service.allow_host(llm_katan.split("//", 1)[1].split("/", 1)[0])
    d = copy.deepcopy(STARTERS["greeting"])
    d["nodes"].append({"id": "ask", "type": "llm", "config": {"prompt": "Summarize {{ input.name }}", "output_key": "answer", "temperature": 0}})
    wf = service.create_workflow(org, d, admin, strict=False)
    login_as(admin)
    before = _stored_counts()
    resp = client.post(_url(org, wf, "ask"), headers=HX, data={"sample_input": _sample({"name": "otters"})})
    text = _text(resp.get_data(as_text=True))
    assert resp.status_code == 200 and "Reply:" in text and "Summarize otters" in text
    assert _stored_counts() == before


def test_an_llm_nodes_test_spends_the_plans_tokens_and_is_refused_when_they_are_used_up(app, client, login_as, org, admin, llm_katan):
    from portal.billing import service as billing

    service.save_llm_settings(org, llm_katan, "echo-model", "sk-test-secret")
    service.allow_host(llm_katan.split("//", 1)[1].split("/", 1)[0])
    d = copy.deepcopy(STARTERS["greeting"])
    d["nodes"].append({"id": "ask", "type": "llm", "config": {"prompt": "Summarize {{ input.name }}", "output_key": "answer", "temperature": 0}})
    wf = service.create_workflow(org, d, admin, strict=False)
    db.session.commit()
    login_as(admin)
    client.post(_url(org, wf, "ask"), headers=HX, data={"sample_input": _sample({"name": "otters"})})
    spent = billing.used_in(org, "llm_tokens")
    assert spent > 0  # the reply's tokens count as a run's would

    billing.record_usage(org, "llm_tokens", billing.limit_of(org, "llm_tokens"), "used-up")
    db.session.commit()
    refused = _text(client.post(_url(org, wf, "ask"), headers=HX, data={"sample_input": _sample({"name": "otters"})}).get_data(as_text=True))
    assert "Your plan allows" in refused and "Reply:" not in refused


def test_a_browser_without_htmx_gets_the_editor_with_the_result_and_what_was_typed(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    resp = client.post(_url(org, wf, "shout"), data={
        "change": "edit_node", "id": "shout", "type": "transform", "cfg.set": "shout: {{ state.greeting }}?",
        "sample_input": _sample(state={"greeting": "hey"})})
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 200
    assert '<h1 id="workflow-title">' in page and 'id="node-shout-test-result"' in page  # the whole editor
    assert '"shout": "hey?"' in page
    assert "shout: {{ state.greeting }}?</textarea>" in page  # the typed settings stay in the field
    assert '"greeting": "hey"' in page.split('id="node-shout-sample"', 1)[1].split("</textarea>", 1)[0]  # and the sample


def test_the_editor_offers_the_test_with_a_sample_from_the_declared_inputs(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "approval", admin)
    login_as(admin)
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    assert "Test this node" in page and "Nothing is saved; no run is recorded." in page
    assert 'id="node-approve-test-result" class="node-test-result" aria-live="polite"' in page
    sample = json.loads(html.unescape(re.search(r'<textarea id="node-approve-sample"[^>]*>(.*?)</textarea>', page, re.S).group(1)))
    assert sample == {"input": {"amount": 0, "reason": "example"}, "state": {"summary": "example"}}


def test_a_member_who_may_not_edit_gets_403_and_sees_no_test(app, client, login_as, org, admin, user):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(user)
    assert "Test this node" not in client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    assert client.post(_url(org, wf, "greet"), headers=HX, data={"sample_input": _sample({"name": "A"})}).status_code == 403


def test_another_orgs_workflow_is_404(app, client, login_as, org, admin):
    other = OrgFactory(slug="other-wf-org", name="Other")
    theirs = service.create_from_starter(other, "greeting", member(other, "org_admin", email="other-admin@example.test"))
    login_as(admin)
    assert client.post(f"/o/{org.slug}/workflows/{theirs.public_id}/nodes/greet/test", headers=HX,
                       data={"sample_input": _sample({"name": "A"})}).status_code == 404


def test_a_browser_without_htmx_sees_bad_json_at_the_sample_box(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    login_as(admin)
    resp = client.post(_url(org, wf, "greet"), data={"change": "edit_node", "id": "greet", "type": "transform",
                                                     "cfg.set": "greeting: Hi {{ input.name }}", "sample_input": "{nope"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    box = re.search(r'<textarea id="node-greet-sample"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in box and "node-greet-test-result" in box
    assert "{nope</textarea>" in page and "Not JSON" in _text(page)

"""The workflow editor's per-node-type forms (fields from each type's config schema, messages in words at the
field, what was typed kept), the import box that keeps a bad import's text, and a diagram of real edges only."""

from __future__ import annotations

import copy
import html
import json
import re

import pytest

from portal.extensions import db
from portal.workflows import service
from portal.workflows.definition import STARTERS
from portal.workflows.diagram import H, W, layout

HX = {"HX-Request": "true"}


def _workflow(org, admin, extra_nodes: list[dict], starter: str = "greeting"):
    d = copy.deepcopy(STARTERS[starter])
    d["nodes"] += extra_nodes
    return service.create_workflow(org, d, admin, strict=False)


def _node(wf, node_id: str) -> dict:
    db.session.expire_all()
    return next(n for n in service.latest(wf).definition["nodes"] if n["id"] == node_id)


def _field_error(page: str, field_id: str) -> str:
    """The message shown under a field (its aria-describedby error), unescaped; '' when there is none."""
    m = re.search(rf'<small id="{field_id}-error" class="field-error"[^>]*>(.*?)</small>', page, re.S)
    return html.unescape(m.group(1)) if m else ""


def _textarea(page: str, field_id: str) -> str:
    """What a textarea holds, unescaped."""
    return html.unescape(re.search(rf'<textarea id="{field_id}"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def test_http_node_is_edited_with_method_url_and_header_lines(app, client, login_as, org, admin):
    login_as(admin)
    wf = _workflow(org, admin, [{"id": "call", "type": "http", "config": {"url": "https://api.example.test/a", "output_key": "resp"}}])
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    assert '<select id="node-call-method" name="cfg.method"' in page and 'id="node-call-url"' in page
    assert 'name="cfg.headers"' in page and 'name="config"' in page  # header lines, and the advanced JSON editor
    resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/edit", headers=HX, data={
        "change": "edit_node", "id": "call", "type": "http", "cfg.method": "POST", "cfg.url": "https://api.example.test/{{ input.name }}",
        "cfg.headers": "Accept: application/json\r\nX-Trace: a:b\r\n", "cfg.output_key": "resp", "cfg.retry.attempts": "3"})
    assert resp.status_code == 200
    assert _node(wf, "call")["config"] == {"method": "POST", "url": "https://api.example.test/{{ input.name }}", "output_key": "resp",
                                          "headers": {"Accept": "application/json", "X-Trace": "a:b"}, "retry": {"attempts": 3}}
    assert wf.latest_version == 2  # a new version, as every save


def test_a_field_that_does_not_parse_is_refused_in_words_and_keeps_what_was_typed(app, client, login_as, org, admin):
    login_as(admin)
    wf = _workflow(org, admin, [{"id": "call", "type": "http", "config": {"url": "https://x.example.test", "output_key": "r"}}])
    resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/edit", headers=HX, data={
        "change": "edit_node", "id": "call", "type": "http", "cfg.url": "https://typed.example.test", "cfg.output_key": "r",
        "cfg.headers": "Accept application/json", "cfg.timeout": "soon"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert _field_error(page, "node-call-headers") == "Headers, line 1: write it as name: value (“Accept application/json” has no colon)."
    assert _field_error(page, "node-call-timeout") == "Timeout (seconds) must be a number."
    assert "Accept application/json</textarea>" in page and 'value="https://typed.example.test"' in page
    assert _node(wf, "call")["config"]["url"] == "https://x.example.test" and wf.latest_version == 1  # nothing saved


def test_what_a_saved_config_lacks_is_said_on_its_field(app, client, login_as, org, admin):
    login_as(admin)
    wf = _workflow(org, admin, [{"id": "call", "type": "http", "config": {}}, {"id": "ask", "type": "llm", "config": {"prompt": "", "temperature": 5}}])
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    assert _field_error(page, "node-call-url") == "URL is required."
    assert _field_error(page, "node-ask-prompt") == "Prompt cannot be empty."
    assert _field_error(page, "node-ask-temperature") == "Temperature must be 2 or less."
    assert "required property" not in page and "is too short" not in page


def test_prompt_hint_lists_the_variables_and_approval_offers_who_may_approve(app, client, login_as, org, admin):
    login_as(admin)
    wf = _workflow(org, admin, [{"id": "ask", "type": "llm", "config": {"prompt": "Hi", "output_key": "answer"}},
                                {"id": "ok", "type": "approval", "config": {"message": "Fine?"}}])
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    hint = re.search(r'<small id="node-ask-prompt-hint"[^>]*>(.*?)</small>', page, re.S).group(1)
    assert all(f"<code>{{{{ {v} }}}}</code>" in hint for v in ("input.name", "state.greeting", "state.shout", "state.answer"))
    assert '<textarea id="node-ask-prompt" name="cfg.prompt"' in page
    approvers = re.search(r'<select id="node-ok-approvers".*?</select>', page, re.S).group(0)
    assert re.findall(r'value="(\w+)"', approvers) == ["anyone_but_requester", "admins", "anyone"]
    client.post(f"/o/{org.slug}/workflows/{wf.public_id}/edit", headers=HX,
                data={"change": "edit_node", "id": "ok", "type": "approval", "cfg.message": "Pay {{ state.greeting }}?", "cfg.approvers": "admins"})
    assert _node(wf, "ok")["config"] == {"message": "Pay {{ state.greeting }}?", "approvers": "admins"}


def test_condition_shows_its_branches(app, client, login_as, org, admin):
    login_as(admin)
    wf = service.create_from_starter(org, "triage", admin)
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    branches = re.search(r'<p class="branches">(.*?)</p>', page, re.S).group(1)
    assert "<code>high</code> → <code>escalate</code>" in branches and "<code>low</code> → <code>archive</code>" in branches
    assert 'id="node-check-expression"' in page


def test_advanced_json_says_what_is_wrong_in_words_and_keeps_the_text(app, client, login_as, org, admin):
    login_as(admin)
    wf = service.create_from_starter(org, "greeting", admin)
    resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/edit", headers=HX,
                       data={"change": "edit_node", "id": "greet", "config": '{"set": {"a": "1" "b": "2"}}'})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Expecting" not in page
    assert _field_error(page, "node-greet-json").startswith("Not JSON: on line 1, column 19, a comma is missing")
    assert _textarea(page, "node-greet-json") == '{"set": {"a": "1" "b": "2"}}'


def test_a_bad_import_keeps_its_text_and_says_what_is_wrong(app, client, login_as, org, admin):
    login_as(admin)
    wf = service.create_from_starter(org, "greeting", admin)
    url = f"/o/{org.slug}/workflows/{wf.public_id}/import"
    typed = '{\n  "name": "Mine",\n  "nodes": [],\n  "edges": [],\n}'
    resp = client.post(url, data={"definition": typed}, headers=HX)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Expecting" not in page
    assert _field_error(page, "definition-json").startswith("Not JSON: on line 5, column 1, a key must be in double quotes")
    assert _textarea(page, "definition-json") == typed and '<details id="import" open>' in page
    page = client.post(url, data={"definition": "[1, 2]"}, headers=HX).get_data(as_text=True)
    assert _field_error(page, "definition-json") == "The definition must be a JSON object."
    db.session.refresh(wf)
    assert wf.latest_version == 1
    good = client.post(url, data={"definition": json.dumps(STARTERS["triage"])}, headers=HX)
    assert good.status_code == 204 and good.headers["HX-Redirect"].endswith(wf.public_id)
    db.session.refresh(wf)
    assert wf.latest_version == 2


def _crosses(line, box) -> bool:
    """Whether a drawn edge passes through a box (its inside, a pixel in from the border)."""
    for (x1, y1), (x2, y2) in zip(line.points, line.points[1:], strict=False):
        for t in range(101):
            x, y = x1 + (x2 - x1) * t / 100, y1 + (y2 - y1) * t / 100
            if box.x + 1 < x < box.x + W - 1 and box.y + 1 < y < box.y + H - 1:
                return True
    return False


def test_diagram_draws_an_unconnected_node_apart_with_no_edge_through_it(app, client, login_as, org, admin):
    d = copy.deepcopy(STARTERS["greeting"])
    d["nodes"].append({"id": "island", "type": "transform", "config": {"set": {"x": "1"}}})
    drawn = layout(d)
    boxes = {b.id: b for b in drawn["boxes"]}
    assert not boxes["island"].connected and all(b.connected for b in drawn["boxes"] if b.id != "island")
    assert len(drawn["lines"]) == 3 and not any(_crosses(line, boxes["island"]) for line in drawn["lines"])
    assert boxes["END"].y == boxes["shout"].y + H + 46  # END right under the last connected node
    wf = service.create_workflow(org, d, admin, strict=False)
    login_as(admin)
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    assert '<g data-node="island" data-state="idle" data-connected="false">' in page and "island: not connected" in page


def test_diagram_routes_an_edge_that_skips_a_row_around_the_box_between():
    d = {"name": "skip", "nodes": [{"id": "check", "type": "condition", "config": {"expression": "'a'"}},
                                   {"id": "work", "type": "transform", "config": {"set": {"x": "1"}}}],
         "edges": [{"from": "START", "to": "check"}, {"from": "check", "to": "work", "when": "a"},
                   {"from": "check", "to": "END", "when": "b"}, {"from": "work", "to": "END"}]}
    drawn = layout(d)
    boxes = {b.id: b for b in drawn["boxes"]}
    assert len(drawn["lines"]) == 4
    for line in drawn["lines"]:
        assert not any(_crosses(line, b) for b in drawn["boxes"])  # no edge runs through a box
    skip = next(line for line in drawn["lines"] if line.label == "b")
    assert skip.points[0] == (boxes["check"].x + W / 2, boxes["check"].y + H) and skip.points[-1] == (boxes["END"].x + W / 2, boxes["END"].y)
    assert max(x for x, _ in skip.points) <= drawn["width"]


@pytest.mark.browser
def test_editor_fields_in_chromium_at_desktop_and_phone_width(app, page, live_server, log_in, screenshot, org, admin):
    from playwright.sync_api import expect

    wf = _workflow(org, admin, [{"id": "call", "type": "http", "config": {"url": "https://api.example.test", "output_key": "resp"}},
                                {"id": "ok", "type": "approval", "config": {"message": "Fine?"}}])
    db.session.commit()
    log_in(page, admin.email)
    page.goto(live_server(f"/o/{org.slug}/workflows/{wf.public_id}"))
    page.locator("#node-call-headers").fill("Accept application/json")
    page.get_by_role("button", name="Save call").click()
    expect(page.locator("#node-call-headers-error")).to_have_text("Headers, line 1: write it as name: value (“Accept application/json” has no colon).")
    expect(page.locator("#node-call-headers")).to_have_value("Accept application/json")  # kept after the refused save
    screenshot(page, "workflow-editor-fields-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "workflow-editor-fields-390")
    assert page.errors == []


def test_the_problems_list_names_the_step_and_field_in_words_and_links_to_the_field(app, client, login_as, org, admin):
    wf = _workflow(org, admin, [{"id": "fetch", "type": "http", "config": {"method": "GET", "url": "{{ input.name "}}])
    definition = copy.deepcopy(service.latest(wf).definition)
    definition["edges"].append({"from": "shout", "to": "ghost"})
    service.new_version(org, wf.public_id, definition, admin, strict=False)
    login_as(admin)
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    problems = html.unescape(page.split('id="problems"')[1].split("</div>")[0])
    step = len(definition["nodes"])  # the http node is the last one
    assert f'<a href="#node-fetch-url">Step {step} (fetch), URL</a>: Bad template' in problems
    assert "Edge " in problems and "(shout → ghost)" in problems and "Dangling edge" in problems
    assert "nodes." not in problems and "edges." not in problems and "<code>" not in problems  # no raw paths
    assert 'id="node-fetch-url"' in page  # the link lands on the field itself


def test_without_javascript_a_bad_import_keeps_its_text_on_the_whole_page(app, client, login_as, org, admin):
    """A browser without htmx posts the form itself: the answer is the page again, the text still in the box."""
    login_as(admin)
    wf = service.create_from_starter(org, "greeting", admin)
    typed = '{"name": "Mine", "nodes": [], }'
    resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/import", data={"definition": typed})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "<html" in page and _textarea(page, "definition-json") == typed
    assert _field_error(page, "definition-json").startswith("Not JSON")
    # the same on the workflows page, where a new workflow is imported
    resp = client.post(f"/o/{org.slug}/workflows", data={"definition": typed})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and _textarea(page, "import-definition") == typed
    assert _field_error(page, "import-definition").startswith("Not JSON") and "<details open>" in page
    assert len(service.list_workflows(org)) == 1  # nothing was created

"""Definitions: validation names every problem, the API answers 422 with them, PUT makes a new version."""

from __future__ import annotations

import copy

from portal.workflows.definition import STARTERS, validate


def _greeting() -> dict:
    return copy.deepcopy(STARTERS["greeting"])


def test_starters_are_valid():
    for starter in STARTERS.values():
        assert validate(starter) == {}


def test_validation_names_every_problem_at_once():
    d = _greeting()
    d["nodes"].append({"id": "mystery", "type": "teleport", "config": {}})
    d["nodes"].append({"id": "orphan", "type": "transform", "config": {"set": {"x": "1"}}})
    d["nodes"].append({"id": "broken", "type": "transform", "config": {"set": {"x": "{{ input.name "}}})
    d["nodes"].append({"id": "nocfg", "type": "http", "config": {"method": "FETCH"}})
    d["edges"].append({"from": "shout", "to": "ghost"})
    problems = validate(d)
    assert "Unknown type 'teleport'" in problems["nodes.2.type"]
    assert "Bad template" in problems["nodes.4.config.set.x"]
    assert any(k.startswith("nodes.5.config") for k in problems)  # http config fails its schema
    assert "Dangling edge" in problems["edges.3.to"]


def test_unreachable_node_and_no_path_to_end_are_named():
    d = _greeting()
    d["nodes"].append({"id": "island", "type": "transform", "config": {"set": {"x": "1"}}})
    assert "Unreachable node" in validate(d)["nodes.2"]
    d = _greeting()
    d["edges"] = [e for e in d["edges"] if e["to"] != "END"]
    problems = validate(d)
    assert any("No path to END" in msg for msg in problems.values())


def test_branch_only_from_condition_and_start_required():
    d = _greeting()
    d["edges"][1]["when"] = "yes"
    assert "condition" in validate(d)["edges.1.when"]
    d = _greeting()
    d["edges"] = [e for e in d["edges"] if e["from"] != "START"]
    assert "START" in validate(d)["edges"]


def test_api_create_answers_422_naming_each_problem(app, client, login_as, org, admin):
    login_as(admin)
    d = _greeting()
    d["nodes"][0]["type"] = "teleport"
    d["edges"].append({"from": "greet", "to": "nowhere"})
    resp = client.post(f"/api/v1/workflow-definitions?org={org.slug}", json=d)
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert "nodes.0.type" in fields and "edges.3.to" in fields


def test_put_makes_a_new_version_and_a_run_pins_its_version(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    created = client.post(f"/api/v1/workflow-definitions?org={org.slug}", json=_greeting())
    assert created.status_code == 201
    wf_id = created.get_json()["id"]
    assert wf_id.startswith("wf_") and created.get_json()["version"] == 1
    run1 = client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf_id, "input": {"name": "Ada"}}).get_json()["job_id"]
    d = _greeting()
    d["nodes"][0]["config"]["set"]["greeting"] = "Hi, {{ input.name }}."
    put = client.put(f"/api/v1/workflow-definitions/{wf_id}?org={org.slug}", json=d)
    assert put.status_code == 200 and put.get_json()["version"] == 2
    run2 = client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf_id, "input": {"name": "Ada"}}).get_json()["job_id"]
    wait_for_jobs()
    out1 = client.get(f"/api/v1/workflows/{run1}?org={org.slug}").get_json()
    out2 = client.get(f"/api/v1/workflows/{run2}?org={org.slug}").get_json()
    assert (out1["version"], out1["output"]["greeting"]) == (1, "Hello, Ada!")
    assert (out2["version"], out2["output"]["greeting"]) == (2, "Hi, Ada.")
    listed = client.get(f"/api/v1/workflow-definitions?org={org.slug}").get_json()["data"]
    assert [w["id"] for w in listed] == [wf_id]
    assert client.delete(f"/api/v1/workflow-definitions/{wf_id}?org={org.slug}").status_code == 204
    assert client.get(f"/api/v1/workflow-definitions/{wf_id}?org={org.slug}").status_code == 404
    # the runs stay readable after the workflow is deleted
    assert client.get(f"/api/v1/workflows/{run1}?org={org.slug}").status_code == 200


def test_plain_member_may_run_but_not_edit(app, client, login_as, org, admin, user):
    login_as(admin)
    wf_id = client.post(f"/api/v1/workflow-definitions?org={org.slug}", json=_greeting()).get_json()["id"]
    login_as(user)
    assert client.post(f"/api/v1/workflow-definitions?org={org.slug}", json=_greeting()).status_code == 403
    assert client.put(f"/api/v1/workflow-definitions/{wf_id}?org={org.slug}", json=_greeting()).status_code == 403
    assert client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf_id, "input": {"name": "U"}}).status_code == 202


def test_input_is_checked_against_input_schema(app, client, login_as, org, admin):
    login_as(admin)
    wf_id = client.post(f"/api/v1/workflow-definitions?org={org.slug}", json=_greeting()).get_json()["id"]
    resp = client.post(f"/api/v1/workflows/execute?org={org.slug}", json={"workflow_id": wf_id, "input": {"name": 5}})
    assert resp.status_code == 422
    assert "input.name" in resp.get_json()["error"]["fields"]

"""What a new user's walk through the workflow pages found, fixed: a bad or taken node id is refused at the add-node
form (nothing saved, said in words), the starter of a run is not asked to approve it, a node test says what went
wrong in words, expression fields are hinted without braces, starters get a unique name and a flash, decisions a
toast, metrics human durations, the editor heading the latest version, and a decided approval step its outcome."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.notifications.models import Notification
from portal.workflows import service
from portal.workflows.definition import validate
from portal.workflows.models import WorkflowRun
from tests.factories import member, waiting_approval_run

HX = {"HX-Request": "true"}


def _field_error(page: str, field_id: str) -> str:
    """The message under a field, unescaped; '' when there is none."""
    m = re.search(rf'<small id="{field_id}-error" class="field-error"[^>]*>(.*?)</small>', page, re.S)
    return html.unescape(m.group(1)) if m else ""


def _add_node(client, org, wf, node_id: str, htmx: bool = True):
    return client.post(f"/o/{org.slug}/workflows/{wf.public_id}/edit", headers=HX if htmx else {},
                       data={"change": "add_node", "id": node_id, "type": "transform"})


# ---------------------------------------------------------------- 1. node ids


def test_a_bad_node_id_is_refused_at_the_add_node_form_and_nothing_is_saved(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    db.session.commit()
    login_as(admin)
    for htmx in (True, False):
        resp = _add_node(client, org, wf, "Bad Id!", htmx)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 422
        assert _field_error(page, "new-node-id") == "Use letters, digits, _ or -, starting with a letter or _ (at most 100 characters)."
        assert 'value="Bad Id!"' in page and "does not match" not in page and "problem(s)" not in page
    db.session.refresh(wf)
    assert wf.latest_version == 1 and not validate(service.latest(wf).definition)


def test_a_taken_node_id_is_refused_in_words_without_a_field_prefix(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    db.session.commit()
    login_as(admin)
    resp = _add_node(client, org, wf, "greet")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert _field_error(page, "new-node-id") == "Another node already has the id 'greet': choose a new one."
    assert "id: Another" not in html.unescape(page)
    db.session.refresh(wf)
    assert wf.latest_version == 1


def test_an_imported_bad_id_is_listed_in_words_not_as_a_regex(app, client, login_as, org, admin):
    definition = {"name": "Imported", "nodes": [{"id": "Bad Id!", "type": "transform", "config": {"set": {"a": "b"}}}],
                  "edges": [{"from": "START", "to": "Bad Id!"}, {"from": "Bad Id!", "to": "END"}]}
    wf = service.create_workflow(org, definition, admin, strict=False)
    db.session.commit()
    login_as(admin)
    page = html.unescape(client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True))
    assert "The id 'Bad Id!' cannot be used. Use letters, digits, _ or -, starting with a letter or _ (at most 100 characters)." in page
    assert "does not match" not in page and "^[A-Za-z_]" not in page


# ---------------------------------------------------------------- 2. who is asked to approve


def _asked(run) -> set[int]:
    db.session.expire_all()
    return {n.user_id for n in db.session.scalars(select(Notification).where(Notification.event == "workflow.needs_approval"))
            if n.data.get("run_id") == run.public_id}


def _approvals_card(client, org) -> str:
    page = client.get(f"/o/{org.slug}/").get_data(as_text=True)
    return page[page.index('id="home-approvals"'):page.index('id="home-runs"')]


def test_the_starter_is_not_asked_to_approve_their_own_run_and_others_are(app, client, login_as, org, admin, user, wait_for_jobs):
    other = member(org, "user", email="otto@example.test", name="Otto")
    run = waiting_approval_run(org, user, wait_for_jobs)
    assert _asked(run) == {admin.id, other.id}  # everyone who may decide, never the starter

    login_as(user)  # the starter: no "waiting for your approval" card entry, and the run page says why
    assert run.public_id not in _approvals_card(client, org)
    assert "Someone else must approve a run you started." in client.get(f"/o/{org.slug}/runs/{run.public_id}").get_data(as_text=True)
    login_as(other)
    assert f'href="/o/{org.slug}/runs/{run.public_id}"' in _approvals_card(client, org)


def test_an_admins_only_approval_asks_only_the_admins(app, client, login_as, org, admin, user, wait_for_jobs):
    run = waiting_approval_run(org, user, wait_for_jobs, approvers="admins")
    other = member(org, "user", email="otto@example.test", name="Otto")
    db.session.commit()
    assert _asked(run) == {admin.id}
    login_as(other)
    assert run.public_id not in _approvals_card(client, org)
    login_as(admin)
    assert run.public_id in _approvals_card(client, org)


def test_an_anyone_approval_asks_the_starter_too(app, client, login_as, org, admin, user, wait_for_jobs):
    run = waiting_approval_run(org, user, wait_for_jobs, approvers="anyone")
    assert _asked(run) == {admin.id, user.id}
    login_as(user)
    assert run.public_id in _approvals_card(client, org)


# ---------------------------------------------------------------- 6 and 9. a decision: its toast, and its step's outcome


def _steps_table(page: str) -> list[tuple[str, str]]:
    """(node, status) of each row of the run page's Steps table."""
    body = page[page.index('id="steps-table"'):]
    body = body[:body.index("</table>")]
    return re.findall(r"<tr><td><code>([^<]+)</code> <small[^>]*>[^<]*</small></td><td>([^<]+)</td>", body)


def test_approving_says_so_in_a_toast_and_the_step_shows_it_was_approved(app, client, login_as, org, admin, user, wait_for_jobs):
    run = waiting_approval_run(org, user, wait_for_jobs)
    url = f"/o/{org.slug}/runs/{run.public_id}"
    login_as(admin)
    assert ("approve", "waiting") in _steps_table(client.get(url).get_data(as_text=True))
    resp = client.post(f"{url}/approval", data={"approved": "1", "reason": "fine"}, headers=HX)
    assert resp.status_code == 200
    assert json.loads(resp.headers["HX-Trigger"])["toast"] == {"message": "Approved. The run goes on.", "kind": "success"}
    assert ("approve", "approved") in _steps_table(resp.get_data(as_text=True))
    wait_for_jobs()
    page = client.get(url).get_data(as_text=True)
    assert 'id="run-status">succeeded<' in page
    assert _steps_table(page) == [("draft", "succeeded"), ("approve", "approved"), ("record", "succeeded")]


def test_rejecting_in_a_browser_flashes_that_the_run_stops(app, client, login_as, org, admin, user, wait_for_jobs):
    run = waiting_approval_run(org, user, wait_for_jobs)
    login_as(admin)
    resp = client.post(f"/o/{org.slug}/runs/{run.public_id}/approval", data={"approved": "0", "reason": "too dear"})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Rejected: the run stops." in page and 'id="run-status">rejected<' in page
    assert f"<strong>Rejected</strong> by {admin.display_name}" in page and f"by {admin.email}" not in page  # a name, not an address
    assert _steps_table(page) == [("draft", "succeeded"), ("approve", "rejected")]


# ---------------------------------------------------------------- 3. a node test's failure in words


def _text(fragment: str) -> str:
    """What a person reads: tags dropped, entities unescaped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _test_node(client, org, wf, node_id: str, node_type: str, fields: dict, sample: dict) -> str:
    resp = client.post(f"/o/{org.slug}/workflows/{wf.public_id}/nodes/{node_id}/test", headers=HX,
                       data={"change": "edit_node", "id": node_id, "type": node_type, "sample_input": json.dumps(sample), **fields})
    assert resp.status_code == 200
    return _text(resp.get_data(as_text=True))


def test_a_node_tests_failures_are_said_in_words(app, client, login_as, org, admin):
    greeting = service.create_from_starter(org, "greeting", admin)
    triage = service.create_from_starter(org, "triage", admin)
    db.session.commit()
    login_as(admin)
    said = _test_node(client, org, greeting, "shout", "transform", {"cfg.set": "shout: {{ state.missing }}"}, {"input": {}, "state": {}})
    assert "The template uses state.missing, which the sample does not have." in said and "dict object" not in said
    said = _test_node(client, org, triage, "check", "condition", {"cfg.expression": "1 / input.score"}, {"input": {"score": 0}})
    assert "The expression failed: division by zero." in said and "ZeroDivisionError" not in said
    said = _test_node(client, org, triage, "check", "condition", {"cfg.expression": "'EXAMPLE'"}, {"input": {"score": 1}})
    assert ("The condition chose 'EXAMPLE', and no edge leaves check for that branch (its branches: high, low). "
            "Add an edge with that branch, or a default edge.") in said


def test_a_runs_step_says_its_templates_failure_in_the_same_words(app, client, login_as, org, admin, wait_for_jobs):
    wf = service.create_from_starter(org, "greeting", admin)
    definition = service.latest(wf).definition
    definition["nodes"][1]["config"]["set"] = {"shout": "{{ state.missing | upper }}"}
    service.new_version(org, wf.public_id, definition, admin)
    run = service.start_run(org, wf.public_id, {"name": "Ada"}, "default", admin)
    db.session.commit()
    wait_for_jobs(60)
    login_as(admin)
    page = _text(client.get(f"/o/{org.slug}/runs/{run.public_id}").get_data(as_text=True))
    assert "failed" in page and "The template uses state.missing, which the run does not have." in page and "UndefinedError" not in page


# ---------------------------------------------------------------- 4. expression hints without braces


def _hint(page: str, field_id: str) -> str:
    return _text(re.search(rf'<small id="{field_id}-hint" class="muted">(.*?)</small>', page, re.S).group(1))


def test_an_expression_field_names_the_variables_without_braces_and_a_template_with(app, client, login_as, org, admin):
    triage = service.create_from_starter(org, "triage", admin)
    approval = service.create_from_starter(org, "approval", admin)
    db.session.commit()
    login_as(admin)
    page = client.get(f"/o/{org.slug}/workflows/{triage.public_id}").get_data(as_text=True)
    hint = _hint(page, "node-check-expression")
    assert "May use input.score , state.check , state.result ." in hint and "{{" not in hint
    page = client.get(f"/o/{org.slug}/workflows/{approval.public_id}").get_data(as_text=True)
    assert "May use {{ input.amount }} ," in _hint(page, "node-approve-message")


# ---------------------------------------------------------------- 5. starters: a unique name, and a flash


def test_using_a_starter_twice_names_the_second_apart_and_says_so(app, client, login_as, org, admin):
    login_as(admin)
    names = []
    for _ in range(3):
        resp = client.post(f"/o/{org.slug}/workflows", data={"starter": "approval"})
        assert resp.status_code == 303
        page = html.unescape(client.get(resp.headers["Location"]).get_data(as_text=True))
        names.append(re.search(r"Workflow “([^”]+)” created from the starter\.", page).group(1))
    assert names == ["Expense approval", "Expense approval (2)", "Expense approval (3)"]
    assert sorted(wf.name for wf in service.list_workflows(org)) == names


# ---------------------------------------------------------------- 7. metrics: durations as a person reads them


def test_the_metrics_page_shows_durations_in_words(app, client, login_as, org, admin, wait_for_jobs):
    wf = service.create_from_starter(org, "greeting", admin)
    run = service.start_run(org, wf.public_id, {"name": "Ada"}, "default", admin)
    db.session.commit()
    wait_for_jobs(60)
    db.session.expire_all()
    done = db.session.get(WorkflowRun, run.id)
    assert done.status == "succeeded"
    done.finished_at = done.started_at + timedelta(milliseconds=413498)  # a run of almost seven minutes
    db.session.commit()
    login_as(admin)
    page = client.get(f"/o/{org.slug}/workflows/metrics").get_data(as_text=True)
    p50 = re.search(r'<strong id="p50">(.*?)</strong>', page).group(1)
    assert p50 == "6 min 53 s" and "413498" not in page


# ---------------------------------------------------------------- 8. the editor heading follows the latest version


def test_the_editor_heading_shows_the_version_an_htmx_change_saved(app, client, login_as, org, admin):
    wf = service.create_from_starter(org, "greeting", admin)
    db.session.commit()
    login_as(admin)
    page = client.get(f"/o/{org.slug}/workflows/{wf.public_id}").get_data(as_text=True)
    assert page.count('id="workflow-title"') == 1 and "hx-swap-oob" not in page
    assert '<small class="muted">v1</small>' in page
    for version in (2, 3):
        resp = _add_node(client, org, wf, f"extra{version}")
        assert resp.status_code == 200
        fragment = resp.get_data(as_text=True)
        title = re.search(r'<h1 id="workflow-title" hx-swap-oob="true">(.*?)</h1>', fragment, re.S).group(1)
        assert f"v{version}" in title and "Greeting" in title


def test_only_the_templates_own_failures_are_reworded_as_template_failures():
    from sqlalchemy.exc import OperationalError

    from portal.workflows import failures
    from portal.workflows.nodes import NodeFailed

    condition = {"id": "check", "type": "condition", "config": {"expression": "1 / input.score"}}
    assert failures.in_words(ZeroDivisionError("division by zero"), condition) == "The expression failed: division by zero."
    # A node's own refusal keeps its words, and a database error in a notify node is not blamed on its template.
    assert failures.in_words(NodeFailed("The condition chose 'a', and no edge leaves check."), condition) is None
    notify = {"id": "tell", "type": "notify", "config": {"title": "Hi"}}
    assert failures.in_words(OperationalError("UPDATE x", {}, Exception("database is locked")), notify) is None

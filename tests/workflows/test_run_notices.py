"""What the end of a run tells and bills, on both backends: the starter is told by their own preferences
(and the org's defaults and templates), and an LLM run's tokens reach the org's usage meter."""

from __future__ import annotations

from sqlalchemy import select

from portal.billing import service as billing
from portal.extensions import db
from portal.notifications import service as notifications
from portal.notifications.models import Delivery, Notification
from portal.workflows import service
from portal.workflows.models import WorkflowRun

from .test_runs import _chain, _create, _execute, _status

FAILING = _chain({"id": "ask", "type": "llm", "config": {"prompt": "hi", "output_key": "a"}}, name="Needs a model")  # no LLM endpoint set


def _told(user, event: str) -> tuple[Notification, dict[str, Delivery]]:
    db.session.expire_all()
    note = db.session.scalar(select(Notification).filter_by(user_id=user.id, event=event))
    assert note is not None, f"{user.email} was not told of {event}"
    return note, {d.channel: d for d in db.session.scalars(select(Delivery).filter_by(notification_id=note.id))}


def test_a_failed_run_emails_its_starter_with_the_reason(app, client, login_as, org, admin, mailbox, wait_for_jobs):
    login_as(admin)
    job_id = _execute(client, org, _create(client, org, FAILING))
    wait_for_jobs()
    assert _status(client, org, job_id)["status"] == "failed"
    note, deliveries = _told(admin, "workflow.failed")
    assert note.in_inbox and "no LLM endpoint" in note.body
    assert deliveries["in_app"].status == "delivered"
    [mail] = mailbox.wait_for(admin.email)
    assert "Needs a model" in mail["Subject"]


def test_a_starter_who_muted_failure_emails_gets_none_but_still_sees_it_in_the_inbox(app, client, login_as, org, admin, user, mailbox, wait_for_jobs):
    notifications.save_preferences(org, user, {"workflow.failed": {"email": False}})
    notifications.save_preferences(org, None, {"workflow.failed": {"in_app": True}})
    db.session.commit()
    wf_id = _create(login_as(admin), org, FAILING)
    login_as(user)
    job_id = _execute(client, org, wf_id)
    wait_for_jobs()
    assert _status(client, org, job_id)["status"] == "failed"
    note, deliveries = _told(user, "workflow.failed")
    assert note.in_inbox
    assert deliveries["email"].status == "skipped" and deliveries["email"].last_error == "muted by preference"
    assert mailbox.to(user.email) == []


def test_an_org_that_mutes_success_in_the_inbox_keeps_it_out_unless_the_starter_wants_it(app, client, login_as, org, admin, user, wait_for_jobs):
    notifications.save_preferences(org, None, {"workflow.succeeded": {"in_app": False}})
    notifications.save_preferences(org, admin, {"workflow.succeeded": {"in_app": True}})
    notifications.save_template(org, "workflow.succeeded", "in_app", "Done: {{ workflow_name }} for {{ recipient_name }}", "Took {{ duration }}.")
    db.session.commit()
    wf_id = service.create_from_starter(org, "greeting", admin).public_id
    for who in (user, admin):
        login_as(who)
        job_id = _execute(client, org, wf_id, {"name": "Ada"})
        wait_for_jobs()
        assert _status(client, org, job_id)["status"] == "succeeded"
    muted, deliveries = _told(user, "workflow.succeeded")
    assert not muted.in_inbox and deliveries["in_app"].status == "skipped"
    wanted, deliveries = _told(admin, "workflow.succeeded")
    assert wanted.in_inbox and deliveries["in_app"].status == "delivered"
    assert wanted.title == f"Done: Greeting for {admin.display_name}" and wanted.body.startswith("Took ")
    assert wanted.data["url"] == f"{app.config['BASE_URL']}/o/{org.slug}/runs/{wanted.data['run_id']}"


def test_an_llm_runs_tokens_are_counted_in_the_orgs_usage(app, client, login_as, org, admin, llm_katan, wait_for_jobs):
    login_as(admin)
    client.post(f"/o/{org.slug}/workflows/llm-settings", data={"base_url": llm_katan, "model": "echo-model", "api_key": "sk-test"})
    service.allow_host(llm_katan.split("//", 1)[1].split("/", 1)[0])
    before = billing.used_in(org, "llm_tokens")
    wf_id = _create(client, org, _chain({"id": "ask", "type": "llm", "config": {"prompt": "Summarize {{ input.topic }}", "output_key": "answer"}}))
    job_id = _execute(client, org, wf_id, {"topic": "otters"})
    wait_for_jobs()
    out = _status(client, org, job_id)
    assert out["status"] == "succeeded", out["error"]
    db.session.expire_all()
    run = db.session.scalar(select(WorkflowRun).filter_by(public_id=job_id))
    assert run.llm_tokens > 0 and billing.used_in(org, "llm_tokens") - before == run.llm_tokens

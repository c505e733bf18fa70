"""Workflow pages: the list with starters and JSON import, the editor (HTMX node and edge forms, SVG diagram,
JSON export), the run form built from input_schema, the run page with live progress, LLM settings and metrics."""

from __future__ import annotations

import hmac
import json

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import NotFound, ServiceError, ValidationFailed
from portal.forms import apply_errors
from portal.tenancy import current_org, org_required, platform_required
from portal.themes.optout import no_custom_code
from portal.uow import refused
from portal.web import after_change, flash_error, refusal_message, refusal_words, render_page, toast, wants_fragment
from portal.workflows import bp, forms, service
from portal.workflows.definition import NODE_TYPES, STARTERS, state_variables, validate
from portal.workflows.diagram import layout, node_states


def _editor_context(wf, errors: dict | None = None, run_errors: dict | None = None, import_error: str | None = None,
                    tested: service.NodeTestResult | None = None) -> dict:
    version = service.latest(wf)
    definition = version.definition
    problems = validate(definition)
    # a refused node save: its messages go on that node's fields, with what was typed kept there
    edited = request.form.get("id") if errors is not None and request.form.get("change") == "edit_node" else None
    # a refused new node: its id's message goes under the add-node form's id field, with what was typed kept there
    errors = dict(errors or {})
    new_node_error = errors.pop("id", None) if request.form.get("change") == "add_node" else None
    return {
        "org": current_org, "wf": wf, "version": version, "definition": definition, "problems": problems,
        "diagram": layout(definition), "node_types": NODE_TYPES, "errors": errors,
        "new_node": {"id": request.form.get("id", ""), "type": request.form.get("type", ""), "error": new_node_error} if new_node_error else None,
        # a refused run form: its field messages, and what was typed (kept in the fields)
        "run_errors": run_errors or {}, "run_values": request.form if run_errors else {},
        # a refused import keeps its text, with what is wrong said at the box
        "definition_json": request.form.get("definition", "") if import_error else json.dumps(definition, indent=2), "import_error": import_error,
        "input_fields": forms.input_fields(definition),
        "node_editors": forms.node_editors(definition, problems, edited, errors), "state_variables": state_variables(definition),
        "problem_list": forms.problem_list(definition, problems),
        "runs": service.list_runs(current_org, wf, limit=10),
        # "Test this node": each node's starting sample; a test's result (a browser's full page) under its node's form
        "node_samples": {n["id"]: service.sample_for(definition, n["id"]) for n in definition.get("nodes") or []
                         if isinstance(n, dict) and isinstance(n.get("id"), str)},
        "node_test": tested,
    }


@bp.get("/o/<org_slug>/workflows")
@org_required("workflows.run")
def index(org_slug: str):
    return render_page("workflows/index.html", **_index_context())


def _index_context(import_error: str | None = None) -> dict:
    """The workflows page: the org's workflows, the starters, recent runs; a refused import's text and why."""
    return {"org": current_org, "workflows": service.list_workflows(current_org), "starters": STARTERS,
            "runs": service.list_runs(current_org, limit=20), "import_error": import_error,
            "import_text": request.form.get("definition", "") if import_error else ""}


def _refusal_words(exc: ServiceError) -> str:
    """A refused import's messages in one sentence, or the refusal's own."""
    fields = exc.fields if exc.fields_are_messages else {}
    return " ".join(dict.fromkeys(fields.values())) or exc.message


@bp.post("/o/<org_slug>/workflows")
@org_required("workflows.edit")
def create(org_slug: str):
    form = forms.NewWorkflowForm()
    try:
        forms.parsed(form)
        if form.starter.data:
            wf = service.create_from_starter(current_org, form.starter.data, current_user)
            flash(f"Workflow “{wf.name}” created from the starter.", "success")
        else:
            wf = service.create_workflow(current_org, form.definition.data, current_user, strict=False)
    except ServiceError as exc:
        if form.starter.data:
            flash_error(exc)
            return redirect(url_for("workflows.index", org_slug=org_slug), 303)
        # A refused import: the page again with the pasted text kept in the box and what is wrong said there.
        refused(exc)
        return render_template("workflows/index.html", **_index_context(import_error=_refusal_words(exc))), 422
    return redirect(url_for("workflows.show", org_slug=org_slug, workflow_id=wf.public_id), 303)


@bp.get("/o/<org_slug>/workflows/<workflow_id>")
@org_required("workflows.run")
def show(org_slug: str, workflow_id: str):
    wf = service.get_workflow(current_org, workflow_id)
    return render_page("workflows/show.html", "workflows/_editor.html", **_editor_context(wf))


def _errors_of(form) -> dict:
    """The form's errors as the editor shows them: field name → message."""
    errors = {field.name: " ".join(field.errors) for field in form if field.errors}
    if form.form_errors:
        errors["change"] = " ".join(form.form_errors)
    return errors


@bp.post("/o/<org_slug>/workflows/<workflow_id>/edit")
@org_required("workflows.edit")
def edit(org_slug: str, workflow_id: str):
    wf = service.get_workflow(current_org, workflow_id)
    form = forms.EditForm()
    show_url = url_for("workflows.show", org_slug=org_slug, workflow_id=workflow_id)
    try:
        forms.parsed(form)
        wf = service.edit_definition(current_org, workflow_id, form.change.data or "", form.change_data(), current_user)
    except ServiceError as exc:
        fields = exc.fields if exc.fields_are_messages else {}
        if form.change.data == "add_node" and set(fields) == {"id"}:
            refused(exc)  # said at the add-node form's id field (the whole page for a browser), nothing saved
            return render_page("workflows/show.html", "workflows/_editor.html", **_editor_context(wf, dict(fields))), 422
        if not wants_fragment():
            flash_error(exc)
            return redirect(show_url, 303)
        if fields and all(k.startswith(forms.CONFIG_PREFIX) or k == "config" for k in fields):
            refused(exc)  # said at the node's fields, not in the list at the top
            return render_template("workflows/_editor.html", **_editor_context(wf, dict(fields))), 422
        apply_errors(form, exc)
        return render_template("workflows/_editor.html", **_editor_context(wf, _errors_of(form))), 422
    return after_change(show_url, "workflows/_editor.html", **_editor_context(wf))


@bp.post("/o/<org_slug>/workflows/<workflow_id>/nodes/<node_id>/test")
@org_required("workflows.edit")
def test_node(org_slug: str, workflow_id: str, node_id: str):
    """Run one node once with a sample and show what it did (the fragment for htmx, the editor for a browser); nothing is saved."""
    wf = service.get_workflow(current_org, workflow_id)  # another org's workflow is a 404 before anything else
    form = forms.NodeTestForm()
    status = 200
    try:
        forms.parsed(form)
        tested = service.try_node(current_org, workflow_id, node_id, form.sample_input.data, form.typed_config(), current_user)
    except ValidationFailed as exc:  # the sample or the typed settings do not fit: said in the result, in words
        refused(exc)
        tested, status = service.node_test_refusal(node_id, exc), 422
    if wants_fragment():
        return render_template("workflows/_node_test.html", org=current_org, wf=wf, node_test=tested), status
    # A browser: the editor again, what was typed kept in the node's fields (errors={} marks them as this node's)
    # and the settings' problems said at them, the result under the node's form.
    field_errors = {k: v for k, v in tested.problems.items() if k.startswith(forms.CONFIG_PREFIX) or k == "config"}
    return render_template("workflows/show.html", **_editor_context(wf, field_errors, tested=tested)), status


@bp.post("/o/<org_slug>/workflows/<workflow_id>/import")
@org_required("workflows.edit")
def import_json(org_slug: str, workflow_id: str):
    wf = service.get_workflow(current_org, workflow_id)  # another org's workflow is a 404 before anything else
    form = forms.ImportForm()
    show_url = url_for("workflows.show", org_slug=org_slug, workflow_id=workflow_id)
    try:
        forms.parsed(form)
        if form.definition.data is None:
            raise ValidationFailed({"definition": "Paste a workflow definition (JSON) first."})
        service.new_version(current_org, workflow_id, form.definition.data, current_user, strict=False)
    except ServiceError as exc:
        # The editor again (the whole page without htmx), the pasted text kept in the box and what is wrong said there.
        refused(exc)
        return render_page("workflows/show.html", "workflows/_editor.html", **_editor_context(wf, import_error=_refusal_words(exc))), 422
    flash("Saved as a new version.", "success")
    return after_change(show_url)


@bp.get("/o/<org_slug>/workflows/<workflow_id>/export")
@org_required("workflows.run")
def export_json(org_slug: str, workflow_id: str):
    wf = service.get_workflow(current_org, workflow_id)
    body = json.dumps(service.latest(wf).definition, indent=2)
    return Response(body, mimetype="application/json", headers={"Content-Disposition": f'attachment; filename="{wf.public_id}-v{wf.latest_version}.json"'})


@bp.post("/o/<org_slug>/workflows/<workflow_id>/delete")
@org_required("workflows.edit")
def delete(org_slug: str, workflow_id: str):
    service.delete_workflow(current_org, workflow_id)
    flash("Workflow deleted; its runs stay in the history.", "success")
    return redirect(url_for("workflows.index", org_slug=org_slug), 303)


@bp.post("/o/<org_slug>/workflows/<workflow_id>/runs")
@org_required("workflows.run")
def start(org_slug: str, workflow_id: str):
    wf = service.get_workflow(current_org, workflow_id)
    form = forms.RunForm()
    try:
        forms.parsed(form)
        data = form.input_for(service.latest(wf).definition)
        run = service.start_run(current_org, workflow_id, data, form.priority.data, current_user)
    except ValidationFailed as exc:  # shown at the fields, with what was typed
        refused(exc)
        return render_page("workflows/show.html", **_editor_context(wf, run_errors=exc.fields or {"input": exc.message})), 422
    except ServiceError as exc:  # refused as a whole (a plan's limit): said above the form, with what was typed kept
        refused(exc)
        return render_page("workflows/show.html", **_editor_context(wf, run_errors={"": refusal_message(exc)})), exc.status
    return redirect(url_for("workflows.run", org_slug=org_slug, run_id=run.public_id), 303)


def _run_context(run, errors: dict | None = None, refusal: str | None = None) -> dict:
    definition = run.version.definition
    current = run.current_node if run.status in ("running", "waiting_for_approval") else None
    return {"org": current_org, "run": run, "wf": run.workflow, "diagram": layout(definition, node_states(run), current),
            "approval": service.approval_request(current_org, run, current_user), "decision": service.decision_of(run),
            "steps": run.steps, "errors": errors or {}, "refusal": refusal, "reason": request.form.get("reason", "") if errors else ""}


@bp.get("/o/<org_slug>/runs/<run_id>")
@org_required("workflows.run")
def run(org_slug: str, run_id: str):
    return render_page("workflows/run.html", "workflows/_run.html", **_run_context(service.get_run(current_org, run_id)))


def _act(org_slug: str, run_id: str, action, said=None):
    """Cancel, decide or retry a run, then show it (the live fragment for htmx). A refusal is said on the fragment
    (htmx) or flashed (a browser); a decision whose fields don't fit (a rejection without a reason) is a 422 with
    the message at the field."""
    try:
        run = action()
    except ValidationFailed as exc:
        refused(exc)
        run = service.get_run(current_org, run_id)
        return render_page("workflows/run.html", "workflows/_run.html", **_run_context(run, errors=exc.fields)), 422
    except ServiceError as exc:
        if not wants_fragment():
            flash_error(exc)
            return redirect(url_for("workflows.run", org_slug=org_slug, run_id=run_id), 303)
        refused(exc)
        return render_template("workflows/_run.html", **_run_context(service.get_run(current_org, run_id), refusal=refusal_words(exc)))
    answer = after_change(url_for("workflows.run", org_slug=org_slug, run_id=run.public_id), "workflows/_run.html", **_run_context(run))
    return toast(answer, said(run)) if said else answer  # said: the words of what was done (a toast, or a flash for a browser)


@bp.post("/o/<org_slug>/runs/<run_id>/cancel")
@org_required("workflows.run")
def cancel(org_slug: str, run_id: str):
    return _act(org_slug, run_id, lambda: service.cancel(current_org, run_id))


DECIDED = {True: "Approved. The run goes on.", False: "Rejected: the run stops."}


@bp.post("/o/<org_slug>/runs/<run_id>/approval")
@org_required("workflows.run")
def approval(org_slug: str, run_id: str):
    form = forms.ApprovalForm()

    def decide():
        forms.parsed(form)
        return service.decide(current_org, run_id, form.approved.data, current_user, reason=form.reason.data or "")

    return _act(org_slug, run_id, decide, lambda run: DECIDED[run.status != "rejected"])


@bp.post("/o/<org_slug>/runs/<run_id>/retry")
@org_required("workflows.run")
def retry(org_slug: str, run_id: str):
    return _act(org_slug, run_id, lambda: service.retry(current_org, run_id))


@bp.post("/o/<org_slug>/runs/<run_id>/again")
@org_required("workflows.run")
def again(org_slug: str, run_id: str):
    try:
        new = service.run_again(current_org, run_id, current_user)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("workflows.run", org_slug=org_slug, run_id=run_id), 303)
    return redirect(url_for("workflows.run", org_slug=org_slug, run_id=new.public_id), 303)


@bp.route("/o/<org_slug>/workflows/llm-settings", methods=["GET", "POST"])
@no_custom_code  # the provider's API key field
@org_required("workflows.edit")
def llm_settings(org_slug: str):
    settings = service.llm_settings(current_org)
    form = forms.LLMSettingsForm(obj=settings)
    if form.is_submitted():
        try:
            forms.parsed(form)
            service.save_llm_settings(current_org, form.base_url.data or "", form.model.data or "", form.api_key.data or None)
        except ServiceError as exc:
            apply_errors(form, exc)
            return render_page("workflows/llm_settings.html", org=current_org, settings=settings, form=form), 422
        flash("LLM settings saved.", "success")
        return redirect(url_for("workflows.llm_settings", org_slug=org_slug), 303)
    return render_page("workflows/llm_settings.html", org=current_org, settings=settings, form=form)


@bp.get("/o/<org_slug>/workflows/metrics")
@org_required("workflows.run")
def metrics(org_slug: str):
    data = service.metrics(current_org)
    top = max(data["runs_by_status"].values(), default=0) or 1
    return render_page("workflows/metrics.html", org=current_org, m=data, top=top)


@bp.get("/metrics")
def prometheus():
    """Platform-wide workflow counters in Prometheus text format, for a scraper holding METRICS_TOKEN
    (404 without it, or when it is unset). No organization's data: totals only."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token or not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        raise NotFound()
    return Response(service.prometheus_text(), mimetype="text/plain; version=0.0.4")


@bp.route("/admin/workflow-hosts", methods=["GET", "POST"])
@platform_required("platform.admin")
def allowed_hosts():
    """The SSRF allowlist: hosts http and llm nodes may reach although they resolve to internal addresses."""
    form = forms.HostForm()
    if form.is_submitted():
        try:
            forms.parsed(form)
            if form.remove.data:
                service.disallow_host(form.remove.data)
            else:
                service.allow_host(form.host.data or "", current_user)
        except ServiceError as exc:
            flash_error(exc)
        return redirect(url_for("workflows.allowed_hosts"), 303)
    return render_page("workflows/admin_hosts.html", hosts=service.list_allowed_hosts(), form=form)

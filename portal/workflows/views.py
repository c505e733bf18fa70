"""Workflow pages: the list with starters and JSON import, the editor (HTMX node and edge forms, SVG diagram,
JSON export), the run form built from input_schema, the run page with live progress, LLM settings and metrics."""

from __future__ import annotations

import hmac
import json

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from portal.errors import ServiceError
from portal.tenancy import current_org, org_required, platform_required
from portal.web import flash_error, render_page
from portal.workflows import bp, service
from portal.workflows.definition import NODE_TYPES, STARTERS, validate
from portal.workflows.diagram import layout, node_states


def _editor_context(wf, errors: dict | None = None) -> dict:
    version = service.latest(wf)
    definition = version.definition
    return {
        "org": current_org, "wf": wf, "version": version, "definition": definition, "problems": validate(definition),
        "diagram": layout(definition), "node_types": NODE_TYPES, "errors": errors or {},
        "definition_json": json.dumps(definition, indent=2), "input_fields": _input_fields(definition),
        "node_configs": {n.get("id"): json.dumps(n.get("config") or {}) for n in definition.get("nodes") or [] if isinstance(n, dict)},
        "runs": service.list_runs(current_org, wf, limit=10),
    }


def _input_fields(definition: dict) -> list[dict] | None:
    """Form fields from input_schema's top-level properties; None when there is no schema (a JSON box instead)."""
    schema = definition.get("input_schema") or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return None
    required = set(schema.get("required") or [])
    return [
        {"name": k, "label": (p or {}).get("title") or k, "type": (p or {}).get("type", "string"), "required": k in required}
        for k, p in props.items()
    ]


def _form_input(definition: dict) -> dict:
    fields = _input_fields(definition)
    if fields is None:
        raw = request.form.get("input_json") or "{}"
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ServiceError(f"The input is not JSON: {exc}", code="bad_json", fields={"input": "Not JSON."}) from exc
    data: dict = {}
    for f in fields:
        raw = request.form.get(f"input.{f['name']}", "")
        if f["type"] == "boolean":
            data[f["name"]] = raw in ("1", "on", "true")
        elif raw == "":
            continue
        elif f["type"] in ("integer", "number"):
            try:
                data[f["name"]] = int(raw) if f["type"] == "integer" else float(raw)
            except ValueError:
                data[f["name"]] = raw  # the schema check names the field
        else:
            data[f["name"]] = raw
    return data


@bp.get("/o/<org_slug>/workflows")
@org_required("workflows.run")
def index(org_slug: str):
    return render_page("workflows/index.html", org=current_org, workflows=service.list_workflows(current_org), starters=STARTERS,
                       runs=service.list_runs(current_org, limit=20))


@bp.post("/o/<org_slug>/workflows")
@org_required("workflows.edit")
def create(org_slug: str):
    try:
        if request.form.get("starter"):
            wf = service.create_from_starter(current_org, request.form["starter"], current_user)
        else:
            try:
                definition = json.loads(request.form.get("definition") or "")
            except ValueError as exc:
                raise ServiceError(f"Not JSON: {exc}", code="bad_json") from exc
            wf = service.create_workflow(current_org, definition, current_user, strict=False)
    except ServiceError as exc:
        flash(" ".join([exc.message, *(f"{k}: {v}" for k, v in exc.fields.items())]), "error")
        return redirect(url_for("workflows.index", org_slug=org_slug), 303)
    return redirect(url_for("workflows.show", org_slug=org_slug, workflow_id=wf.public_id), 303)


@bp.get("/o/<org_slug>/workflows/<workflow_id>")
@org_required("workflows.run")
def show(org_slug: str, workflow_id: str):
    wf = service.get_workflow(current_org, workflow_id)
    return render_page("workflows/show.html", "workflows/_editor.html", **_editor_context(wf))


@bp.post("/o/<org_slug>/workflows/<workflow_id>/edit")
@org_required("workflows.edit")
def edit(org_slug: str, workflow_id: str):
    wf = service.get_workflow(current_org, workflow_id)
    errors = {}
    try:
        wf = service.edit_definition(current_org, workflow_id, request.form.get("change", ""), request.form.to_dict(), current_user)
    except ServiceError as exc:
        errors = exc.fields or {"change": exc.message}
    if request.headers.get("HX-Request"):
        return render_page("workflows/show.html", "workflows/_editor.html", **_editor_context(wf, errors))
    return redirect(url_for("workflows.show", org_slug=org_slug, workflow_id=workflow_id), 303)


@bp.post("/o/<org_slug>/workflows/<workflow_id>/import")
@org_required("workflows.edit")
def import_json(org_slug: str, workflow_id: str):
    service.get_workflow(current_org, workflow_id)  # another org's workflow is a 404 before anything else
    try:
        try:
            definition = json.loads(request.form.get("definition") or "")
        except ValueError as exc:
            raise ServiceError(f"Not JSON: {exc}", code="bad_json") from exc
        service.new_version(current_org, workflow_id, definition, current_user, strict=False)
        flash("Saved as a new version.", "success")
    except ServiceError as exc:
        flash(" ".join([exc.message, *(f"{k}: {v}" for k, v in exc.fields.items())]), "error")
    return redirect(url_for("workflows.show", org_slug=org_slug, workflow_id=workflow_id), 303)


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
    try:
        data = _form_input(service.latest(wf).definition)
        run = service.start_run(current_org, workflow_id, data, request.form.get("priority") or "default", current_user)
    except ServiceError as exc:
        flash(" ".join([exc.message, *(f"{k}: {v}" for k, v in exc.fields.items())]), "error")
        return redirect(url_for("workflows.show", org_slug=org_slug, workflow_id=workflow_id), 303)
    return redirect(url_for("workflows.run", org_slug=org_slug, run_id=run.public_id), 303)


def _run_context(run) -> dict:
    definition = run.version.definition
    return {"org": current_org, "run": run, "wf": run.workflow, "diagram": layout(definition, node_states(run), run.current_node if run.status in ("running", "waiting_for_approval") else None)}


@bp.get("/o/<org_slug>/runs/<run_id>")
@org_required("workflows.run")
def run(org_slug: str, run_id: str):
    return render_page("workflows/run.html", "workflows/_run.html", **_run_context(service.get_run(current_org, run_id)))


def _after_run_action(org_slug: str, run):
    if request.headers.get("HX-Request"):
        return render_page("workflows/run.html", "workflows/_run.html", **_run_context(run))
    return redirect(url_for("workflows.run", org_slug=org_slug, run_id=run.public_id), 303)


def _act(org_slug: str, run_id: str, action):
    try:
        run = action()
    except ServiceError as exc:
        flash(exc.message, "error")
        run = service.get_run(current_org, run_id)
    return _after_run_action(org_slug, run)


@bp.post("/o/<org_slug>/runs/<run_id>/cancel")
@org_required("workflows.run")
def cancel(org_slug: str, run_id: str):
    return _act(org_slug, run_id, lambda: service.cancel(current_org, run_id))


@bp.post("/o/<org_slug>/runs/<run_id>/approval")
@org_required("workflows.run")
def approval(org_slug: str, run_id: str):
    approved = request.form.get("approved") == "1"
    return _act(org_slug, run_id, lambda: service.decide(current_org, run_id, approved, current_user))


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
@org_required("workflows.edit")
def llm_settings(org_slug: str):
    errors = {}
    if request.method == "POST":
        try:
            service.save_llm_settings(current_org, request.form.get("base_url", ""), request.form.get("model", ""), request.form.get("api_key") or None)
            flash("LLM settings saved.", "success")
            return redirect(url_for("workflows.llm_settings", org_slug=org_slug), 303)
        except ServiceError as exc:
            errors = exc.fields
    return render_page("workflows/llm_settings.html", org=current_org, settings=service.llm_settings(current_org), errors=errors, form=request.form)


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
        abort(404)
    m = service.metrics(None)
    lines = ["# HELP vetrai_workflow_runs Workflow runs by status.", "# TYPE vetrai_workflow_runs gauge"]
    lines += [f'vetrai_workflow_runs{{status="{s}"}} {n}' for s, n in m["runs_by_status"].items()]
    lines += ["# HELP vetrai_workflow_run_duration_ms Duration of recent succeeded runs.", "# TYPE vetrai_workflow_run_duration_ms gauge"]
    lines += [f'vetrai_workflow_run_duration_ms{{quantile="{q}"}} {v if v is not None else "NaN"}' for q, v in (("0.5", m["duration_ms"]["p50"]), ("0.95", m["duration_ms"]["p95"]))]
    lines += ["# HELP vetrai_queue_depth Jobs waiting per queue.", "# TYPE vetrai_queue_depth gauge"]
    lines += [f'vetrai_queue_depth{{queue="{q}"}} {n}' for q, n in m["queue_depth"].items()]
    lines += ["# TYPE vetrai_live_workers gauge", f"vetrai_live_workers {m['live_workers']}",
              "# TYPE vetrai_workflow_failure_rate gauge", f"vetrai_workflow_failure_rate {m['failure_rate']}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


@bp.route("/admin/workflow-hosts", methods=["GET", "POST"])
@platform_required("platform.admin")
def allowed_hosts():
    """The SSRF allowlist: hosts http and llm nodes may reach although they resolve to internal addresses."""
    if request.method == "POST":
        try:
            if request.form.get("remove"):
                service.disallow_host(request.form["remove"])
            else:
                service.allow_host(request.form.get("host", ""), current_user)
        except ServiceError as exc:
            flash(" ".join(exc.fields.values()) or exc.message, "error")
        return redirect(url_for("workflows.allowed_hosts"), 303)
    from portal.extensions import db
    from portal.workflows.models import AllowedHost

    hosts = db.session.scalars(db.select(AllowedHost).order_by(AllowedHost.host)).all()
    return render_page("workflows/admin_hosts.html", hosts=hosts)

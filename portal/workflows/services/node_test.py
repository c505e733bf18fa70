"""Test one node of a workflow with sample input, as the editor's "Test this node" does: the node's function once,
on a dry-run context, with the saved config or the one typed in its form. Nothing is stored: no run, no step, no
checkpoint, no approval, no notification; only an llm node's tokens count on the org's plan, as a run's do."""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import current_app

from portal.billing import service as billing
from portal.errors import QuotaExceeded, ValidationFailed
from portal.orgs.models import Organization
from portal.workflows import nodes
from portal.workflows.definition import END, START, validate
from portal.workflows.failures import in_words as failure_words
from portal.workflows.services.definitions import with_latest
from portal.workflows.services.notices import human_duration

SAMPLE_FIELD = "sample_input"
_EXCERPT = 2000  # characters of an HTTP body or an LLM reply shown in the editor


@dataclass
class NodeTestResult:
    """What one test of a node showed: its state update and what it means for the node's type, or why it failed."""

    node_id: str
    node_type: str
    duration_ms: int = 0
    update: dict | None = None
    branch: str | None = None  # condition: the branch chosen ("" is the edge without a "when")
    branch_to: str | None = None  # condition: where that branch leads
    pause_message: str | None = None  # approval: what the approvers would be asked
    notice: dict | None = None  # notify: the title and body that would be sent
    http_status: int | None = None
    http_body: str | None = None
    reply: str | None = None  # llm: the answer
    tokens: int = 0
    error: str | None = None  # the node raised: why, in words
    problems: dict[str, str] = field(default_factory=dict)  # not run: the sample or the config does not fit

    @property
    def duration(self) -> str:
        """The node's run time as a person reads it ("12 ms", "under 1 ms")."""
        return human_duration(self.duration_ms) if self.duration_ms >= 1 else "under 1 ms"

    @property
    def update_json(self) -> str:
        """The state update, pretty-printed."""
        return json.dumps(self.update, indent=2, ensure_ascii=False, default=str)


class _DryRun(nodes.Context):
    """A node's context without a run row: the nodes that read the run (http's Idempotency-Key) see a stand-in whose
    id is fresh for each test, so a remote side that deduplicates never mistakes a test for a real run's call."""

    @property
    def run(self) -> Any:
        return SimpleNamespace(public_id=f"test_{secrets.token_hex(6)}", created_by=None)


def sample_input(sample: Any) -> tuple[dict, dict]:
    """(input, state) from a parsed sample {"input": {...}, "state": {...}} (both optional); ValidationFailed in words."""
    if sample is None:
        return {}, {}
    if not isinstance(sample, dict):
        raise ValidationFailed({SAMPLE_FIELD: 'The sample must be a JSON object: {"input": {...}, "state": {...}}.'})
    unknown = sorted(k for k in sample if k not in ("input", "state"))
    if unknown:
        raise ValidationFailed({SAMPLE_FIELD: f"The sample takes only \"input\" and \"state\", not {', '.join(map(repr, unknown))}: "
                                              'write {"input": {...}, "state": {...}}.'})
    inp, state = sample.get("input", {}), sample.get("state", {})
    for name, value in (("input", inp), ("state", state)):
        if not isinstance(value, dict):
            raise ValidationFailed({SAMPLE_FIELD: f'The sample\'s "{name}" must be a JSON object ({{"key": value, ...}}).'})
    return inp, state


def _config_problems(node: dict) -> dict[str, str]:
    """The node's config problems as the validator says them, keyed cfg.<config path> like the editor's fields."""
    alone = {"name": "test", "nodes": [node], "edges": [{"from": START, "to": node["id"]}, {"from": node["id"], "to": END}]}
    found = {}
    for path, message in validate(alone).items():
        if path == "nodes.0.type":
            found["type"] = message
        elif path.startswith("nodes.0.config"):
            rest = path.removeprefix("nodes.0.config").lstrip(".")
            found[f"cfg.{rest}" if rest else "config"] = message
    return found


def try_node(org: Organization, workflow_id: str, node_id: str, sample: Any, config: dict | None = None, by: Any = None) -> NodeTestResult:
    """Run one node of the org's workflow (latest version) once with a sample {"input", "state"}, with `config` (what
    the node's form holds) or the saved config; NotFound for another org's workflow, ValidationFailed for a sample
    or config that does not fit. A node that raises is a result with its error, not an exception."""
    _wf, version = with_latest(org, workflow_id)
    definition = version.definition
    saved = next((n for n in definition.get("nodes") or [] if isinstance(n, dict) and n.get("id") == node_id), None)
    if saved is None:
        raise ValidationFailed({"id": f"There is no node {node_id!r} in the latest version; reload the editor."})
    inp, state = sample_input(sample)
    node = {**saved, "config": config if config is not None else (saved.get("config") or {})}
    problems = _config_problems(node)
    if problems:
        raise ValidationFailed(problems, f"{node_id} cannot be tested until its settings are fixed.")
    result = NodeTestResult(node_id=node_id, node_type=node["type"])
    ctx = _DryRun(run_id=0, org_id=org.id, created_by_id=getattr(by, "id", None), config=current_app.config)
    started = time.perf_counter()
    try:
        if node["type"] == "llm":  # a test's LLM call is the org's spend as a run's is: within the plan, and metered
            billing.check(org, "llm_tokens")
        _run(node, definition, inp, state, ctx, result)
    except QuotaExceeded as exc:
        result.error = exc.message
    except (nodes.NodeRefused, nodes.NodeFailed) as exc:
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever the node raised is shown in words, never a 500
        result.error = failure_words(exc, node, "the sample") or f"{type(exc).__name__}: {exc}"
    result.duration_ms = round((time.perf_counter() - started) * 1000)
    result.tokens = ctx.tokens
    if ctx.tokens:
        billing.record_usage(org, "llm_tokens", ctx.tokens, f"node-test:{secrets.token_hex(8)}")
    return result


def _run(node: dict, definition: dict, inp: dict, state: dict, ctx: nodes.Context, result: NodeTestResult) -> None:
    ntype, cfg = node["type"], node["config"]
    if ntype == "condition":
        edges = [e for e in definition.get("edges") or [] if isinstance(e, dict) and e.get("from") == node["id"]]
        result.update = nodes.condition(node, inp, state, ctx, branches=[e.get("when") or "" for e in edges])
        result.branch = result.update[node["id"]]
        result.branch_to = next((e.get("to") for e in edges if (e.get("when") or "") == result.branch), None)
    elif ntype == "approval":
        # The node's function pauses the graph (LangGraph's interrupt, which needs a run and its checkpointer): the
        # test shows what it would ask, rendered as the node renders it, and requests no approval.
        result.pause_message = nodes.render(cfg.get("message") or nodes.APPROVAL_MESSAGE, inp, state)
    elif ntype == "notify":
        # Sending is the node's whole effect, and a test sends nothing: show what the run's starter would get.
        result.notice = {"title": nodes.render(cfg["title"], inp, state), "body": nodes.render(cfg.get("body") or "", inp, state)}
    else:  # transform, http (allowed-hosts check, pinned address, timeout), llm (the org's endpoint): the real function
        result.update = nodes.EXECUTORS[ntype](node, inp, state, ctx)
        answer = result.update.get(cfg.get("output_key")) if ntype in ("http", "llm") else None
        if ntype == "http" and isinstance(answer, dict):
            result.http_status = answer.get("status")
            result.http_body = nodes.truncate(answer.get("body"), _EXCERPT)
        elif ntype == "llm":
            result.reply = nodes.truncate(answer, _EXCERPT)


def refusal(node_id: str, exc: ValidationFailed) -> NodeTestResult:
    """The result shown when a test did not run: the sample's or the config's problems, in words."""
    fields = exc.fields if exc.fields_are_messages else {}
    return NodeTestResult(node_id=node_id, node_type="", problems=dict(fields) or {"": exc.message})


def _placeholder(prop: Any) -> Any:
    """A sample value for one input_schema property: its default or first example, else one of its type."""
    prop = prop if isinstance(prop, dict) else {}
    if "default" in prop:
        return prop["default"]
    if isinstance(prop.get("examples"), list) and prop["examples"]:
        return prop["examples"][0]
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind in ("integer", "number"):
        return prop.get("minimum", 1)
    return {"boolean": False, "object": {}, "array": [], "null": None}.get(kind, "example")


def _upstream(definition: dict, node_id: str) -> list[dict]:
    """The nodes that can run before node_id (walking the edges back towards START), nearest first."""
    back: dict[str, list[str]] = {}
    for e in definition.get("edges") or []:
        if isinstance(e, dict):
            back.setdefault(e.get("to"), []).append(e.get("from"))
    by_id = {n.get("id"): n for n in definition.get("nodes") or [] if isinstance(n, dict)}
    seen, todo, found = {node_id}, deque([node_id]), []
    while todo:
        for prev in back.get(todo.popleft(), []):
            if prev not in seen and prev in by_id:
                seen.add(prev)
                todo.append(prev)
                found.append(by_id[prev])
    return found


def _writes(node: dict, definition: dict) -> dict:
    """A plausible state update of a node, for the sample of the nodes after it."""
    cfg = node.get("config") if isinstance(node.get("config"), dict) else {}
    ntype, nid = node.get("type"), node.get("id")
    if ntype == "transform" and isinstance(cfg.get("set"), dict):
        return {k: "example" for k in cfg["set"]}
    if ntype == "llm" and isinstance(cfg.get("output_key"), str):
        return {cfg["output_key"]: "An example reply."}
    if ntype == "http" and isinstance(cfg.get("output_key"), str):
        return {cfg["output_key"]: {"status": 200, "body": {}}}
    if ntype == "condition":
        whens = [e.get("when") or "" for e in definition.get("edges") or [] if isinstance(e, dict) and e.get("from") == nid]
        return {nid: whens[0] if whens else ""}
    if ntype == "approval":
        return {nid: {"approved": True, "reason": ""}}
    if ntype == "notify":
        return {nid: {"sent": 1}}
    return {}


def sample_for(definition: dict, node_id: str) -> str:
    """The sample a node's test starts with (JSON text): the workflow's declared inputs, and what the nodes before it write."""
    schema = definition.get("input_schema") if isinstance(definition.get("input_schema"), dict) else {}
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    state: dict = {}
    for node in reversed(_upstream(definition, node_id)):  # the nearest node's value wins, as in a run
        state.update(_writes(node, definition))
    return json.dumps({"input": {k: _placeholder(p) for k, p in props.items()}, "state": state}, indent=2, ensure_ascii=False)

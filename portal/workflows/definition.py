"""A workflow definition: its JSON shape, the node types' config schemas, and validation that names every problem."""

from __future__ import annotations

import re
from collections import defaultdict, deque
from functools import lru_cache
from typing import Any

import jsonschema
from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

START, END = "START", "END"
NODE_TYPES = ("transform", "llm", "http", "condition", "approval", "notify")
# Who may decide on an approval node (its config's `approvers`); the first is the default.
APPROVERS = {
    "anyone_but_requester": "any member but the person who started the run",
    "admins": "the organization's admins only",
    "anyone": "any member, the run's starter included",
}
DEFAULT_APPROVERS = "anyone_but_requester"

# A node's id: what edges, templates (state.<id>) and the run's steps name it by.
NODE_ID_PATTERN = "^[A-Za-z_][A-Za-z0-9_-]{0,99}$"
NODE_ID_RULE = "Use letters, digits, _ or -, starting with a letter or _ (at most 100 characters)."

# Templates see `input` and `state`; the sandbox forbids attribute tricks, StrictUndefined names missing keys.
env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

_RETRY = {
    "type": "object",
    "properties": {"attempts": {"type": "integer", "minimum": 1, "maximum": 10}, "backoff": {"type": "number", "minimum": 0, "maximum": 60}},
    "additionalProperties": False,
}

CONFIG_SCHEMAS: dict[str, dict] = {
    "transform": {
        "type": "object",
        "properties": {"set": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}, "retry": _RETRY},
        "required": ["set"],
        "additionalProperties": False,
    },
    "llm": {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "minLength": 1},
            "system": {"type": "string"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "output_key": {"type": "string", "minLength": 1, "maxLength": 100},
            "retry": _RETRY,
        },
        "required": ["prompt", "output_key"],
        "additionalProperties": False,
    },
    "http": {
        "type": "object",
        "properties": {
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
            "url": {"type": "string", "minLength": 1},
            "body": {"type": "string"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 120},
            "output_key": {"type": "string", "minLength": 1, "maxLength": 100},
            "retry": _RETRY,
        },
        "required": ["url", "output_key"],
        "additionalProperties": False,
    },
    "condition": {
        "type": "object",
        "properties": {"expression": {"type": "string", "minLength": 1}},
        "required": ["expression"],
        "additionalProperties": False,
    },
    "approval": {
        "type": "object",
        # approvers: checked by validate(), which names the choices in words
        "properties": {"message": {"type": "string"}, "approvers": {}},
        "additionalProperties": False,
    },
    "notify": {
        "type": "object",
        "properties": {"title": {"type": "string", "minLength": 1}, "body": {"type": "string"}, "retry": _RETRY},
        "required": ["title"],
        "additionalProperties": False,
    },
}

# How the editor shows each config property (the schema says its kind): label, widget where the kind alone
# does not tell (a long text, "key: value" lines), a hint. Templates are hinted with the variables they may use.
FIELD_UI: dict[str, dict[str, dict]] = {
    "transform": {"set": {"label": "Set", "hint": "One line per key: key: template (e.g. greeting: Hello, {{ input.name }}!)."}},
    "llm": {
        "prompt": {"label": "Prompt", "widget": "textarea", "template": True},
        "system": {"label": "System message", "widget": "textarea", "template": True},
        "temperature": {"label": "Temperature", "hint": "0 (focused) to 2 (varied)."},
        "output_key": {"label": "Output key", "hint": "The state key the answer goes to: later nodes read {{ state.<key> }}."},
    },
    "http": {
        "method": {"label": "Method"},
        "url": {"label": "URL", "template": True},
        "headers": {"label": "Headers", "hint": "One per line: Name: value."},
        "body": {"label": "Body", "widget": "textarea", "template": True},
        "timeout": {"label": "Timeout (seconds)"},
        "output_key": {"label": "Output key", "hint": "The state key the response goes to: later nodes read {{ state.<key> }}."},
    },
    # An expression, not a template: written without braces, and hinted so.
    "condition": {"expression": {"label": "Expression", "hint": "Its value picks the branch (an edge's \"when\"), e.g. 'high' if input.score >= 5 else 'low'.",
                                 "expression": True}},
    "approval": {"message": {"label": "Message", "widget": "textarea", "template": True},
                 "approvers": {"label": "Who may approve", "choices": list(APPROVERS.items())}},
    "notify": {"title": {"label": "Title", "template": True}, "body": {"label": "Body", "widget": "textarea", "template": True}},
}
_RETRY_UI = {"retry.attempts": {"label": "Retry attempts"}, "retry.backoff": {"label": "Retry backoff (seconds)"}}


def config_fields(node_type: str) -> list[dict]:
    """The editor's fields for a node type, generated from its config schema: name (a dotted config path), label,
    kind (text, textarea, number, integer, select, pairs), choices, hint, required, template."""
    schema = CONFIG_SCHEMAS.get(node_type) or {}
    ui = FIELD_UI.get(node_type, {}) | _RETRY_UI
    fields: list[dict] = []

    def add(name: str, prop: dict, required: bool) -> None:
        if "properties" in prop:  # a fixed sub-object (retry): one field per property
            for sub, sub_prop in prop["properties"].items():
                add(f"{name}.{sub}", sub_prop, False)
            return
        hints = ui.get(name, {})
        if "choices" in hints:
            kind, choices = "select", hints["choices"]
        elif "enum" in prop:
            kind, choices = "select", [(v, v) for v in prop["enum"]]
        elif prop.get("type") == "object":
            kind, choices = "pairs", []
        elif prop.get("type") in ("number", "integer"):
            kind, choices = prop["type"], []
        else:
            kind, choices = hints.get("widget", "text"), []
        fields.append({"name": name, "label": hints.get("label", name.replace("_", " ").capitalize()), "kind": kind, "choices": choices,
                       "hint": hints.get("hint", ""), "required": required, "template": hints.get("template", False) or kind == "pairs",
                       "expression": hints.get("expression", False),
                       "minimum": prop.get("minimum"), "maximum": prop.get("maximum")})

    for name, prop in (schema.get("properties") or {}).items():
        add(name, prop, name in (schema.get("required") or []))
    return fields


def state_variables(definition: dict) -> list[str]:
    """What a node's templates may use, {{ name }} style: the input's fields and the state keys nodes write."""
    names: list[str] = []
    schema = definition.get("input_schema") if isinstance(definition, dict) else None
    props = schema.get("properties") if isinstance(schema, dict) else None
    names += [f"input.{k}" for k in props or {}] or ["input"]
    for node in definition.get("nodes") or [] if isinstance(definition, dict) else []:
        if not isinstance(node, dict):
            continue
        config = node.get("config") if isinstance(node.get("config"), dict) else {}
        if node.get("type") == "transform" and isinstance(config.get("set"), dict):
            names += [f"state.{k}" for k in config["set"]]
        elif node.get("type") in ("llm", "http") and isinstance(config.get("output_key"), str):
            names.append(f"state.{config['output_key']}")
        elif node.get("type") in ("condition", "approval") and isinstance(node.get("id"), str):
            names.append(f"state.{node['id']}")
    return list(dict.fromkeys(names))


def _label(node_type: str, path: str) -> str:
    """A config path's field label ("Headers", "Retry attempts"), for messages in words."""
    for f in config_fields(node_type):
        if path == f["name"] or path.startswith(f["name"] + "."):
            return f["label"]
    return path or "The config"


def _config_problem(node_type: str, err: jsonschema.ValidationError) -> tuple[str, str]:
    """(config path, sentence) for a schema error in a node's config, said in words at the field it concerns."""
    path = ".".join(str(p) for p in err.absolute_path)
    kind, value = err.validator, err.validator_value
    if kind == "required":
        missing = next((r for r in value if isinstance(err.instance, dict) and r not in err.instance), "")
        where = f"{path}.{missing}" if path else missing
        return where, f"{_label(node_type, where)} is required."
    if kind == "additionalProperties" and isinstance(err.instance, dict):
        known = (CONFIG_SCHEMAS[node_type].get("properties") or {}) if not path else {}
        extra = ", ".join(sorted(k for k in err.instance if k not in known)) if not path else ""
        return path, (f"Unknown setting {extra}; a {node_type} node takes: {', '.join(known)}." if extra
                      else f"{_label(node_type, path)} has a setting it does not take.")
    label = _label(node_type, path)
    sentences = {
        "minLength": f"{label} cannot be empty.",
        "maxLength": f"{label} can be at most {value} characters.",
        "minimum": f"{label} must be {value} or more.",
        "exclusiveMinimum": f"{label} must be more than {value}.",
        "maximum": f"{label} must be {value} or less.",
        "enum": f"{label} must be one of: {', '.join(map(str, value)) if isinstance(value, list) else value}.",
        "minProperties": f"{label}: add at least one line.",
    }
    if kind == "type":
        kinds = {"string": "text", "number": "a number", "integer": "a whole number", "object": "a list of key: value lines"}
        return path, f"{label} must be {' or '.join(kinds.get(v, v) for v in (value if isinstance(value, list) else [value]))}."
    return path, sentences.get(kind, f"{label}: {err.message}")


DEFINITION_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string"},
        "input_schema": {"type": "object"},
        "nodes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string", "pattern": NODE_ID_PATTERN}, "type": {"type": "string"}, "config": {"type": "object"}},
                "required": ["id", "type"],
            },
        },
        "edges": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"from": {"type": "string"}, "to": {"type": "string"}, "when": {"type": ["string", "null"]}},
                "required": ["from", "to"],
            },
        },
    },
    "required": ["name", "nodes", "edges"],
}


@lru_cache(maxsize=2048)
def template(source: str):
    """A compiled sandboxed template (compiling costs far more than rendering)."""
    return env.from_string(source)


@lru_cache(maxsize=2048)
def expression(source: str):
    """A compiled sandboxed expression (condition nodes)."""
    return env.compile_expression(source, undefined_to_none=False)


def _template_fields(node_type: str, config: dict) -> list[tuple[str, str]]:
    """(config path, template source) of every template in a node's config."""
    if node_type == "transform":
        return [(f"set.{k}", v) for k, v in (config.get("set") or {}).items()]
    if node_type == "llm":
        return [(k, config[k]) for k in ("prompt", "system") if k in config]
    if node_type == "http":
        return [(k, config[k]) for k in ("url", "body") if k in config] + [(f"headers.{k}", v) for k, v in (config.get("headers") or {}).items()]
    if node_type == "notify":
        return [(k, config[k]) for k in ("title", "body") if k in config]
    if node_type == "approval":
        return [("message", config["message"])] if "message" in config else []
    return []


def node_id_problem(node_id: str, taken: list) -> str | None:
    """Why a new node may not take this id, in words (taken: the ids other nodes have); None when it may."""
    if not node_id:
        return f"Give the node an id. {NODE_ID_RULE}"
    if node_id in (START, END):
        return f"{node_id} is reserved for the graph's ends: choose another id."
    if not re.fullmatch(NODE_ID_PATTERN, node_id):
        return NODE_ID_RULE
    if node_id in taken:
        return f"Another node already has the id '{node_id}': choose a new one."
    return None


def _schema_problem(path: str, err: jsonschema.ValidationError) -> str:
    """A definition schema error in words where a person can act on it (a node's id), else the validator's."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "nodes" and parts[2] == "id":
        return f"The id {err.instance!r} cannot be used. {NODE_ID_RULE}" if isinstance(err.instance, str) else f"Give the node an id. {NODE_ID_RULE}"
    return err.message


def template_sources(node_type: Any, config: Any) -> list[tuple[str, str]]:
    """(config path, template source) of every template in a node's config (none for a config that is not an object)."""
    return _template_fields(node_type, config) if isinstance(config, dict) else []


def validate(definition: Any) -> dict[str, str]:
    """Every problem of a definition as {path: sentence}; empty when it can be compiled and run."""
    problems: dict[str, str] = {}
    if not isinstance(definition, dict):
        return {"definition": "The definition must be a JSON object."}
    for err in jsonschema.Draft202012Validator(DEFINITION_SCHEMA).iter_errors(definition):
        path = ".".join(str(p) for p in err.absolute_path) or "definition"
        problems.setdefault(path, _schema_problem(path, err))
    if problems:
        return problems
    if "input_schema" in definition:
        try:
            jsonschema.Draft202012Validator.check_schema(definition["input_schema"])
        except jsonschema.SchemaError as exc:
            problems["input_schema"] = f"Not a valid JSON Schema: {exc.message}"
    nodes = definition["nodes"]
    ids: dict[str, dict] = {}
    if not nodes:
        problems["nodes"] = "Add at least one node."
    for i, node in enumerate(nodes):
        nid, ntype, config = node["id"], node["type"], node.get("config") or {}
        if nid in (START, END):
            problems[f"nodes.{i}.id"] = f"{nid} is reserved for the graph's ends."
        elif nid in ids:
            problems[f"nodes.{i}.id"] = f"Two nodes are called {nid}."
        ids[nid] = node
        if ntype not in NODE_TYPES:
            problems[f"nodes.{i}.type"] = f"Unknown type {ntype!r}; use one of: {', '.join(NODE_TYPES)}."
            continue
        for err in jsonschema.Draft202012Validator(CONFIG_SCHEMAS[ntype]).iter_errors(config):
            path, sentence = _config_problem(ntype, err)
            problems.setdefault(f"nodes.{i}.config" + (f".{path}" if path else ""), sentence)
        for path, source in _template_fields(ntype, config):
            if not isinstance(source, str):
                continue
            try:
                template(source)
            except TemplateSyntaxError as exc:
                problems[f"nodes.{i}.config.{path}"] = f"Bad template (line {exc.lineno}): {exc.message}"
        if ntype == "approval" and "approvers" in config and not (isinstance(config["approvers"], str) and config["approvers"] in APPROVERS):
            choices = "; ".join(f'"{k}" ({v})' for k, v in APPROVERS.items())
            problems[f"nodes.{i}.config.approvers"] = f"Who may approve must be one of: {choices}."
        if ntype == "condition" and isinstance(config.get("expression"), str):
            try:
                expression(config["expression"])
            except TemplateSyntaxError as exc:
                problems[f"nodes.{i}.config.expression"] = f"Bad expression: {exc.message}"
    out: dict[str, list[str]] = defaultdict(list)
    for j, edge in enumerate(definition["edges"]):
        for end in ("from", "to"):
            name = edge[end]
            if name in (START, END):
                if (end, name) in (("from", END), ("to", START)):
                    problems[f"edges.{j}.{end}"] = f"An edge cannot go {'from END' if name == END else 'to START'}."
            elif name not in ids:
                problems[f"edges.{j}.{end}"] = f"Dangling edge: no node called {name!r}."
        src = edge["from"]
        if edge.get("when") and (src not in ids or ids[src]["type"] != "condition"):
            problems[f"edges.{j}.when"] = "Only edges from a condition node take a `when` branch."
        out[src].append(edge["to"])
    for i, node in enumerate(nodes):
        if node["type"] == "condition":
            branches = [e for e in definition["edges"] if e["from"] == node["id"]]
            if not branches:
                problems.setdefault(f"nodes.{i}", f"Condition {node['id']} has no outgoing edge.")
        elif node["type"] in NODE_TYPES:
            plain = [e for e in definition["edges"] if e["from"] == node["id"]]
            if len(plain) > 1:
                problems.setdefault(f"nodes.{i}", f"{node['id']} has {len(plain)} outgoing edges; only a condition node branches.")
    if not out.get(START):
        problems.setdefault("edges", "No edge starts at START.")
    elif len(out[START]) > 1:
        problems.setdefault("edges", f"START has {len(out[START])} outgoing edges; a run starts at one node.")
    if problems:
        return problems
    reachable = _walk(START, out)
    for i, node in enumerate(nodes):
        if node["id"] not in reachable:
            problems[f"nodes.{i}"] = f"Unreachable node: nothing leads from START to {node['id']}."
    reverse: dict[str, list[str]] = defaultdict(list)
    for src, targets in out.items():
        for t in targets:
            reverse[t].append(src)
    reaches_end = _walk(END, reverse)
    for i, node in enumerate(nodes):
        if node["id"] in reachable and node["id"] not in reaches_end:
            problems[f"nodes.{i}"] = f"No path to END from {node['id']}."
    return problems


def _walk(start: str, graph: dict[str, list[str]]) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        for nxt in graph.get(todo.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def validate_input(definition: dict, data: Any) -> dict[str, str]:
    """Problems of a run's input against the definition's input_schema."""
    if not isinstance(data, dict):
        return {"input": "The input must be a JSON object."}
    schema = definition.get("input_schema")
    if not schema:
        return {}
    return {
        "input" + ("." + ".".join(str(p) for p in e.absolute_path) if e.absolute_path else ""): e.message
        for e in jsonschema.Draft202012Validator(schema).iter_errors(data)
    }


STARTERS: dict[str, dict] = {
    "greeting": {
        "name": "Greeting",
        "description": "Builds a greeting from a name, then shouts it.",
        "input_schema": {"type": "object", "properties": {"name": {"type": "string", "title": "Name"}}, "required": ["name"]},
        "nodes": [
            {"id": "greet", "type": "transform", "config": {"set": {"greeting": "Hello, {{ input.name }}!"}}},
            {"id": "shout", "type": "transform", "config": {"set": {"shout": "{{ state.greeting | upper }}"}}},
        ],
        "edges": [{"from": "START", "to": "greet"}, {"from": "greet", "to": "shout"}, {"from": "shout", "to": "END"}],
    },
    "triage": {
        "name": "Triage by score",
        "description": "Routes on a score: high scores are escalated, the rest archived.",
        "input_schema": {"type": "object", "properties": {"score": {"type": "integer", "title": "Score"}}, "required": ["score"]},
        "nodes": [
            {"id": "check", "type": "condition", "config": {"expression": "'high' if input.score >= 5 else 'low'"}},
            {"id": "escalate", "type": "transform", "config": {"set": {"result": "escalated ({{ input.score }})"}}},
            {"id": "archive", "type": "transform", "config": {"set": {"result": "archived ({{ input.score }})"}}},
        ],
        "edges": [
            {"from": "START", "to": "check"},
            {"from": "check", "to": "escalate", "when": "high"},
            {"from": "check", "to": "archive", "when": "low"},
            {"from": "escalate", "to": "END"},
            {"from": "archive", "to": "END"},
        ],
    },
    "approval": {
        "name": "Expense approval",
        "description": "Drafts an expense, waits for a member's approval, then records the decision.",
        "input_schema": {"type": "object", "properties": {"amount": {"type": "number", "title": "Amount", "minimum": 0}, "reason": {"type": "string", "title": "Reason"}}, "required": ["amount"]},
        "nodes": [
            {"id": "draft", "type": "transform", "config": {"set": {"summary": "{{ input.amount }} for {{ input.reason | default('no reason') }}"}}},
            {"id": "approve", "type": "approval", "config": {"message": "Approve {{ state.summary }}?"}},
            {"id": "record", "type": "transform", "config": {"set": {"outcome": "{{ 'paid' if state.approve.approved else 'refused' }}"}}},
        ],
        "edges": [{"from": "START", "to": "draft"}, {"from": "draft", "to": "approve"}, {"from": "approve", "to": "record"}, {"from": "record", "to": "END"}],
    },
}

"""Forms of the workflow pages: they parse what a page posts; the services check the rules and name bad fields.

The run form's input fields come from the workflow's input_schema (its top-level properties), so that form is
built per definition (`RunForm.input_for`)."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.form import BaseForm
from wtforms.validators import ValidationError

from portal.errors import ValidationFailed
from portal.workflows.definition import CONFIG_SCHEMAS, config_fields
from portal.workflows.models import PRIORITIES

CHECKED_VALUES_FALSE = ("", "0", "false", "off")


# The JSON parser's messages, said in words (the parser's own read "Expecting ',' delimiter: line 1 column 5").
_JSON_WORDS = {
    "Expecting ',' delimiter": "a comma is missing between two items, or a closing } or ] is missing",
    "Expecting ':' delimiter": "a colon is missing after a key",
    "Expecting property name enclosed in double quotes": "a key must be in double quotes (\"key\"), and a comma may not come before } or ]",
    "Expecting value": "a value is missing or not JSON (text needs double quotes; write true, false and null in lower case)",
    "Unterminated string starting at": "a text is not closed: a double quote is missing",
    "Extra data": "there is more after the end of the JSON (one object only)",
    "Invalid control character at": "a line break or tab is inside a text (write \\n or \\t)",
    "Invalid \\escape": "a backslash is not a valid escape (write \\\\ for a backslash)",
}


def json_problem(exc: json.JSONDecodeError) -> str:
    """Why text is not JSON, in words, with where: "Not JSON: on line 3, column 7, a colon is missing after a key."."""
    words = next((w for prefix, w in _JSON_WORDS.items() if exc.msg.startswith(prefix)), exc.msg)
    line = exc.doc.splitlines()[exc.lineno - 1].strip() if exc.doc.strip() and exc.lineno <= len(exc.doc.splitlines()) else ""
    near = f" (near “{line[:60]}”)" if line else ""
    return f"Not JSON: on line {exc.lineno}, column {exc.colno}, {words}{near}."


class JSONField(TextAreaField):
    """A textarea of JSON: `.data` is the parsed value (None when empty); text that is not JSON is a field error, in words."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            return
        try:
            self.data = json.loads(valuelist[0])
        except json.JSONDecodeError as exc:
            self.data = None
            raise ValueError(json_problem(exc)) from exc

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return json.dumps(self.data, indent=2) if self.data is not None else ""


def parsed(form: FlaskForm) -> FlaskForm:
    """The form once it validated; a ValidationFailed naming each field that did not parse otherwise."""
    if not form.validate():
        raise ValidationFailed({name: " ".join(errors) for name, errors in form.errors.items()})
    return form


def input_fields(definition: dict) -> list[dict] | None:
    """Form fields from input_schema's top-level properties; None when there is no schema (a JSON box instead)."""
    schema = definition.get("input_schema") or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return None
    required = set(schema.get("required") or [])
    return [
        {"name": k, "label": (p or {}).get("title") or k, "type": (p or {}).get("type", "string"), "required": k in required,
         "minimum": (p or {}).get("minimum"), "maximum": (p or {}).get("maximum")}
        for k, p in props.items()
    ]


def number_problem(f: dict, value: float) -> str | None:
    """Why a number field's value is outside its schema's minimum or maximum, in words; None when it fits."""
    low, high = f.get("minimum"), f.get("maximum")
    if isinstance(low, (int, float)) and value < low:
        return f"{f['label']} must be {low:g} or more." if high is None else f"{f['label']} must be between {low:g} and {high:g}."
    if isinstance(high, (int, float)) and value > high:
        return f"{f['label']} must be {high:g} or less." if low is None else f"{f['label']} must be between {low:g} and {high:g}."
    return None


class NewWorkflowForm(FlaskForm):
    """A workflow from a starter, or from an imported JSON definition."""

    starter = StringField()
    definition = JSONField("Definition")


class ImportForm(FlaskForm):
    definition = JSONField("Definition")


CONFIG_PREFIX = "cfg."  # a node's config fields are posted as cfg.<config path>
EXTRA = "_extra"  # config keys the fields don't cover (an imported definition's), kept as they were


def field_values(node_type: str, config: Any) -> dict[str, str]:
    """A node's config as its editor fields show it (field name → text); "key: value" lines for a mapping."""
    config = config if isinstance(config, dict) else {}
    values: dict[str, str] = {}
    covered: set[str] = set()
    for f in config_fields(node_type):
        top, _, sub = f["name"].partition(".")
        covered.add(top)
        value = config.get(top)
        if sub:
            value = value.get(sub) if isinstance(value, dict) else None
        if value is None:
            values[f["name"]] = ""
        elif f["kind"] == "pairs" and isinstance(value, dict):
            values[f["name"]] = "\n".join(f"{k}: {v}" for k, v in value.items())
        else:
            values[f["name"]] = value if isinstance(value, str) else json.dumps(value)
    extra = {k: v for k, v in config.items() if k not in covered}
    values[EXTRA] = json.dumps(extra) if extra else ""
    return values


def _pairs(label: str, text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            why = "has no colon" if not colon else "has no name before its colon"
            raise ValueError(f"{label}, line {number}: write it as name: value (“{line.strip()[:40]}” {why}).")
        pairs[key.strip()] = value.strip()
    return pairs


def _number(f: dict, text: str) -> float | int:
    try:
        return int(text) if f["kind"] == "integer" or text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        raise ValueError(f"{f['label']} must be {'a whole number' if f['kind'] == 'integer' else 'a number'}.") from None


def config_from_fields(node_type: str, formdata) -> dict:
    """A node's config from its posted fields (empty fields left out); a ValidationFailed naming each field that
    does not parse (the definition's validator says what a parsed config still lacks)."""
    config: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in config_fields(node_type):
        text = (formdata.get(CONFIG_PREFIX + f["name"]) or "").replace("\r\n", "\n")
        if not text.strip():
            continue
        try:
            value: Any = _pairs(f["label"], text) if f["kind"] == "pairs" else _number(f, text.strip()) if f["kind"] in ("number", "integer") else text
        except ValueError as exc:
            problems[CONFIG_PREFIX + f["name"]] = str(exc)
            continue
        if f["kind"] == "pairs" and not value:
            continue
        top, _, sub = f["name"].partition(".")
        if sub:
            config.setdefault(top, {})[sub] = value
        else:
            config[top] = value
    if problems:
        raise ValidationFailed(problems, "Some of the node's fields need attention.")
    try:
        extra = json.loads(formdata.get(CONFIG_PREFIX + EXTRA) or "{}")
    except ValueError:
        extra = {}
    return (extra if isinstance(extra, dict) else {}) | config


class EditForm(FlaskForm):
    """One editor change (the service applies it): add_node, edit_node, remove_node, add_edge, remove_edge.
    A node's config comes from its type's fields (cfg.*), or as JSON in `config` (the advanced editor)."""

    change = StringField()
    id = StringField("Id")
    type = StringField("Type")
    config = TextAreaField("Config (JSON)")
    from_ = StringField("From", name="from")
    to = StringField("To")
    when = StringField("When")
    index = IntegerField()

    def validate_config(self, field) -> None:
        """JSON typed in the advanced editor must be an object; what is wrong is said in words."""
        if not (field.data or "").strip():
            return
        try:
            value = json.loads(field.data)
        except json.JSONDecodeError as exc:
            raise ValidationError(json_problem(exc)) from exc
        if not isinstance(value, dict):
            raise ValidationError('The config must be a JSON object: {"key": value, ...}.')

    def change_data(self) -> dict:
        """The change's values, as edit_definition takes them (the config as JSON text)."""
        config = self.config.data
        if not self.config.raw_data and self.change.data in ("add_node", "edit_node"):
            config = json.dumps(config_from_fields(self.type.data or "transform", request.form))
        return {"id": self.id.data, "type": self.type.data, "config": config, "from": self.from_.data, "to": self.to.data,
                "when": self.when.data, "index": self.index.data}


class RunForm(FlaskForm):
    """A run's priority and input: the input_schema's fields (input.<name>), or a JSON box without a schema."""

    priority = SelectField("Priority", choices=[(p, p) for p in PRIORITIES], default="default")
    input_json = JSONField("Input (JSON)")

    def input_for(self, definition: dict) -> Any:
        """The run's input for this definition, each schema field coerced to its type (the service checks the schema)."""
        fields = input_fields(definition)
        if fields is None:
            return {} if self.input_json.data is None else self.input_json.data
        inputs = BaseForm([(f["name"], BooleanField(f["label"], false_values=CHECKED_VALUES_FALSE) if f["type"] == "boolean" else StringField(f["label"]))
                           for f in fields], prefix="input.")
        inputs.process(request.form)
        data: dict = {}
        problems: dict[str, str] = {}
        for f in fields:
            value = inputs[f["name"]].data
            if f["type"] == "boolean":
                data[f["name"]] = bool(value)
            elif not value:
                continue  # left empty: the schema says whether it was required
            elif f["type"] in ("integer", "number"):
                try:  # a whole number stays one ("120", not "120.0", in what the run's templates write)
                    data[f["name"]] = int(value) if f["type"] == "integer" or value.strip().lstrip("+-").isdigit() else float(value)
                except ValueError:
                    data[f["name"]] = value  # the schema check names the field
                    continue
                problem = number_problem(f, data[f["name"]])
                if problem:
                    problems[f"input.{f['name']}"] = problem
            else:
                data[f["name"]] = value
        if problems:  # in words, at the field (the service's schema check would say it in JSON Schema's words)
            raise ValidationFailed(problems, "The input does not fit the workflow's input schema.")
        return data


class NodeTestForm(FlaskForm):
    """A node's test ("Test this node"): the sample {"input", "state"} as JSON, posted with the node's form, whose
    fields (cfg.*) are the config to test with: what is typed there, saved or not."""

    sample_input = JSONField("Sample input and state (JSON)")
    type = StringField()

    def typed_config(self) -> dict | None:
        """The config in the node's fields (None when the test came without them: the saved config is tested)."""
        if not self.type.data or not any(k.startswith(CONFIG_PREFIX) for k in request.form):
            return None
        return config_from_fields(self.type.data, request.form)


class ApprovalForm(FlaskForm):
    """Approve or reject (the button pressed), with a reason: required to reject, a note to an approval."""

    approved = BooleanField(false_values=CHECKED_VALUES_FALSE)
    reason = TextAreaField("Reason")


class LLMSettingsForm(FlaskForm):
    base_url = StringField("Base URL", render_kw={"placeholder": "https://api.openai.com/v1"})
    model = StringField("Model")
    api_key = PasswordField("API key", render_kw={"autocomplete": "off"})


class HostForm(FlaskForm):
    """Allow a host, or take one off the allowlist (remove)."""

    host = StringField("Host", render_kw={"placeholder": "llm.internal:8000"})
    remove = StringField()


def node_editors(definition: dict, problems: dict[str, str], edited: str | None = None, errors: dict | None = None) -> list[dict]:
    """Each node's editor: its type's fields with their values and messages in words (a refused save's for the
    node `edited`, with what was typed; else the saved version's problems), its other problems and its branches."""
    editors = []
    for i, node in enumerate(definition.get("nodes") or []):
        if not isinstance(node, dict):
            continue
        ntype, base = node.get("type"), f"nodes.{i}.config"
        fields = config_fields(ntype) if ntype in CONFIG_SCHEMAS else []
        refused = edited is not None and node.get("id") == edited and errors is not None
        as_json = refused and "config" in request.form  # refused in the advanced editor: its text is kept there
        values = ({f["name"]: request.form.get(CONFIG_PREFIX + f["name"], "") for f in fields} | {EXTRA: request.form.get(CONFIG_PREFIX + EXTRA, "")}
                  if refused and not as_json else field_values(ntype, node.get("config")))
        messages: dict[str, str] = {}
        for f in fields:
            if refused and errors.get(CONFIG_PREFIX + f["name"]):
                messages[f["name"]] = errors[CONFIG_PREFIX + f["name"]]
            else:
                found = [m for k, m in problems.items() if k == f"{base}.{f['name']}" or k.startswith(f"{base}.{f['name']}.")]
                if found:
                    messages[f["name"]] = " ".join(dict.fromkeys(found))
        claimed = {k for k in problems for f in fields if k == f"{base}.{f['name']}" or k.startswith(f"{base}.{f['name']}.")}
        others = [m for k, m in problems.items() if k not in claimed and (k == f"nodes.{i}" or k.startswith(f"nodes.{i}."))]
        branches = [(e.get("when") or "(any other value)", e.get("to")) for e in definition.get("edges") or []
                    if isinstance(e, dict) and e.get("from") == node.get("id")] if ntype == "condition" else []
        editors.append({"node": node, "index": i, "fields": fields, "values": values, "messages": messages, "others": others,
                        "branches": branches, "config_json": request.form["config"] if as_json else json.dumps(node.get("config") or {}, indent=2),
                        "json_error": errors.get("config") if as_json else None})
    return editors


_PARTS = {"id": "its id", "type": "its type", "config": "its settings"}
_TOP = {"definition": "The definition", "name": "The name", "input_schema": "The run form (input schema)", "nodes": "The nodes",
        "edges": "The edges"}


def problem_list(definition: dict, problems: dict[str, str]) -> list[dict]:
    """The version's problems as a person reads them: where (the node's step and id, the field's label) and a
    link to that node's form or field, instead of a path like nodes.2.config.url."""
    nodes = [n if isinstance(n, dict) else {} for n in (definition.get("nodes") or [])]
    edges = [e if isinstance(e, dict) else {} for e in (definition.get("edges") or [])]
    listed = []
    for path, message in problems.items():
        parts = path.split(".")
        where, anchor = _TOP.get(parts[0], path), None
        if len(parts) > 1 and parts[1].isdigit():
            i = int(parts[1])
            if parts[0] == "nodes" and i < len(nodes):
                node_id = nodes[i].get("id") if isinstance(nodes[i].get("id"), str) else None
                where = f"Step {i + 1}" + (f" ({node_id})" if node_id else "")
                anchor = f"node-{node_id}" if node_id else None
                where += _node_part(nodes[i], parts[2:], anchor)
                if anchor and parts[2:3] == ["config"] and len(parts) > 3:
                    anchor = _field_anchor(nodes[i], ".".join(parts[3:]), anchor)
            elif parts[0] == "edges" and i < len(edges):
                where, anchor = f"Edge {i + 1} ({edges[i].get('from') or '?'} → {edges[i].get('to') or '?'})", "edges-list"
        listed.append({"where": where, "anchor": anchor, "message": message})
    return listed


def _matching_field(node: dict, config_path: str) -> dict | None:
    fields = config_fields(node.get("type")) if node.get("type") in CONFIG_SCHEMAS else []
    return next((f for f in fields if config_path == f["name"] or config_path.startswith(f["name"] + ".")), None)


def _node_part(node: dict, rest: list[str], anchor: str | None) -> str:
    """', URL' for nodes.2.config.url; ', its id' for nodes.2.id; '' for the node itself."""
    if not rest:
        return ""
    if rest[0] == "config" and len(rest) > 1:
        field = _matching_field(node, ".".join(rest[1:]))
        return f", {field['label'] if field else '.'.join(rest[1:])}"
    return f", {_PARTS.get(rest[0], '.'.join(rest))}"


def _field_anchor(node: dict, config_path: str, node_anchor: str) -> str:
    """The id of the field's control in the node's form (templates/workflows/_node_field.html), else the node's."""
    field = _matching_field(node, config_path)
    return f"{node_anchor}-{field['name'].replace('.', '-')}" if field else node_anchor

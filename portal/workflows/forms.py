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

from portal.errors import ValidationFailed
from portal.workflows.models import PRIORITIES

CHECKED_VALUES_FALSE = ("", "0", "false", "off")


class JSONField(TextAreaField):
    """A textarea of JSON: `.data` is the parsed value (None when empty); text that is not JSON is a field error."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            return
        try:
            self.data = json.loads(valuelist[0])
        except ValueError as exc:
            self.data = None
            raise ValueError(f"Not JSON: {exc}") from exc

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


class EditForm(FlaskForm):
    """One editor change (the service applies it): add_node, edit_node, remove_node, add_edge, remove_edge."""

    change = StringField()
    id = StringField("Id")
    type = StringField("Type")
    config = TextAreaField("Config (JSON)")  # the service parses it, and names it when it is not JSON
    from_ = StringField("From", name="from")
    to = StringField("To")
    when = StringField("When")
    index = IntegerField()

    def change_data(self) -> dict:
        """The change's values, as edit_definition takes them."""
        return {"id": self.id.data, "type": self.type.data, "config": self.config.data, "from": self.from_.data, "to": self.to.data,
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

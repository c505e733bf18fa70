"""Notification templates: Jinja in a sandbox, limited to the event's declared variables."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from portal.errors import ValidationFailed
from portal.notifications.catalog import Event

MAX_LENGTH = 5000
MAX_VALUE_LENGTH = 10_000  # characters (or items) a template may build by repeating a value with *
MAX_INT_BITS = 4096  # size of a number a template may compute with * or **


class TemplateProblem(ValueError):
    """A template that cannot be used, with a sentence saying why."""


_TOO_LARGE = "This template builds a value too large to send."


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with the operators that can build huge values checked at run time (which also keeps
    Jinja from folding them while compiling, where `{{ 9 ** 9 ** 9 }}` would never finish)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context, operator, left, right):
        """Apply operator, refusing results too large to send."""
        if operator == "%" and isinstance(left, str):
            raise TemplateProblem("String formatting with % isn't available in notification templates; write the variables into the text.")
        if operator == "*":
            for value, times in ((left, right), (right, left)):
                if isinstance(value, str | list | tuple) and isinstance(times, int) and len(value) * times > MAX_VALUE_LENGTH:
                    raise TemplateProblem(_TOO_LARGE)
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateProblem(_TOO_LARGE)
        if operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            if abs(right) > 64 or (isinstance(left, int) and left.bit_length() * abs(right) > MAX_INT_BITS):
                raise TemplateProblem(_TOO_LARGE)
        return super().call_binop(context, operator, left, right)


# Text templates: nothing is escaped here; HTML email escapes the rendered text when it builds markup.
_env = _BoundedSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True)

# What a notification template may contain: the event's variables (all plain values), conditions, arithmetic,
# and filters whose cost grows no faster than their input. No loops, calls, macros or assignments: nested
# loops over range() or over a variable's characters would keep a worker busy for hours, and calls like
# .center(10**8) build huge strings, while notification text needs none of them.
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If, nodes.CondExpr,
    nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Concat, nodes.Add,
    nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Filter, nodes.Test, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Tuple, nodes.List, nodes.Keyword,
)
ALLOWED_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int", "last", "length", "lower",
    "round", "string", "striptags", "title", "trim", "truncate", "upper", "urlencode", "wordcount",
)
_CONSTRUCTS = {
    nodes.For: "loops ({% for %})", nodes.Call: "calling functions or methods", nodes.Macro: "macros",
    nodes.CallBlock: "{% call %}", nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}",
    nodes.FilterBlock: "{% filter %}", nodes.With: "{% with %}", nodes.Dict: "dictionaries",
    nodes.Extends: "{% extends %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}", nodes.Block: "{% block %}",
}


def _check_constructs(ast: nodes.Template) -> None:
    """Refuse anything beyond variables, conditions, arithmetic and the allowed filters."""
    for node in ast.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            what = _CONSTRUCTS.get(type(node), f"{type(node).__name__.lower()} expressions")
            raise TemplateProblem(
                f"{what[0].upper()}{what[1:]} can't be used in notification templates: use the event's variables, {{% if %}} and filters."
            )
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateProblem(
                f"The filter |{node.name} isn't available in notification templates; use one of: {', '.join(ALLOWED_FILTERS)}."
            )


def check(source: str, event: Event) -> None:
    """Refuse syntax errors, unknown variables and anything the sandbox forbids."""
    if len(source) > MAX_LENGTH:
        raise TemplateProblem(f"Keep templates under {MAX_LENGTH} characters.")
    try:
        ast = _env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Syntax error on line {exc.lineno}: {exc.message}") from exc
    _check_constructs(ast)
    unknown = sorted(meta.find_undeclared_variables(ast) - set(event.all_variables))
    if unknown:
        allowed = ", ".join(event.all_variables)
        raise TemplateProblem(f"Unknown variable(s): {', '.join(unknown)}. This event offers: {allowed}.")
    render(source, sample_data(event))  # the sandbox only objects at render time


@lru_cache(maxsize=1024)
def _compiled(source: str):
    # Compiling is ~50x the cost of rendering; one event to 10,000 people renders one source 10,000 times.
    # The constructs are checked here too, so an override saved before a rule existed can't run unbounded.
    ast = _env.parse(source)
    _check_constructs(ast)
    return _env.from_string(ast)


def render(source: str, data: dict) -> str:
    """Render with the sandbox; unsafe access and missing variables raise TemplateProblem."""
    try:
        return _compiled(source).render(**data)
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem("This template tries to reach something it may not (the sandbox refused it).") from exc
    except UndefinedError as exc:
        raise TemplateProblem(f"Missing value: {exc.message}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Syntax error on line {exc.lineno}: {exc.message}") from exc
    except Exception as exc:  # noqa: BLE001 - a user's template can fail in many ways; say which
        raise TemplateProblem(f"The template failed: {exc}") from exc


def sample_data(event: Event) -> dict:
    """Example values for previews and checks."""
    samples = {
        "org_name": "Acme Corp",
        "recipient_name": "Sam Sample",
        "url": "https://portal.example/o/acme/",
        "inviter_name": "Dana Admin",
        "role": "user",
        "invite_url": "https://portal.example/invite/…",
        "ticket_id": "tkt_8Hd2",
        "ticket_number": "#1042",
        "subject": "Export fails on large files",
        "priority": "high",
        "requester_name": "Uma User",
        "author_name": "Aggie Agent",
        "excerpt": "Could you try again with the new version?",
        "assignee_name": "Aggie Agent",
        "target": "first response",
        "due_at": "2026-11-26 16:00",
        "workflow_name": "Summarize leads",
        "run_id": "run_Q2x9",
        "duration": "4.2 s",
        "error": "LLM endpoint timed out",
        "step": "review",
        "key_name": "CI deploy",
        "key_prefix": "vtr_3kQ",
        "expires_at": "2026-12-01",
        "days_left": 7,
        "title": "Maintenance tonight",
        "body": "The portal restarts at 22:00 UTC.",
    }
    return {name: samples.get(name, name) for name in event.all_variables}


def validate_override(event: Event, channel: str, subject: str, body: str) -> None:
    """Check an org's template override; raises ValidationFailed naming the bad field."""
    errors = {}
    if not body.strip():
        errors["body"] = "The body can't be empty."
    for name, source in (("subject", subject), ("body", body)):
        if name in errors or (name == "subject" and channel == "sms"):
            continue
        try:
            check(source, event)
        except TemplateProblem as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationFailed(errors)

"""A node's failure in words, for the editor's "Test this node" and a run's step alike: which variable a template or
expression lacks, what an expression's arithmetic did, rather than "'dict object' has no attribute 'x'" or
"ZeroDivisionError: division by zero". The nodes' own refusals (NodeFailed, NodeRefused) are worded where raised."""

from __future__ import annotations

import re

from jinja2 import TemplateError, UndefinedError

from portal.workflows.definition import template_sources

# StrictUndefined's messages: "'dict object' has no attribute 'x'" (or "element"), "'name' is undefined".
_NO_ATTRIBUTE = re.compile(r"has no (?:attribute|element) '([^']+)'")
_UNDEFINED = re.compile(r"^'([^']+)' is undefined")


def _what(node: dict) -> str:
    return "expression" if node.get("type") == "condition" else "template"


def _sentence(text: str) -> str:
    text = str(text).strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _used_path(name: str, node: dict) -> str:
    """The dotted path the node's templates write ending in `name` (state.missing), else the bare name."""
    sources = [s for _path, s in template_sources(node.get("type"), node.get("config") or {}) if isinstance(s, str)]
    if node.get("type") == "condition" and isinstance((node.get("config") or {}).get("expression"), str):
        sources.append(node["config"]["expression"])
    for source in sources:
        found = re.search(rf"\b((?:input|state)(?:\.\w+|\[['\"][^'\"]+['\"]\])*(?:\.{re.escape(name)}|\[['\"]{re.escape(name)}['\"]\]))", source)
        if found:
            return found.group(1).replace("['", ".").replace('["', ".").replace("']", "").replace('"]', "")
    return name


def in_words(exc: BaseException, node: dict, subject: str = "the run") -> str | None:
    """Why the node failed, in words, when a template or expression raised (subject: what lacked a value, "the
    sample"); None for a failure worded where it was raised, or one that is not the node's templates'."""
    what = _what(node)
    if isinstance(exc, UndefinedError):
        message = str(exc.message or exc)
        missing = _NO_ATTRIBUTE.search(message) or _UNDEFINED.search(message)
        if missing:
            return f"The {what} uses {_used_path(missing.group(1), node)}, which {subject} does not have."
        return f"The {what} failed: {_sentence(message)}"
    if isinstance(exc, TemplateError):
        return f"The {what} failed: {_sentence(exc.message or exc)}"
    # What evaluating an expression or a filter raises (1 / 0, int("x"), a wrong type); the nodes' own refusals are
    # worded where raised, and anything else (a database error in a notify node) is not the templates' fault.
    if isinstance(exc, ArithmeticError | TypeError | ValueError | LookupError) and node.get("type") in ("condition", "transform", "notify", "approval"):
        return f"The {what} failed: {_sentence(exc)}"
    return None

"""Input every endpoint and form shares, checked in one place before anything reads it.

Text the databases can't store the same way is refused with a 422 naming the field: NUL (PostgreSQL
refuses it, SQLite stores it) and lone surrogates (not encodable as UTF-8). JSON bodies are bounded in
size and nesting depth before they are parsed, so a deep body is a 422/413, not a RecursionError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import RequestURITooLarge

from portal.errors import ServiceError, ValidationFailed

MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 1024 * 1024
# Below gunicorn's own request-line limit (8190 bytes, answered by gunicorn itself, as HTML), so that an
# over-long URL under /api/v1 gets the API's JSON 414.
MAX_URL_BYTES = 4096


def text_problem(value: str) -> str | None:
    """Why a string can't be stored as it is, or None (None for what isn't a string: a nameless form part)."""
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return "Contains a NUL character, which isn't allowed."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Contains an unpaired surrogate, which isn't valid text."
    return None


def check_pairs(pairs: Iterable[tuple[str, str]]) -> None:
    """Refuse names or values (query, form, path) that aren't storable text: a 422 naming each."""
    fields = {}
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem:
            fields[name if isinstance(name, str) and text_problem(name) is None else "field name"] = problem
    if fields:
        raise ValidationFailed(fields)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _walk(value: Any, path: str, fields: dict[str, str]) -> None:
    if isinstance(value, str):
        if problem := text_problem(value):
            fields[path or "body"] = problem
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if problem := text_problem(key):
                fields[path or "body"] = f"A key {problem[0].lower()}{problem[1:]}"
                continue
            _walk(item, where, fields)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}.{i}" if path else str(i), fields)


def parse_json(raw: bytes) -> Any:
    """Parse a request body: bounded size and depth, storable text only, or a 4xx that says which."""
    if len(raw) > MAX_JSON_BYTES:
        raise ServiceError(f"The JSON body is over {MAX_JSON_BYTES // 1024} KB.", code="payload_too_large", status=413)
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ValidationFailed({"body": f"Nested more than {MAX_JSON_DEPTH} levels deep."}, "The JSON body is nested too deeply.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceError("The body is not valid JSON.", code="bad_json", status=400) from exc
    fields: dict[str, str] = {}
    _walk(data, "", fields)
    if fields:
        raise ValidationFailed(fields)
    return data


def check_stored_json(value: Any, field: str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse a value to be stored as JSON (data, input, schemas) that couldn't be read back: too deep,
    not serialisable, or holding text the database can't store."""
    try:
        raw = json.dumps(value, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise ValidationFailed({field: "Must be plain JSON (objects, arrays, strings, numbers, booleans, null)."}) from exc
    if json_depth(raw) > max_depth:
        raise ValidationFailed({field: f"Nested more than {max_depth} levels deep."})
    fields: dict[str, str] = {}
    _walk(value, field, fields)
    if fields:
        raise ValidationFailed(fields)


def init_app(app: Flask) -> None:
    """Check every request's path values, query string and form fields before a view reads them."""

    @app.before_request
    def refuse_unstorable_text():
        if len(request.full_path.encode("utf-8", "surrogateescape")) > MAX_URL_BYTES:
            raise RequestURITooLarge(f"The URL is over {MAX_URL_BYTES} bytes.")
        pairs = [*(request.view_args or {}).items(), *request.args.items(multi=True)]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            pairs += list(request.form.items(multi=True))
            pairs += [(name, f.filename or "") for name, f in request.files.items(multi=True)]
        check_pairs(pairs)

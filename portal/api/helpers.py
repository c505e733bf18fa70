"""Parsing and serializing for API views."""

from __future__ import annotations

from typing import TypeVar

from flask import request, url_for
from pydantic import BaseModel, ValidationError

from portal.api.types import PATTERN_MESSAGES
from portal.errors import ServiceError, ValidationFailed
from portal.inputs import parse_json
from portal.pagination import Page

T = TypeVar("T", bound=BaseModel)


def parse_body(model: type[T]) -> T:
    """The JSON body as `model`, or a 4xx naming each bad field.

    Strict types: "yes" is not a boolean and "5" not an integer (JSON's own types are the contract);
    ISO 8601 strings are still dates and times.
    """
    if not request.is_json:
        raise ServiceError("Send a JSON body with Content-Type: application/json.", code="unsupported_media_type", status=415)
    data = parse_json(request.get_data(cache=True))  # size, depth and storable text checked before parsing
    if not isinstance(data, dict):
        raise ServiceError("The body is not a JSON object.", code="bad_json", status=400)
    try:
        return model.model_validate_json(request.get_data(cache=True), strict=True)
    except ValidationError as exc:
        raise ValidationFailed(_fields(exc)) from exc


def parse_query(model: type[T]) -> T:
    """The query string as `model`, or a 422 naming each bad parameter."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed(_fields(exc)) from exc


def _fields(exc: ValidationError) -> dict[str, str]:
    """Field name -> message; an item of a list is reported on the list (`scopes`, not `scopes.1`)."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = list(err["loc"])
        while loc and isinstance(loc[-1], int):
            loc.pop()
        fields.setdefault(".".join(str(p) for p in loc) or "body", _message(err))
    return fields


def _message(err: dict) -> str:
    if err["type"] == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(err.get("ctx", {}).get("pattern"), err["msg"])
    return err["msg"]


def page_envelope(page: Page, items: list, endpoint: str, **values) -> dict:
    """A page of results with a `next` link that keeps the other query parameters."""
    next_url = None
    if page.has_next:
        args = {**request.args.to_dict(), **values, "page": page.page + 1, "per_page": page.per_page}
        next_url = url_for(endpoint, **args)
    return {"data": items, "page": page.page, "per_page": page.per_page, "total": page.total, "next": next_url}

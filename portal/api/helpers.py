"""Parsing and serializing for API views."""

from __future__ import annotations

from typing import TypeVar

from flask import request, url_for
from pydantic import BaseModel, ValidationError

from portal.errors import ServiceError, ValidationFailed
from portal.pagination import Page

T = TypeVar("T", bound=BaseModel)


def parse_body(model: type[T]) -> T:
    """The JSON body as `model`, or a 4xx naming each bad field."""
    if not request.is_json:
        raise ServiceError("Send a JSON body with Content-Type: application/json.", code="unsupported_media_type", status=415)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError("The body is not a JSON object.", code="bad_json", status=400)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(_fields(exc)) from exc


def parse_query(model: type[T]) -> T:
    """The query string as `model`, or a 422 naming each bad parameter."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed(_fields(exc)) from exc


def _fields(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()}


def page_envelope(page: Page, items: list, endpoint: str, **values) -> dict:
    """A page of results with a `next` link that keeps the other query parameters."""
    next_url = None
    if page.has_next:
        args = {**request.args.to_dict(), **values, "page": page.page + 1, "per_page": page.per_page}
        next_url = url_for(endpoint, **args)
    return {"data": items, "page": page.page, "per_page": page.per_page, "total": page.total, "next": next_url}

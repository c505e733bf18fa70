"""The OpenAPI 3 document, generated from the routes' pydantic schemas."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint
from pydantic import BaseModel

from portal.api.schemas import ErrorResponse


@dataclass
class Operation:
    method: str
    rule: str
    summary: str
    tag: str
    response: type[BaseModel] | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    status: int
    errors: tuple[int, ...] = field(default=(401, 403, 404))


OPERATIONS: list[Operation] = []


def route(bp: Blueprint, rule: str, method: str, *, summary: str, tag: str, response=None, body=None, query=None, status: int = 200, errors=(401, 403, 404)) -> Callable:
    """Register an API view and describe it in the OpenAPI document in one place."""

    def decorator(view: Callable) -> Callable:
        OPERATIONS.append(Operation(method.lower(), bp.url_prefix + rule, summary, tag, response, body, query, status, tuple(errors)))
        return bp.route(rule, methods=[method])(view)

    return decorator


def _path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _schema(model: type[BaseModel], components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_spec() -> dict:
    """The whole document, built fresh from OPERATIONS."""
    components: dict = {}
    error_ref = _schema(ErrorResponse, components)
    paths: dict = {}
    for op in OPERATIONS:
        path = _path(op.rule)
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{([a-z_]+)}", path)
        ]
        if op.query is not None:
            for name, f in op.query.model_fields.items():
                params.append({"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": f.description or ""})
        responses: dict = {str(op.status): {"description": "OK"}}
        if op.response is not None:
            responses[str(op.status)]["content"] = {"application/json": {"schema": _schema(op.response, components)}}
        for code in (*op.errors, *((422,) if op.body else ())):
            responses[str(code)] = {"description": "Error", "content": {"application/json": {"schema": error_ref}}}
        operation = {"summary": op.summary, "tags": [op.tag], "parameters": params, "responses": responses}
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _schema(op.body, components)}}}
        paths.setdefault(path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "VetrAI Portal API", "version": "1.0.0"},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "vtr_ API key",
                           "description": "An API key: `Authorization: Bearer vtr_...`. Scopes: read (GET), write (create, update), admin (keys, members, billing, org settings)."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same API key in the X-API-Key header."},
            },
        },
        "security": [{"session": [], "csrf": []}, {"bearer": []}, {"apiKey": []}],
        "paths": paths,
    }

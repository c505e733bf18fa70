"""The OpenAPI 3 document, generated from the same pydantic schemas that validate requests.

Each operation lists every status it can answer: the ones every /api/v1 request may get (see
`ALWAYS`), the ones its body or path bring, and its own (`errors=`, e.g. 409). Query parameters carry
their types and bounds from the schema; multipart uploads are described as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint
from pydantic import BaseModel

from portal.api.schemas import ErrorResponse

# What each error status means on this API, and the codes it carries.
STATUS_TEXT = {
    304: "Not modified: the copy named by If-None-Match is current.",
    400: "Bad request: `bad_json` (the body is not JSON), `org_required` (name the organization with ?org=), `bad_request`.",
    401: "Unauthenticated: `unauthenticated` (no credentials), `invalid_key`, `revoked_key`, `expired_key`.",
    402: "Over the plan's quota: `quota_exceeded`.",
    403: "Forbidden: `insufficient_scope` (the key lacks the scope), `forbidden` (the role does not allow it, or the organization is suspended).",
    404: "Not found: `not_found` (no such object, or another organization's: never a 403).",
    409: "Conflict with the object's state: `conflict` and the operation's own codes.",
    413: "Payload too large: `payload_too_large`.",
    414: "URI too long: `uri_too_long` (the URL, query included, is over 4096 bytes).",
    415: "Unsupported media type: `unsupported_media_type` (send application/json).",
    422: "Validation failed: `validation_failed`, with `fields` naming each bad field or parameter.",
    502: "The payment provider could not be reached or refused the call: `payment_provider_error`; try again.",
    429: "Rate limited: `rate_limited`; wait for the seconds in `Retry-After`.",
}
# Every authenticated /api/v1 operation may answer these: a bad or missing key, a scope or role that
# doesn't allow it, an unknown organization, a path or query value that isn't storable text, a URL over the
# length limit, the rate limit.
ALWAYS = (400, 401, 403, 404, 414, 422, 429)
PUBLIC = (404, 414, 422, 429)
BODY = (400, 413, 415, 422)

RATE_HEADERS = {
    "RateLimit-Limit": {"description": "Requests a minute this key may make (on answers to an API key).", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in the current window.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window resets.", "schema": {"type": "integer"}},
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "required": True, "schema": {"type": "integer"}}}


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
    errors: tuple[int, ...] = field(default=())
    multipart: dict[str, str | dict] | None = None  # upload fields: a file's description, or a plain field's schema
    public: bool = False
    body_required: bool = True  # False: the operation also answers a request without a body
    media: str | None = None  # a non-JSON answer (text/css, image/*): its media type
    also_ok: tuple[int, ...] = ()  # other success statuses with the same body (200 for "already there" next to 201)
    idempotent: bool = False  # honours an Idempotency-Key header (portal/api/idempotency.py)

    def statuses(self) -> list[int]:
        """Every error status this operation can answer."""
        codes = set(PUBLIC if self.public else ALWAYS) | set(self.errors)
        if self.body is not None or self.multipart:
            codes |= set(BODY)
        return sorted(codes)


OPERATIONS: list[Operation] = []

IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Retry safely: the same key with the same body returns the first answer (kept 24 hours); "
                   "with another body, 409 idempotency_key_reused.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def route(bp: Blueprint, rule: str, method: str, *, summary: str, tag: str, response=None, body=None, query=None, status: int = 200,
          errors=(), multipart: dict[str, str | dict] | None = None, public: bool = False, body_required: bool = True,
          media: str | None = None, also_ok: tuple[int, ...] = (), idempotent: bool = False) -> Callable:
    """Register an API view and describe it in the OpenAPI document in one place."""

    def decorator(view: Callable) -> Callable:
        OPERATIONS.append(Operation(method.lower(), bp.url_prefix + rule, summary, tag, response, body, query, status,
                                    tuple(errors), multipart, public, body_required, media, tuple(also_ok), idempotent))
        return bp.route(rule, methods=[method])(view)

    return decorator


def _path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _component_name(model: type[BaseModel]) -> str:
    """A model's name in the document, qualified by its domain when two domains use the same class name
    (keys' UsageOut and billing's UsageOut must not overwrite each other)."""
    clashes = {op_model for op in OPERATIONS for op_model in (op.response, op.body, op.query)
               if op_model is not None and op_model.__name__ == model.__name__ and op_model is not model}
    if not clashes:
        return model.__name__
    domain = model.__module__.split(".")[1]
    return f"{domain}_{model.__name__}"


def _schema(model: type[BaseModel], components: dict) -> dict:
    name = _component_name(model)
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for sub_name, sub in schema.pop("$defs", {}).items():
        components[sub_name] = sub
    components[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    """One parameter per field, typed and bounded as the schema validates it."""
    properties = model.model_json_schema().get("properties", {})
    params = []
    for name, info in model.model_fields.items():
        schema = {k: v for k, v in properties.get(name, {}).items() if k not in ("title", "description")}
        params.append({"name": info.alias or name, "in": "query", "required": info.is_required(), "schema": schema,
                       "description": info.description or ""})
    return params


def _body(op: Operation, components: dict) -> dict | None:
    if op.multipart:
        properties = {name: spec if isinstance(spec, dict) else {"type": "string", "format": "binary", "description": spec}
                      for name, spec in op.multipart.items()}
        schema = {"type": "object", "required": list(op.multipart), "properties": properties}
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    if op.body is not None:
        return {"required": op.body_required, "content": {"application/json": {"schema": _schema(op.body, components)}}}
    return None


def build_spec() -> dict:
    """The whole document, built fresh from OPERATIONS."""
    components: dict = {}
    error_ref = _schema(ErrorResponse, components)
    paths: dict = {}
    for op in OPERATIONS:
        path = _path(op.rule)
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 200}}
            for name in re.findall(r"{([a-z_]+)}", path)
        ]
        if op.query is not None:
            params += _query_parameters(op.query)
        if op.idempotent:
            params.append(IDEMPOTENCY_HEADER)
        ok: dict = {"description": "OK", "headers": {} if op.public else dict(RATE_HEADERS)}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(op.response, components)}}
        elif op.media:
            ok["content"] = {op.media: {"schema": {"type": "string", "format": "binary"}}}
        responses: dict = {str(code): ok for code in (op.status, *op.also_ok)}
        for code in op.statuses():
            if code < 400:  # 304: the cached copy is still good; no body
                responses[str(code)] = {"description": STATUS_TEXT.get(code, "Not modified")}
                continue
            responses[str(code)] = {"description": STATUS_TEXT.get(code, "Error"), "content": {"application/json": {"schema": error_ref}}}
            if code == 429:
                responses[str(code)]["headers"] = dict(RETRY_AFTER)
        operation = {"summary": op.summary, "tags": [op.tag], "parameters": params, "responses": responses}
        if op.public:
            operation["security"] = [{}]
        if (body := _body(op, components)) is not None:
            operation["requestBody"] = body
        paths.setdefault(path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "VetrAI Portal API", "version": "1.0.0",
                 "description": "Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`. Strings may not contain NUL or unpaired "
                                "surrogates; JSON bodies are at most 1 MB and 64 levels deep."},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "vtr_ API key",
                           "description": "An API key: `Authorization: Bearer vtr_...`. Scopes: read (GET), write (create, update), admin (keys, members, billing, org settings)."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same API key in the X-API-Key header."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "The portal's own pages: a signed-in session; writes also send the page's CSRF token as X-CSRFToken."},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}, {"session": []}],
        "paths": paths,
    }

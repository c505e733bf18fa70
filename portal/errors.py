"""Errors a service raises for a caller to show: pages as field errors, the API as JSON."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused action, with a machine code, a sentence for people, and per-field messages."""

    status = 400

    def __init__(self, message: str, *, code: str = "invalid", fields: dict[str, str] | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields or {}
        if status is not None:
            self.status = status


class ValidationFailed(ServiceError):
    """Input that breaks a rule; `fields` names each bad field."""

    status = 422

    def __init__(self, fields: dict[str, str], message: str = "Some fields need attention."):
        super().__init__(message, code="validation_failed", fields=fields)


class Conflict(ServiceError):
    status = 409

    def __init__(self, message: str, *, field: str | None = None, code: str = "conflict"):
        super().__init__(message, code=code, fields={field: message} if field else None)

"""Errors a service raises for a caller to show: pages as field errors, the API as JSON.

Services speak no HTTP: they raise these, and `errors_http` maps them to pages and JSON in one place.
A refused action changes nothing: the unit of work rolls back what was flushed before the error, unless
the error says the refusal itself is to be kept (`persist=True`, e.g. a wrong code counts as an attempt).
"""

from __future__ import annotations


class ServiceError(Exception):
    """A refused action, with a machine code, a sentence for people, and per-field messages."""

    status = 400
    code = "invalid"
    persist = False  # True: the unit of work commits what was flushed before the refusal
    fields_are_messages = True  # False: `fields` is data for API clients, and pages show only the message

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, str] | None = None,
                 status: int | None = None, persist: bool | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.fields = fields or {}
        if status is not None:
            self.status = status
        if persist is not None:
            self.persist = persist


class ValidationFailed(ServiceError):
    """Input that breaks a rule; `fields` names each bad field."""

    status = 422
    code = "validation_failed"

    def __init__(self, fields: dict[str, str], message: str = "Some fields need attention.", *, persist: bool | None = None):
        super().__init__(message, fields=fields, persist=persist)


class NotFound(ServiceError):
    """No such object for this caller: another organization's object is one of these too, never a 403."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = "There is nothing here, or you don't have access to it."):
        super().__init__(message)


class Forbidden(ServiceError):
    """The caller is known and the object exists, but their role does not allow the action."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str = "Your role does not allow this.", *, code: str | None = None):
        super().__init__(message, code=code)


class Conflict(ServiceError):
    """The action clashes with the object's current state (a transition that isn't allowed, a duplicate)."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message, code=code, fields={field: message} if field else None)


class QuotaExceeded(ServiceError):
    """The org's plan does not allow this much more of a metric now; `upgrade_url` says where to get more."""

    status = 402
    code = "quota_exceeded"
    fields_are_messages = False  # fields carry metric, limit, used, upgrade_url for API clients, not per-field text

    def __init__(self, metric: str, limit: int, used: int, upgrade_url: str, message: str | None = None):
        super().__init__(message or f"Your plan allows {limit:,} {metric.replace('_', ' ')}, and {used:,} are used. Upgrade the plan for more.",
                         fields={"metric": metric, "limit": limit, "used": used, "upgrade_url": upgrade_url})  # type: ignore[dict-item]
        self.metric, self.limit, self.used, self.upgrade_url = metric, limit, used, upgrade_url

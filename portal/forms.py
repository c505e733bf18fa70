"""Helpers shared by every domain's forms."""

from __future__ import annotations

from flask_wtf import FlaskForm

from portal.errors import ServiceError
from portal.uow import refused
from portal.web import refusal_message


def apply_errors(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service's field errors next to the form's fields, and the rest at the top; the request's
    unit of work is rolled back, so the refused action changes nothing."""
    refused(exc)
    for name, message in (exc.fields if exc.fields_are_messages else {}).items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            form.form_errors.append(message)
    if not exc.fields or not exc.fields_are_messages:
        form.form_errors.append(refusal_message(exc))


def valid_email(form, field) -> None:
    """WTForms validator: a syntactically valid address; `.test` domains are allowed outside production."""
    from email_validator import EmailNotValidError, validate_email
    from flask import current_app
    from wtforms.validators import ValidationError

    try:
        validate_email(field.data or "", check_deliverability=False, test_environment=not current_app.config["PRODUCTION"])
    except EmailNotValidError as exc:
        raise ValidationError(str(exc)) from exc

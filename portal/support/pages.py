"""What the customers' and the agents' pages share: the signed-in person, and the answers that serve a ticket's files."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, make_response, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from portal.errors import NotFound, QuotaExceeded, ServiceError
from portal.forms import apply_errors
from portal.support import service
from portal.support.attachments import PREVIEWABLE
from portal.support.forms import invalid
from portal.support.models import TicketAttachment
from portal.uow import refused
from portal.web import after_change, refusal_words, toast, wants_fragment

# An image preview is a document of its own that can run nothing: no sources, sandboxed.
PREVIEW_CSP = {"default-src": "'none'", "img-src": "'self'", "sandbox": ""}


def me():
    """The signed-in user, as the object itself (services keep it; the proxy would be rebound)."""
    return current_user._get_current_object()


def desk_context() -> dict:
    """What every staff home shows of the support desk (the agents' home and the admin console's overview)."""
    return {"desk": service.desk_health(), "at_risk": service.at_risk(), "busiest": service.busiest_orgs(),
            "ticket_url_prefix": url_for("support.agent_show", ticket_id="-").removesuffix("-")}


def submit(form: FlaskForm, action: Callable[[], str | Response], page: Callable[[], str]):
    """A post from a page that shows the form: when the form is valid, run action (which returns where to go next,
    or the answer itself, see `done`) and answer with after_change; else, or when the service refuses, the page again with the errors next to the
    fields (422, or the refusal's status), the request's writes rolled back."""
    status = 422
    if form.validate_on_submit():
        try:
            url = action()
        except QuotaExceeded as exc:
            refuse_quota(form, exc)
            status = exc.status
        except ServiceError as exc:
            apply_errors(form, exc)
            status = exc.status
        else:
            return url if isinstance(url, Response) else after_change(url)
    # htmx swaps only 409 and 422 answers (layouts/base.html's htmx-config): a 402 or 413 refusal of a reply's file
    # must still put the form back with its field error, so htmx gets 422 whatever the refusal's own status.
    return page(), (422 if wants_fragment() else status)


def refuse_quota(form: FlaskForm, exc: QuotaExceeded) -> None:
    """Say in words, next to the file field, that the plan's attachment storage is full; the page links to the upgrade."""
    refused(exc)
    mb = 1024 * 1024
    message = (f"Your plan's attachment storage is full: {exc.used / mb:,.1f} MB of {exc.limit / mb:,.0f} MB used, "
               "and this file would go over it. Remove the file, or upgrade the plan for more storage.")
    field = getattr(form, "file", None)
    if field is not None:
        field.errors = [*(field.errors or []), message]
    else:
        form.form_errors.append(message)
    form.upgrade_url = exc.upgrade_url  # the page shows it as a link next to the form's errors


def press(form: FlaskForm, action: Callable[[], str | Response]):
    """A button's post (hidden fields, no form of its own to show again): the form's problems are a ValidationFailed
    (the error page); else run action (which returns where to go next, or the answer itself, see `done`) and answer
    with after_change."""
    if not form.validate_on_submit():
        raise invalid(form)
    url = action()
    return url if isinstance(url, Response) else after_change(url)


def done(url: str, message: str, fragment: Callable[[], str] | None = None, kind: str = "success") -> Response:
    """The answer to a change (or a warning) that says what it did: for htmx, the fragment (rendered after the change)
    in place with a toast, or without a fragment only the toast (204: the page stays as it is); for a browser (or a
    boosted htmx post), a flash and a 303 / HX-Redirect to url."""
    if wants_fragment():
        answer = fragment() if fragment is not None else make_response("", 204)
    else:
        answer = after_change(url)
    return toast(answer, message, kind)


def refused_in_place(exc: ServiceError, fragment: Callable[[], str]) -> Response:
    """A refused htmx action: the fragment as things now are, with the reason in an error toast (the refusal's status;
    the request's writes undone). A browser gets the error page, as before."""
    if not wants_fragment():
        raise exc
    refused(exc)
    response = toast(fragment(), refusal_words(exc, link=False), "error")
    response.status_code = exc.status
    return response


def download(att: TicketAttachment) -> Response:
    """A download: a 303 to the storage port's short-lived link, which serves the file as an attachment."""
    return redirect(service.download_url(att), code=303)


def preview(att: TicketAttachment) -> Response:
    """An image shown inline, only for raster types sniffed on upload; sandboxed, never rendered as a document."""
    if att.content_type not in PREVIEWABLE:
        raise NotFound()
    response = Response(service.attachment_bytes(att), mimetype=att.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, no-store"
    return response

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.accounts import service as accounts
from portal.accounts import web as sessions
from portal.accounts.forms import AcceptSignupForm
from portal.errors import ServiceError
from portal.forms import apply_errors
from portal.home import charts, finder
from portal.home.service import overview
from portal.orgs import bp, service
from portal.orgs.forms import AcceptForm, InviteForm, NewOrgForm, RoleForm
from portal.pagination import clamp
from portal.roles import ROLE_LABELS, permission_matrix
from portal.search import MAX_QUERY
from portal.tenancy import brand_request, current_membership, current_org, org_required
from portal.text import sentence
from portal.web import after_change, flash_error, render_page, toast, wants_fragment


@bp.route("/orgs/new", methods=["GET", "POST"])
@login_required
def new_org():
    form = NewOrgForm()
    if form.validate_on_submit():
        try:
            org = service.create_org(form.name.data, form.slug.data, owner=current_user)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            flash(f"{org.name} is ready.", "success")
            return redirect(url_for("orgs.dashboard", org_slug=org.slug))
    return render_template("orgs/new.html", form=form), 422 if form.errors else 200


@bp.get("/o/<org_slug>/")
@org_required()
def dashboard(org_slug: str):
    """The org's home: what waits for this member, their recent work, and the org's activity."""
    home = overview(current_org, current_user, current_membership)
    # unread_count: the nav's badge shows the number the page just counted, instead of counting it again.
    return render_template("orgs/dashboard.html", org=current_org, membership=current_membership, home=home, unread_count=home.unread_count,
                           runs_chart=charts.runs_chart(home.runs_by_day), api_chart=charts.api_chart(home.api_calls_by_day))


@bp.get("/o/<org_slug>/search")
@org_required()
def search(org_slug: str):
    """Search the org: the whole page for a browser, the results alone as the person types (htmx)."""
    text = request.args.get("q", "")
    found = finder.find(current_org, current_user, current_membership, text)
    return render_page("orgs/search.html", "orgs/_search_results.html", org=current_org, q=text.strip(), found=found)


def _member_query() -> dict:
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"), 25)
    return {
        "q": request.args.get("q", "").strip()[:MAX_QUERY],
        "role": request.args.get("role", ""),
        "sort": request.args.get("sort", "name"),
        "desc": request.args.get("dir") == "desc",
        "page": page,
        "per_page": per_page,
    }


@bp.get("/o/<org_slug>/members")
@org_required("members.view")
def members(org_slug: str):
    query = _member_query()
    result = service.list_members(current_org, **query)
    return render_page(
        "orgs/members.html",
        "orgs/_members_table.html",
        org=current_org,
        result=result,
        query=query,
        page_only=lambda: {"invite_form": InviteForm(), "invitations": service.pending_invitations(current_org), "matrix": permission_matrix()},
    )


@bp.post("/o/<org_slug>/invitations")
@org_required("members.manage")
def invite(org_slug: str):
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = service.invite(current_org, form.email.data, form.role.data, by=current_user)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            return render_page(
                "orgs/invite_sent.html", "orgs/_invite_panel.html", org=current_org, invite_form=InviteForm(formdata=None),
                invitations=service.pending_invitations(current_org), sent_to=invitation.email,
            )
    return render_page(
        "orgs/invite_sent.html", "orgs/_invite_panel.html", org=current_org, invite_form=form,
        invitations=service.pending_invitations(current_org), sent_to=None,
    ), 422


@bp.post("/o/<org_slug>/invitations/<invitation_id>/revoke")
@org_required("members.manage")
def revoke_invitation(org_slug: str, invitation_id: str):
    invitation = service.revoke_invitation(current_org, invitation_id, by=current_user)
    # htmx swaps in the panel with a toast; a browser goes back to the members page with the same words as a flash.
    answer = after_change(
        url_for("orgs.members", org_slug=org_slug), "orgs/_invite_panel.html", org=current_org,
        invite_form=InviteForm(formdata=None), invitations=service.pending_invitations(current_org), sent_to=None,
    )
    if invitation.status == "accepted":  # answered meanwhile: nothing to withdraw
        return toast(answer, f"{invitation.email} already accepted the invitation.", "info")
    return toast(answer, f"Invitation to {invitation.email} withdrawn.")


@bp.post("/o/<org_slug>/members/<membership_id>/role")
@org_required("members.manage")
def change_role(org_slug: str, membership_id: str):
    form = RoleForm()
    members_url = url_for("orgs.members", org_slug=org_slug)
    if form.validate_on_submit():
        try:
            membership = service.change_role(current_org, membership_id, form.role.data, by=current_user)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            if membership.user_id == current_user.id and membership.role != "org_admin":
                # You just gave away your own admin rights: the members page would now refuse you.
                flash(f"Your role is now {ROLE_LABELS[membership.role]}.", "info")
                return after_change(url_for("orgs.dashboard", org_slug=org_slug))
            answer = after_change(members_url, "orgs/_member_row.html", org=current_org, m=membership)
            return toast(answer, f"{membership.user.name or membership.user.email} is now {ROLE_LABELS[membership.role]}.")
    # Refused: the row as it is, with the reason next to the role (a browser goes back to the list).
    membership = service.get_membership(current_org, membership_id)
    error = " ".join(message for messages in form.errors.values() for message in messages)
    if not wants_fragment():
        flash(error, "error")
        return after_change(members_url)
    return render_template("orgs/_member_row.html", org=current_org, m=membership, error=error), 409


@bp.post("/o/<org_slug>/members/<membership_id>/remove")
@org_required("members.manage")
def remove_member(org_slug: str, membership_id: str):
    try:
        service.remove_member(current_org, membership_id, by=current_user)
    except ServiceError as exc:
        flash_error(exc)
    else:
        flash("Member removed.", "success")
    return after_change(url_for("orgs.members", org_slug=org_slug))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """Accept an invitation: log in as the invited address, or create that account right here."""
    try:
        invitation = service.invitation_from_token(token)
    except ServiceError as exc:
        # The page itself is the refusal (nothing was written): it says why the link no longer works.
        return render_template("orgs/accept.html", problem=exc.message, invitation=None, form=None), 400
    brand_request(invitation.org)  # the invitation page wears the inviting organization's look
    existing = None if current_user.is_authenticated else accounts.find_user(invitation.email)
    form = AcceptForm() if current_user.is_authenticated else AcceptSignupForm()
    if form.validate_on_submit():
        try:
            if current_user.is_authenticated:
                membership = service.accept_invitation(token, current_user._get_current_object())
            else:
                membership = accounts.signup_from_invitation(token, form.name.data, form.password.data)
                sessions.start_session(membership.user)
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            flash(sentence(f"Welcome to {membership.org.name}"), "success")
            return redirect(url_for("orgs.dashboard", org_slug=membership.org.slug))
    return render_template("orgs/accept.html", invitation=invitation, existing=existing, form=form, problem=None), 422 if form.errors else 200

"""API endpoints: parse, call the domain service, serialize."""

from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from flask_login import current_user, login_required

from portal.api import bp, schemas
from portal.api.helpers import page_envelope, parse_body, parse_query
from portal.api.openapi import build_spec, route
from portal.orgs import service as orgs
from portal.pagination import clamp
from portal.tenancy import current_org, org_required


@bp.before_request
def answer_options():
    """OPTIONS lists the methods of the URL's own route: /workflows/execute is not also /workflows/<job_id>."""
    if request.method != "OPTIONS" or request.url_rule is None:
        return None
    rule = request.url_rule.rule
    methods = sorted({m for r in current_app.url_map.iter_rules() if r.rule == rule for m in r.methods})
    return "", 200, {"Allow": ", ".join(methods)}


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API."""
    return jsonify(build_spec())


@route(bp, "/me", "GET", summary="The caller's account and organizations", tag="accounts", response=schemas.MeOut, errors=(401,))
@login_required
def me():
    memberships = orgs.orgs_of(current_user)
    body = schemas.MeOut(
        id=current_user.public_id,
        email=current_user.email,
        name=current_user.name,
        timezone=current_user.timezone,
        email_verified=current_user.is_verified,
        platform_role=current_user.platform_role,
        orgs=[schemas.OrgMembershipOut(id=m.org.public_id, slug=m.org.slug, name=m.org.name, role=m.role) for m in memberships],
    )
    return jsonify(body.model_dump(mode="json"))


def _member(m) -> dict:
    return schemas.MemberOut(
        id=m.public_id, user_id=m.user.public_id, email=m.user.email, name=m.user.name, role=m.role, joined_at=m.created_at
    ).model_dump(mode="json")


@route(bp, "/orgs/<org_slug>/members", "GET", summary="List an organization's members", tag="members", response=schemas.MemberListOut, query=schemas.MemberQuery)
@org_required("members.view")
def list_members(org_slug: str):
    query = parse_query(schemas.MemberQuery)
    page, per_page = clamp(query.page, query.per_page)
    result = orgs.list_members(current_org, q=query.q, role=query.role, sort=query.sort, desc=query.dir == "desc", page=page, per_page=per_page)
    return jsonify(page_envelope(result, [_member(m) for m in result.items], "api.list_members", org_slug=org_slug))


@route(bp, "/orgs/<org_slug>/invitations", "POST", summary="Invite someone by email", tag="members", body=schemas.InvitationIn, response=schemas.InvitationOut, status=201, errors=(402, 409))
@org_required("members.manage")
def create_invitation(org_slug: str):
    data = parse_body(schemas.InvitationIn)
    invitation = orgs.invite(current_org, data.email, data.role, by=current_user)
    body = schemas.InvitationOut(id=invitation.public_id, email=invitation.email, role=invitation.role, status=invitation.status, expires_at=invitation.expires_at)
    return jsonify(body.model_dump(mode="json")), 201, {"Location": url_for("api.list_members", org_slug=org_slug)}


@route(bp, "/orgs/<org_slug>/members/<membership_id>", "PUT", summary="Change a member's role", tag="members", body=schemas.RoleIn, response=schemas.MemberOut, errors=(401, 403, 404, 409))
@org_required("members.manage")
def update_member(org_slug: str, membership_id: str):
    orgs.get_membership(current_org, membership_id)  # the id before the body: another org's member is a 404
    data = parse_body(schemas.RoleIn)
    return jsonify(_member(orgs.change_role(current_org, membership_id, data.role, by=current_user)))


@route(bp, "/orgs/<org_slug>/members/<membership_id>", "DELETE", summary="Remove a member", tag="members", status=204, errors=(401, 403, 404, 409))
@org_required("members.manage")
def delete_member(org_slug: str, membership_id: str):
    orgs.remove_member(current_org, membership_id, by=current_user)
    return "", 204

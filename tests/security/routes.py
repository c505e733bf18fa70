"""The map the route walks use: which routes are org-scoped, which are not and why, and org A's value
for every URL argument. A new route either fits here or fails test_every_route_is_covered_by_the_security_walks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select

from portal.extensions import db
from portal.orgs.models import Invitation, Membership, Organization

ORG_ARGUMENT = "org_slug"
ORG_QUERY = "org"  # /api/v1 routes without an org in the path take it from the API key or ?org=<slug>
PLATFORM_PREFIX = "/admin/"
PLATFORM_PREFIXES = (PLATFORM_PREFIX, "/support/")  # /support/: the agents' cross-org queue (platform.support)
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = "public"  # answers anyone, logged in or not
LOGIN = "login"  # needs a login, but shows only the caller's own account

# Every route WITHOUT an <org_slug> argument, on purpose, with why it holds no organization's data.
# Platform routes (under /admin/) are not listed: test_non_staff_gets_404_on_every_platform_route walks them.
NOT_ORG_SCOPED: dict[str, tuple[str, str]] = {
    "static": (PUBLIC, "vendored CSS and JS"),
    "core.home": (PUBLIC, "redirects to the caller's first org, the console, or /login"),
    "core.health": (PUBLIC, "liveness probe"),
    "core.ready": (PUBLIC, "readiness probe"),
    "core.download": (PUBLIC, "a signed, expiring download token is the credential"),
    "accounts.signup": (PUBLIC, "creates a new account and org"),
    "accounts.login": (PUBLIC, "login form"),
    "accounts.org_login": (PUBLIC, "an org's own login form: its name and published look, which the public theme API serves anyway"),
    "accounts.forgot_password": (PUBLIC, "same answer whether the account exists or not"),
    "accounts.reset_password": (PUBLIC, "a signed, single-use token is the credential"),
    "accounts.verify": (PUBLIC, "a signed token is the credential"),
    "orgs.accept_invitation": (PUBLIC, "a signed invitation token is the credential"),
    "api.openapi": (PUBLIC, "the API's description"),
    "api_docs.swagger": (PUBLIC, "API documentation viewer"),
    "api_docs.redoc": (PUBLIC, "API documentation viewer"),
    "accounts.logout": (LOGIN, "the caller's own session"),
    "accounts.profile": (LOGIN, "the caller's own profile"),
    "accounts.change_password": (LOGIN, "the caller's own password"),
    "accounts.resend_verification": (LOGIN, "the caller's own email address"),
    "orgs.new_org": (LOGIN, "creates a new org owned by the caller"),
    "api.me": (LOGIN, "the caller's own account and memberships"),
    "notifications.unsubscribe": (PUBLIC, "a signed unsubscribe token is the credential"),
    "notifications.twilio_status": (PUBLIC, "Twilio's delivery reports, checked by X-Twilio-Signature"),
    "workflows.prometheus": (PUBLIC, "platform-wide workflow totals for a scraper with METRICS_TOKEN; 404 without it"),
    "keys.static": (PUBLIC, "the keys pages' copy-button script and styles"),
    "api.stripe_webhook": (PUBLIC, "Stripe's events, checked by Stripe-Signature on the raw body; they name a customer, never a caller's org"),
    "api.get_theme": (PUBLIC, "an org's published colours, fonts and logo URLs: what every page of the org shows (issue 12)"),
    "api.theme_css": (PUBLIC, "an org's published theme stylesheet: generated variables and its sanitized custom CSS"),
    "api.theme_asset": (PUBLIC, "an org's uploaded logo or favicon, by its content hash: shown on the org's pages"),
}

# Write routes that may skip the CSRF check, with why.
CSRF_EXEMPT: dict[str, str] = {
    "notifications.unsubscribe": "mail clients' one-click POST (RFC 8058) carries no token; the signed link is the credential",
    "notifications.twilio_status": "Twilio posts delivery reports without a CSRF token; its signature is checked instead",
    "api.stripe_webhook": "Stripe posts events without a CSRF token; its signature over the raw body is checked instead",
}


@dataclass
class World:
    """Org A (the target, with a member and a pending invitation) and org B (whose admin attacks)."""

    org_a: Organization
    admin_a: object
    member_a: object
    membership_a: Membership
    invitation_a: Invitation
    notification_a: object
    delivery_a: object
    org_b: Organization
    admin_b: object
    membership_b: Membership
    key_a: object = None  # an API key of member_a (portal.keys)
    workflow_a: object = None  # a workflow of org A and a finished run of it (portal.workflows), made below
    run_a: object = None

    def __post_init__(self):
        # Org A's support ticket (with an attachment) and a saved view, made with the rest of the world so that
        # the walks' before/after snapshots include them.
        self._support = _make_support_a(self)
        if self.workflow_a is None:  # likewise org A's workflow and a finished run of it
            self.workflow_a, self.run_a = _make_workflow_a(self)


def _make_workflow_a(world: World) -> tuple:
    from portal.workflows.models import WorkflowRun
    from portal.workflows.service import create_from_starter, latest

    workflow = create_from_starter(world.org_a, "greeting", world.admin_a)
    run = WorkflowRun(org_id=world.org_a.id, workflow_id=workflow.id, version_id=latest(workflow).id,
                      created_by_id=world.member_a.id, status="succeeded", input={"name": "Acme"})
    db.session.add(run)
    db.session.commit()
    return workflow, run


# {URL argument: org A's value}. A route argument missing here fails the coverage test.
ORG_A_VALUES: dict[str, Callable[[World], str]] = {
    "org_slug": lambda w: w.org_a.slug,
    "slug": lambda w: w.org_a.slug,  # accounts.org_login: an org's public login page
    "membership_id": lambda w: w.membership_a.public_id,
    "invitation_id": lambda w: w.invitation_a.public_id,
    "notification_id": lambda w: w.notification_a.public_id,
    "delivery_id": lambda w: w.delivery_a.public_id,
    "key_id": lambda w: w.key_a.public_id,
    "workflow_id": lambda w: w.workflow_a.public_id,
    "node_id": lambda w: "shout",  # a node of org A's greeting workflow: named within it, so its workflow_id scopes it
    "run_id": lambda w: w.run_a.public_id,
    "job_id": lambda w: w.run_a.public_id,
    "ticket_id": lambda w: _support_a(w)["ticket"],
    "attachment_id": lambda w: _support_a(w)["attachment"],
    "view_id": lambda w: _support_a(w)["view"],
    # keys that name a thing every org has (not org A's object): only org A's slug makes them org A's
    "event_name": lambda w: "member.invited",
    "channel": lambda w: "email",
    # platform routes name organizations and users by public id
    "org_id": lambda w: w.org_a.public_id,
    "user_id": lambda w: w.member_a.public_id,
    "canned_id": lambda w: _support_a(w)["canned"],  # the agents' canned replies belong to the platform
    # token routes (public) get a syntactically plausible, unsigned value
    "token": lambda w: "not-a-signed-token",
    "filename": lambda w: "css/portal.css",
}

# The arguments above that name one of org A's objects: these are also tried under org B's own slug.
ORG_A_OBJECTS = {"membership_id", "invitation_id", "notification_id", "delivery_id", "key_id", "ticket_id", "attachment_id", "workflow_id", "run_id", "job_id"}

# What a write sends, so that a missing check would really change something.
FORM_BODY = {"email": "intruder@example.test", "role": "org_admin", "name": "Hijacked", "suspended": "1"}
# A valid JSON body for each API write that reads one: the view parses the body before it looks the object up,
# so an invalid body would stop the id-swap attempt at 422 before the org check is tested.
JSON_BODIES: dict[str, dict] = {
    "api.create_invitation": {"email": "intruder@example.test", "role": "org_admin"},
    "api.update_member": {"role": "org_admin"},
    "api.read_notification": {"read": True},
    "api.send": {"to": ["alice@acme.test"], "event": "message", "title": "Phishing", "body": "click here"},
    "api.create_key": {"name": "Intruder", "scopes": ["read", "write", "admin"]},
    "api.update_key": {"name": "Hijacked", "scopes": ["read", "write", "admin"], "rate_limit": 100000},
    "api.rotate_key": {"grace_period": 0},
    "api.update_workflow_definition": {"name": "Hijacked", "nodes": [{"id": "a", "type": "transform", "config": {"set": {"x": "1"}}}],
                                       "edges": [{"from": "START", "to": "a"}, {"from": "a", "to": "END"}]},
    "api.approve_workflow_run": {"approved": True},
    "api.update_ticket": {"status": "closed", "category": "billing"},
    "api.create_comment": {"body": "Intruder reply", "internal": False},
}


def is_platform(rule) -> bool:
    return rule.rule.startswith(PLATFORM_PREFIXES)


_PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
        b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _make_support_a(world: World) -> dict:
    """Org A's ticket (filed by member_a) with an attachment, and a saved view (portal.support)."""
    from portal.support import service as support

    ticket = support.create_ticket(world.org_a, world.member_a, subject="Acme secret outage", body="Acme secret details",
                                   files=[("shot.png", _PNG)])
    attachment = support.attachments(ticket, for_agent=False)[0]
    view = support.save_view(world.admin_a, "Acme view", "status=open")
    canned = support.create_canned("Acme thanks", "Thanks, {{ customer_name }}.")  # the platform's, not org A's
    return {"ticket": ticket.public_id, "attachment": attachment.public_id, "view": view.public_id, "canned": canned.public_id}


def _support_a(world: World) -> dict:
    return world._support


def _guards(app, rule) -> set[str]:
    """The names of the decorators around a view (org_required, login_required ...)."""
    names, view = set(), app.view_functions[rule.endpoint]
    while view is not None:
        code = getattr(view, "__code__", None)
        if code is not None:
            names.add(code.co_qualname.split(".<locals>")[0])
        view = getattr(view, "__wrapped__", None)
    return names


def org_from_query(app, rule) -> bool:
    """An /api/v1 route whose org comes from the API key or ?org=<slug> (tenancy.org_required without <org_slug>)."""
    return ORG_ARGUMENT not in rule.arguments and "org_required" in _guards(app, rule)


def is_org_scoped(app, rule) -> bool:
    return ORG_ARGUMENT in rule.arguments or org_from_query(app, rule)


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def methods_of(rule) -> list[str]:
    return sorted(rule.methods - SKIPPED_METHODS)


def all_rules(app) -> list:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def org_scoped_rules(app) -> list:
    return [r for r in all_rules(app) if is_org_scoped(app, r)]


def platform_rules(app) -> list:
    return [r for r in all_rules(app) if is_platform(r)]


def write_rules(app) -> list:
    return [r for r in all_rules(app) if r.methods & WRITE_METHODS]


def coverage_problems(app) -> list[str]:
    """Why the walks would miss a route; empty when every route is covered."""
    problems = []
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    for rule in all_rules(app):
        where = f"{rule.rule} ({rule.endpoint}, {'/'.join(methods_of(rule))})"
        body = _operation_body(rule)
        if body is not None and rule.endpoint not in JSON_BODIES and rule.arguments & ORG_A_OBJECTS:
            problems.append(
                f"{where} reads a {body.__name__} body: add \"{rule.endpoint}\": {{a valid {body.__name__}}} to JSON_BODIES "
                "in tests/security/routes.py, so the id-swap attempt reaches the object lookup."
            )
        for arg in sorted(rule.arguments - ORG_A_VALUES.keys()):
            problems.append(
                f"{where} takes <{arg}>, which ORG_A_VALUES in tests/security/routes.py does not know: "
                f"add \"{arg}\": lambda w: <the id of an org A object> (create the object in the `world` fixture "
                "of tests/security/conftest.py)."
            )
        if not is_org_scoped(app, rule) and not is_platform(rule) and rule.endpoint not in NOT_ORG_SCOPED:
            problems.append(
                f"{where} has no <{ORG_ARGUMENT}> (nor @org_required) and is not a platform route: if it shows or changes an "
                f"organization's data, move it under /o/<{ORG_ARGUMENT}>/ with @org_required; otherwise add "
                f"\"{rule.endpoint}\": (PUBLIC or LOGIN, \"why it holds no org's data\") to NOT_ORG_SCOPED in "
                "tests/security/routes.py."
            )
    for endpoint in sorted((NOT_ORG_SCOPED.keys() | CSRF_EXEMPT.keys()) - endpoints):
        problems.append(f"tests/security/routes.py lists {endpoint}, which is no longer a route: remove it.")
    return problems


def _operation_body(rule):
    """The pydantic model an API route's body is documented with, if any (portal.api.openapi.OPERATIONS)."""
    from portal.api.openapi import OPERATIONS

    for op in OPERATIONS:
        if op.rule == rule.rule and op.method.upper() in rule.methods and op.body is not None:
            return op.body
    return None


# GET routes that need query arguments to answer 200 (the control walk opens every GET route as org A's admin).
REQUIRED_QUERY = {
    "api.preview_subscription_change": "plan=pro&interval=month",
}


def build_path(rule, values: dict[str, str]) -> str:
    """The URL of rule; values[ORG_QUERY], when present, goes in the query string (?org=<slug>), with any
    REQUIRED_QUERY of the route."""
    path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: quote(values[m.group(1)], safe="/"), rule.rule)
    query = "&".join(q for q in (f"{ORG_QUERY}={quote(values[ORG_QUERY])}" if values.get(ORG_QUERY) else "",
                                 REQUIRED_QUERY.get(rule.endpoint, "")) if q)
    return f"{path}?{query}" if query else path


def values_for(world: World, rule, app=None, **overrides) -> dict[str, str]:
    """Org A's value for each argument of rule (and ?org= when the route takes the org from the query)."""
    values = {arg: ORG_A_VALUES[arg](world) for arg in rule.arguments}
    if app is not None and org_from_query(app, rule):
        values[ORG_QUERY] = world.org_a.slug
    values.update({k: v for k, v in overrides.items() if k in values})
    return values


def attacks(world: World, rule, app) -> list[dict[str, str]]:
    """The value sets org B's admin tries: org A's org with org A's ids; then, when the route names one of
    org A's objects, org B's own org with org A's ids (the id swap), and for ?org= routes no org at all
    (which falls back to the caller's only org, org B)."""
    tries = [values_for(world, rule, app)]
    if rule.arguments & ORG_A_OBJECTS:
        tries.append(values_for(world, rule, app, org_slug=world.org_b.slug, org=world.org_b.slug))
        if org_from_query(app, rule):
            tries.append(values_for(world, rule, app, org=""))
    return tries


def send(client, rule, method: str, path: str, *, htmx: bool = False, headers: dict | None = None):
    """One request the way the portal's own pages (forms, HTMX) or an API client would send it."""
    headers = {**({"HX-Request": "true"} if htmx else {}), **(headers or {})}
    if is_api(path):
        body = JSON_BODIES.get(rule.endpoint) if method in WRITE_METHODS else None
        if body:
            return client.open(path, method=method, json=body, headers=headers)
        return client.open(path, method=method, headers=headers)
    if method == "GET":
        return client.open(path, method=method, headers=headers)
    return client.open(path, method=method, data=FORM_BODY, headers=headers)


def db_snapshot() -> dict[str, list]:
    """Every row of every table: equal snapshots prove that nothing was inserted, changed or deleted."""
    db.session.expire_all()
    return {t.name: sorted(map(repr, db.session.execute(select(t)).all())) for t in db.metadata.sorted_tables}


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]

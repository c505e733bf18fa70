"""Command-line tools: `flask seed-demo`, `flask create-superadmin`, `flask worker`."""

from __future__ import annotations

import click
from flask import Flask, current_app

from portal.accounts import service as accounts
from portal.errors import ServiceError
from portal.infra.jobs import enqueue, run_worker
from portal.infra.periodic import Scheduler
from portal.orgs import service as orgs
from portal.roles import PLATFORM_ROLES
from portal.support import service as support
from portal.uow import unit_of_work
from portal.workflows import service as workflows

DEMO_PASSWORD = "vetrai-demo-pass"
DEMO_ORGS = {"demo": "Demo Inc.", "acme": "Acme Corp"}
DEMO_USERS = [
    # (email, name, org slug or None, org role or platform role)
    ("admin@demo.test", "Dana Admin", "demo", "org_admin"),
    ("billing@demo.test", "Bill Ing", "demo", "billing_admin"),
    ("user@demo.test", "Uma User", "demo", "user"),
    ("admin@acme.test", "Ada Acme", "acme", "org_admin"),
    ("root@vetrai.test", "Root Super", None, "super_admin"),
    ("agent@vetrai.test", "Aggie Agent", None, "support_agent"),
]


def seed_demo() -> list[tuple[str, str]]:
    """Create the demo organizations and one login per role, through the services; running it again changes nothing."""
    with unit_of_work():
        users = {email: _demo_user(email, name) for email, name, _slug, _role in DEMO_USERS}
        demo_orgs = {
            slug: orgs.org_by_slug(slug) or orgs.create_org(name, slug, owner=users[_owner(slug)]) for slug, name in DEMO_ORGS.items()
        }
        for email, _name, slug, role in DEMO_USERS:
            if role in PLATFORM_ROLES:
                accounts.grant_platform_role(users[email], role)
            else:
                orgs.add_member(demo_orgs[slug], users[email], role)  # a member already keeps their role
        _demo_content(demo_orgs["demo"], users["admin@demo.test"], users["user@demo.test"])
    return [(email, role) for email, _name, _slug, role in DEMO_USERS]


def _demo_content(org, admin, user) -> None:
    """A workflow to run and a ticket to answer, so the demo's home page, workflows and queue are not empty."""
    if not workflows.list_workflows(org):
        workflows.create_from_starter(org, "greeting", by=admin)
    if not support.customer_queue(org, user, orgs.membership_of(org, user), support.QueueFilters(), per_page=1)[0]:
        support.create_ticket(org, user, subject="How do I rotate an API key?",
                              body="Our deploy key expires next week. Can we rotate it without downtime?")


def _demo_user(email: str, name: str):
    # The shared demo password would fail the strength check on purpose: it is for local runs only.
    return accounts.find_user(email) or accounts.new_user(email, DEMO_PASSWORD, name, verified=True, check_password=False)


def _owner(slug: str) -> str:
    """The demo org_admin who creates the demo organization at slug."""
    return next(email for email, _name, org, role in DEMO_USERS if org == slug and role == "org_admin")


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create demo orgs and users (idempotent) and print the logins."""
        if current_app.config["PRODUCTION"]:
            raise click.ClickException("The demo data and its shared password are for local runs, not production.")
        logins = seed_demo()
        click.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
        for email, role in logins:
            click.echo(f"  {email:<22} {role}")

    @app.cli.command("create-superadmin")
    @click.option("--email", prompt=True)
    @click.option("--name", default="")
    @click.password_option()
    def create_superadmin(email: str, name: str, password: str):
        """Create a super admin (or promote an existing user)."""
        try:
            with unit_of_work():
                user = accounts.find_user(email) or accounts.new_user(email, password, name, verified=True)
                accounts.grant_platform_role(user, "super_admin")
        except ServiceError as exc:
            raise click.ClickException("; ".join(exc.fields.values()) or exc.message) from exc
        click.echo(f"{user.email} is a super admin.")

    @app.cli.command("worker")
    @click.option("--queues", default="high,default,low", show_default=True)
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    def worker(queues: str, burst: bool):
        """Run an RQ worker with its scheduler of periodic jobs (needs REDIS_URL)."""
        app = current_app._get_current_object()
        scheduler = Scheduler(app, enqueue)
        try:
            run_worker(app, queues.split(","), burst=burst, scheduler=scheduler)
        finally:
            # A warm shutdown (SIGTERM) lets the reconciler or flush this worker is running finish, as RQ
            # lets its current job finish; the slot it claimed ahead then passes to another worker.
            scheduler.stop(timeout=20)

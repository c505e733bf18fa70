"""Command-line tools: `flask seed-demo`, `flask create-superadmin`, `flask worker`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from sqlalchemy import select

from portal.infra.jobs import enqueue, run_worker
from portal.infra.periodic import Scheduler

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
    """Create the demo organizations and one login per role; running it again changes nothing."""
    from portal.accounts.models import User
    from portal.accounts.passwords import hash_password
    from portal.extensions import db
    from portal.models import utcnow
    from portal.orgs.models import Membership, Organization

    orgs = {}
    for slug, name in DEMO_ORGS.items():
        org = db.session.scalar(select(Organization).filter_by(slug=slug))
        if org is None:
            org = Organization(slug=slug, name=name)
            db.session.add(org)
            db.session.flush()
        orgs[slug] = org
    logins = []
    for email, name, slug, role in DEMO_USERS:
        user = db.session.scalar(select(User).filter_by(email=email))
        if user is None:
            user = User(email=email, name=name, password_hash=hash_password(DEMO_PASSWORD), email_verified_at=utcnow())
            db.session.add(user)
            db.session.flush()
        if slug is None:
            user.platform_role = role
        elif db.session.scalar(select(Membership).filter_by(org_id=orgs[slug].id, user_id=user.id)) is None:
            db.session.add(Membership(org_id=orgs[slug].id, user_id=user.id, role=role))
        logins.append((email, role))
    db.session.commit()
    return logins


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
        from portal.accounts import service
        from portal.errors import ServiceError
        from portal.extensions import db

        user = service.find_user(email)
        if user is None:
            try:
                user = service.new_user(email, password, name, verified=True)
            except ServiceError as exc:
                raise click.ClickException("; ".join(exc.fields.values()) or exc.message) from exc
        user.platform_role = "super_admin"
        db.session.commit()
        click.echo(f"{user.email} is a super admin.")

    @app.cli.command("worker")
    @click.option("--queues", default="high,default,low", show_default=True)
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    def worker(queues: str, burst: bool):
        """Run an RQ worker with its scheduler (needs REDIS_URL)."""
        app = current_app._get_current_object()
        run_worker(app, queues.split(","), burst=burst, scheduler=Scheduler(app, enqueue))

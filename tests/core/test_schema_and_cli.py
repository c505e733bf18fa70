from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from portal.accounts import service as accounts
from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.cli import DEMO_PASSWORD, DEMO_USERS
from portal.extensions import db
from portal.orgs import members
from portal.orgs import service as orgs
from portal.orgs.models import Membership, Organization
from portal.support.models import Ticket
from portal.workflows.models import Workflow


def test_models_and_migrations_agree(app):
    """The schema built by Alembic is the one the models describe (on SQLite and on PostgreSQL)."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == [], f"models differ from migrations: run `flask db migrate`. Differences: {diff}"


def test_seed_demo_is_idempotent_and_every_demo_login_works(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    def counts():
        return tuple(db.session.scalar(select(func.count(model.id))) for model in (User, Membership, Workflow, Ticket))

    seeded = counts()
    assert seeded[2:] == (1, 1)  # a workflow to run and a ticket to answer: the demo's pages are not empty
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert counts() == seeded
    for email, _name, _org, role in DEMO_USERS:
        assert email in first.output and role in first.output
    roles = {m.user.email: (m.org.slug, m.role) for m in db.session.scalars(select(Membership))}
    assert roles["admin@demo.test"] == ("demo", "org_admin")
    assert roles["admin@acme.test"] == ("acme", "org_admin")
    assert db.session.scalar(select(User).filter_by(email="root@vetrai.test")).platform_role == "super_admin"
    client = app.test_client()
    for email, *_ in DEMO_USERS:
        response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        client.post("/logout")
    assert {o.slug for o in db.session.scalars(select(Organization))} == {"demo", "acme"}


def test_create_superadmin_refuses_a_weak_password_then_creates(app):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-superadmin", "--email", "boss@example.test", "--password", "password12345"])
    assert weak.exit_code != 0 and "too common" in weak.output
    ok = runner.invoke(args=["create-superadmin", "--email", "boss@example.test", "--password", "granite-ocelot-winter-3"])
    assert ok.exit_code == 0, ok.output
    assert db.session.scalar(select(User).filter_by(email="boss@example.test")).platform_role == "super_admin"


def test_seeding_again_keeps_what_people_changed_since(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    demo = orgs.org_by_slug("demo")
    membership = members.member_by(demo, "user@demo.test")
    orgs.change_role(demo, membership.public_id, "org_admin", by=accounts.find_user("admin@demo.test"))
    db.session.commit()
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "user@demo.test" in again.output
    db.session.expire_all()
    assert members.member_by(demo, "user@demo.test").role == "org_admin"
    # The organizations were made by the service: each has its creation in the audit log, once.
    created = db.session.scalars(select(AuditEvent.target).filter_by(action="org.created")).all()
    assert sorted(created) == ["acme", "demo"]

"""factory_boy factories for the core models; each commits, like a service would."""

from __future__ import annotations

import factory
from werkzeug.security import generate_password_hash

from portal.accounts.models import User
from portal.billing import service as billing
from portal.extensions import db
from portal.models import utcnow
from portal.orgs.models import Membership, Organization
from portal.workflows import service as workflows
from portal.workflows.models import WorkflowRun

PASSWORD = "correct horse battery staple"
# Hash once: scrypt is slow on purpose, and most tests never log in with the password.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="scrypt")


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    name = factory.Sequence(lambda n: f"Person {n}")
    password_hash = PASSWORD_HASH
    email_verified_at = factory.LazyFunction(utcnow)


class OrgFactory(Base):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Org {n}")


class MembershipFactory(Base):
    class Meta:
        model = Membership

    org = factory.SubFactory(OrgFactory)
    user = factory.SubFactory(UserFactory)
    role = "user"


def member(org: Organization, role: str = "user", **user_fields) -> User:
    """A new user who is a member of org with role."""
    return MembershipFactory(org=org, role=role, user=UserFactory(**user_fields)).user


def on_plan(org: Organization, plan_key: str) -> Organization:
    """Put org on a plan as a super admin does (`flask billing assign-plan`), committed: room for tests that need more."""
    billing.assign_plan(org, plan_key, UserFactory(platform_role="super_admin"))
    db.session.commit()
    return org


def waiting_approval_run(org, starter, wait_for_jobs, approvers: str | None = None) -> WorkflowRun:
    """An expense-approval run started by `starter`, paused at its approval node (with `approvers` as its rule)."""
    wf = workflows.create_from_starter(org, "approval", starter)
    if approvers:
        definition = workflows.latest(wf).definition
        definition["nodes"][1]["config"]["approvers"] = approvers
        workflows.new_version(org, wf.public_id, definition, starter)
    run = workflows.start_run(org, wf.public_id, {"amount": 120, "reason": "team lunch"}, "default", starter)
    db.session.commit()
    wait_for_jobs(60)  # a ceiling, not a timing: the first run of a session waits for the RQ worker to start
    db.session.expire_all()
    run = db.session.get(WorkflowRun, run.id)
    assert run.status == "waiting_for_approval"
    return run

"""The unit of work: one commit per request or job, after-commit hooks that never run for a rolled-back
change, and refusals that leave nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.errors import ServiceError, ValidationFailed
from portal.extensions import db
from portal.orgs.models import Organization
from portal.uow import after_commit, refused, unit_of_work


def _org_named(slug: str) -> Organization | None:
    db.session.expire_all()
    return db.session.scalar(select(Organization).filter_by(slug=slug))


def test_after_commit_hooks_run_once_the_change_is_committed_and_see_it(app):
    seen = []
    with unit_of_work():
        db.session.add(Organization(slug="hooked", name="Hooked"))
        db.session.flush()
        after_commit(lambda: seen.append("ran"))
        assert seen == []  # not before the commit
    assert seen == ["ran"]
    assert _org_named("hooked") is not None


def test_a_rolled_back_unit_writes_nothing_and_runs_no_hook(app):
    seen = []
    with pytest.raises(ServiceError), unit_of_work():
        db.session.add(Organization(slug="undone", name="Undone"))
        db.session.flush()
        after_commit(lambda: seen.append("ran"))
        raise ServiceError("refused")
    assert _org_named("undone") is None
    with unit_of_work():
        pass  # the next commit does not pick up the dropped hook either
    assert seen == []


def test_a_failing_hook_is_logged_and_the_others_still_run(app, caplog):
    seen = []

    def broken():
        raise RuntimeError("queue unreachable")

    with unit_of_work():
        after_commit(broken)
        after_commit(lambda: seen.append("second"))
    assert seen == ["second"]
    assert any("after-commit hook" in r.getMessage() for r in caplog.records)


def test_a_refusal_a_view_shows_rolls_back_what_was_flushed_before_it(app):
    db.session.add(Organization(slug="half", name="Half"))
    db.session.flush()
    refused(ValidationFailed({"name": "bad"}))
    db.session.commit()
    assert _org_named("half") is None


def test_a_refusal_that_keeps_its_changes_commits_them(app):
    db.session.add(Organization(slug="attempt", name="Counted attempt"))
    db.session.flush()
    refused(ValidationFailed({"code": "That code is not right."}, persist=True))
    db.session.rollback()
    assert _org_named("attempt") is not None


def test_a_request_that_fails_validation_changes_nothing(client, login_as, row_counts):
    from tests.factories import UserFactory

    user = UserFactory()
    login_as(user)
    before = row_counts()
    response = client.post("/orgs/new", data={"name": "", "slug": "Not A Slug"})
    assert response.status_code == 422
    assert row_counts() == before


@pytest.fixture
def commits(app):
    """How many times the engine committed while the test ran (a read-only request should not)."""
    from sqlalchemy import event

    seen = []
    with app.app_context():
        engine = db.engine

    def count(_conn):
        seen.append(1)

    event.listen(engine, "commit", count)
    yield seen
    event.remove(engine, "commit", count)


def test_a_request_that_only_reads_commits_nothing_and_one_that_writes_commits(client, login_as, commits):
    from tests.factories import OrgFactory, member

    org = OrgFactory(name="Readers", slug="readers")
    reader = member(org, "org_admin", email="rita@readers.test")
    db.session.commit()
    login_as(reader)
    client.get("/o/readers/")  # warm: the first page after login may write (the session's last-seen, a cache)
    commits.clear()
    assert client.get("/o/readers/").status_code == 200 and commits == []
    answer = client.post("/o/readers/invitations", data={"email": "new@readers.test", "role": "user"})
    assert answer.status_code in (200, 303) and len(commits) == 1


def test_a_change_added_but_not_flushed_is_still_committed_at_the_end_of_the_request(app):
    from flask import Response

    with app.test_request_context("/"):
        db.session.add(Organization(slug="unflushed", name="Unflushed"))  # no flush, no statement yet
        app.process_response(Response("ok"))  # the after-request hooks, as a real request ends
    with app.app_context():
        assert _org_named("unflushed") is not None

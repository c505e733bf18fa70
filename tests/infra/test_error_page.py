"""The 500 page is the portal's own and never touches the database (which may be what failed)."""

from __future__ import annotations

from sqlalchemy import event, text

from portal.extensions import db
from tests.factories import OrgFactory, member


def test_an_unexpected_error_renders_the_portal_page_without_a_query(make_app):
    app = make_app()
    statements: list[str] = []

    @app.get("/test-only/fails-mid-transaction")
    def fails_mid_transaction():
        db.session.execute(text("SELECT 1"))
        statements.clear()  # from here on, only what the error handler runs is counted
        raise RuntimeError("the database connection went away")

    with app.app_context():
        db.create_all()
        user_id = member(OrgFactory()).get_id()  # signed in: the layout's nav would query for them
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user_id, True
    response = client.get("/test-only/fails-mid-transaction")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page
    assert "<h1>500 · Internal Server Error</h1>" in page  # the status in words, not a Python repr
    assert "VetrAI Portal" in page  # the portal's page, not Werkzeug's bare one
    assert statements == []

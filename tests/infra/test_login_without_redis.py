"""Login while the rate limiter's Redis is unreachable: throttled in memory, never a 500."""

from __future__ import annotations

from portal.extensions import db
from tests.infra.test_health_checks import closed_port_url


def test_login_is_answered_and_still_throttled_when_redis_is_down(make_app):
    app = make_app(RATELIMIT_STORAGE_URI=closed_port_url("redis") + "/0", LOGIN_RATE_LIMIT_ACCOUNT="3 per minute")
    with app.app_context():
        db.create_all()
    client = app.test_client()
    answers = [
        client.post("/login", data={"email": "nobody@example.com", "password": "wrong password"}).status_code
        for _ in range(4)
    ]
    # the wrong password is refused (401, on the page) each time, then the per-account limit (kept in
    # memory while Redis is down) takes over: no attempt answers 5xx
    assert answers == [401, 401, 401, 429]

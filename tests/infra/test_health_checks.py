"""/health and /health/ready: readiness names the outside service that does not answer."""

from __future__ import annotations

import pytest

from tests.conftest import claimed_redis_db, free_port


def closed_port_url(scheme: str) -> str:
    """A loopback URL on a port nothing listens on: connections are refused at once."""
    return f"{scheme}://127.0.0.1:{free_port()}"


def checks_of(response) -> dict[str, dict]:
    return {c["name"]: c for c in response.get_json()["checks"]}


def test_liveness_answers_without_touching_anything(make_app):
    app = make_app(REDIS_URL=closed_port_url("redis"))  # even with Redis down
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_with_embedded_defaults(make_app):
    response = make_app().test_client().get("/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert {name: c["ok"] for name, c in checks_of(response).items()} == {
        "database": True,
        "jobs:in-process": True,
        "storage:local": True,
    }


def test_ready_with_real_redis_and_s3(make_app, s3_server, s3_bucket):
    with claimed_redis_db() as redis_url:
        app = make_app(REDIS_URL=redis_url, S3_BUCKET=s3_bucket, S3_ENDPOINT_URL=s3_server)
        response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    assert {name: c["ok"] for name, c in checks_of(response).items()} == {
        "database": True,
        "jobs:rq": True,
        "storage:s3": True,
    }


def test_ready_stays_200_but_degraded_naming_redis_when_redis_is_unreachable(make_app):
    # pages are still served without Redis, so the load balancer must keep sending traffic
    app = make_app(REDIS_URL=closed_port_url("redis") + "/0")
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    checks = checks_of(response)
    assert checks["jobs:rq"]["ok"] is False
    assert checks["jobs:rq"]["state"] == "down"
    assert checks["jobs:rq"]["error"] == "ConnectionError"
    assert checks["database"]["ok"] is True
    assert checks["storage:local"]["ok"] is True


def test_ready_is_degraded_naming_storage_when_s3_is_unreachable(make_app, aws_env):
    app = make_app(S3_BUCKET="portal-files", S3_ENDPOINT_URL=closed_port_url("http"))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    checks = checks_of(response)
    assert checks["storage:s3"]["ok"] is False
    assert checks["storage:s3"]["error"] == "EndpointConnectionError"
    assert checks["jobs:in-process"]["ok"] is True


def test_ready_is_degraded_naming_storage_when_the_bucket_is_missing(make_app, s3_server):
    app = make_app(S3_BUCKET="bucket-nobody-created", S3_ENDPOINT_URL=s3_server)
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    assert checks_of(response)["storage:s3"]["state"] == "down"


def test_ready_is_degraded_naming_storage_when_the_folder_is_not_writable(make_app, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage folder should be")
    response = make_app(STORAGE_DIR=str(blocker)).test_client().get("/health/ready")
    assert response.status_code == 200
    assert checks_of(response)["storage:local"]["state"] == "down"


def test_ready_is_503_when_the_database_is_unreachable(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI=closed_port_url("postgresql+psycopg").replace("://", "://portal@") + "/portal")
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    database = checks_of(response)["database"]
    assert (database["ok"], database["required"], database["state"]) == (False, True, "down")


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_health_answers_json_for_probes(make_app, path):
    response = make_app().test_client().get(path)
    assert response.mimetype == "application/json"

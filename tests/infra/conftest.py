"""Fixtures for the outside-service ports: real servers on loopback, and apps built for one test.

These tests do not use the shared `app` fixture (which runs every test on two backends): each builds
the app it needs with `create_app({...})`, every outside service named explicitly, so that what the
environment holds (the shared fixtures export theirs) cannot leak in.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import boto3
import pytest
from flask import Flask

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # No profile or credentials file from the machine running the tests.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@pytest.fixture
def make_app(tmp_path) -> Iterator[Callable[..., Flask]]:
    """Build apps with every outside service off (local disk, in-process jobs, console mail and SMS)
    unless the overrides turn one on. Apps are torn down after the test."""
    built: list[Flask] = []

    def make(**overrides) -> Flask:
        config = {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "VETRAI_ENV": "test",
            "SECRET_KEY": "infra-" + secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'portal-{len(built)}.db'}",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "STORAGE_DIR": str(tmp_path / "storage"),
            "S3_BUCKET": None,
            "S3_ENDPOINT_URL": None,
            "SMTP_URL": None,
            "MAIL_FROM": "VetrAI Test <no-reply@vetrai.test>",
            "TWILIO_ACCOUNT_SID": None,
            "TWILIO_AUTH_TOKEN": None,
            "TWILIO_FROM_NUMBER": None,
            "TWILIO_API_BASE": None,
            "STRIPE_SECRET_KEY": None,
            "STRIPE_WEBHOOK_SECRET": None,
            "INPROCESS_JOB_WORKERS": 2,
            **overrides,
        }
        from portal import create_app

        app = create_app(config)
        built.append(app)
        return app

    yield make
    for app in built:
        runner = app.extensions.get("jobs")
        if hasattr(runner, "shutdown"):
            runner.shutdown(15)
        with app.app_context():
            from portal.extensions import db

            db.engine.dispose()


@pytest.fixture(scope="module")
def aws_env() -> Iterator[dict]:
    """Credentials and region for boto3 (moto accepts any), set for this module's tests."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in AWS_ENV.items():
            mp.setenv(name, value)
        yield AWS_ENV


@pytest.fixture(scope="module")
def s3_server(aws_env) -> Iterator[str]:
    """moto's S3 server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """A new, empty bucket on the S3 server."""
    name = "vetrai-test-" + secrets.token_hex(6)
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name

"""Configuration from the environment: production refuses to start half-configured, with a sentence
naming the variable; with nothing set, the embedded defaults run."""

from __future__ import annotations

import stat

import pytest

from portal import config
from portal.config import ConfigError, load_config, normalize_database_url

PROD = {
    "VETRAI_ENV": "production",
    "SECRET_KEY": "a-long-production-secret-0123456789",
    "DATABASE_URL": "postgres://portal:pw@db.internal:5432/portal",
}


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """The instance folder (dev secret key, SQLite file, local storage) moved under the test's folder."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(config, "INSTANCE", folder)
    return folder


def test_production_with_everything_set_starts(instance):
    cfg = load_config(PROD)
    assert cfg["PRODUCTION"] is True
    assert cfg["SECRET_KEY"] == PROD["SECRET_KEY"]
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert not instance.exists()  # nothing falls back to the development secret file


def test_production_without_secret_key_refuses_to_start(instance):
    env = {k: v for k, v in PROD.items() if k != "SECRET_KEY"}
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        load_config(env)


def test_production_with_an_empty_secret_key_refuses_to_start(instance):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({**PROD, "SECRET_KEY": ""})


def test_production_without_database_url_refuses_to_start(instance):
    env = {k: v for k, v in PROD.items() if k != "DATABASE_URL"}
    with pytest.raises(ConfigError, match="DATABASE_URL must be set"):
        load_config(env)


@pytest.mark.parametrize(
    ("group", "present", "missing"),
    [
        ("Stripe", {"STRIPE_SECRET_KEY": "sk_live_x"}, ["STRIPE_WEBHOOK_SECRET"]),
        ("Stripe", {"STRIPE_WEBHOOK_SECRET": "whsec_x"}, ["STRIPE_SECRET_KEY"]),
        ("Twilio", {"TWILIO_ACCOUNT_SID": "AC1"}, ["TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"]),
        ("Twilio", {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, ["TWILIO_FROM_NUMBER"]),
        ("SMTP", {"SMTP_URL": "smtp://mail.internal:587"}, ["MAIL_FROM"]),
        ("SMTP", {"MAIL_FROM": "Portal <no-reply@example.com>"}, ["SMTP_URL"]),
    ],
)
def test_production_half_configured_service_names_the_missing_variables(instance, group, present, missing):
    with pytest.raises(ConfigError) as refused:
        load_config({**PROD, **present})
    sentence = str(refused.value)
    assert sentence.startswith(f"{group} is half-configured")
    for name in missing:
        assert name in sentence
    for name in present:
        assert name in sentence  # ... or unset the ones that are set


def test_production_with_whole_service_groups_starts(instance):
    cfg = load_config(
        {
            **PROD,
            "STRIPE_SECRET_KEY": "sk_live_x",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_FROM_NUMBER": "+15005550006",
            "SMTP_URL": "smtp://mail.internal:587",
            "MAIL_FROM": "Portal <no-reply@example.com>",
        }
    )
    assert cfg["STRIPE_SECRET_KEY"] == "sk_live_x"
    assert cfg["TWILIO_FROM_NUMBER"] == "+15005550006"
    assert cfg["MAIL_FROM"] == "Portal <no-reply@example.com>"


def test_production_s3_endpoint_without_bucket_refuses_to_start(instance):
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        load_config({**PROD, "S3_ENDPOINT_URL": "http://minio.internal:9000"})


def test_half_configured_service_outside_production_is_allowed(instance):
    cfg = load_config({"STRIPE_SECRET_KEY": "sk_test_x"})
    assert cfg["STRIPE_SECRET_KEY"] == "sk_test_x"


def test_misspelled_environment_name_refuses_to_start(instance):
    """`prod` must not quietly run with development defaults (a dev secret, SQLite)."""
    with pytest.raises(ConfigError, match="VETRAI_ENV"):
        load_config({**PROD, "VETRAI_ENV": "prod"})
    assert not instance.exists()


def test_bad_job_worker_count_names_the_variable(instance):
    for value in ("two", "0", "-1"):
        with pytest.raises(ConfigError, match="INPROCESS_JOB_WORKERS"):
            load_config({"INPROCESS_JOB_WORKERS": value})


def test_embedded_defaults_with_nothing_set(instance):
    cfg = load_config({})
    assert cfg["VETRAI_ENV"] == "development"
    assert cfg["PRODUCTION"] is False
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'portal.db'}"
    assert cfg["REDIS_URL"] is None  # jobs run in-process
    assert cfg["SMTP_URL"] is None  # mail goes to the console
    assert cfg["S3_BUCKET"] is None  # files go to local disk
    assert cfg["TWILIO_ACCOUNT_SID"] is None and cfg["STRIPE_SECRET_KEY"] is None
    assert cfg["MAIL_FROM"] == "VetrAI Portal <no-reply@vetrai.local>"
    assert cfg["BASE_URL"] == "http://127.0.0.1:5000"
    assert cfg["INPROCESS_JOB_WORKERS"] == 2
    assert cfg["SESSION_COOKIE_SECURE"] is False
    assert len(cfg["SECRET_KEY"]) >= 40


def test_development_secret_key_is_kept_owner_only_and_stable(instance):
    first = load_config({})["SECRET_KEY"]
    second = load_config({})["SECRET_KEY"]
    assert first == second  # sessions survive a restart
    key_file = instance / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in instance.iterdir()) == ["secret_key"]  # no temporary files left


def test_the_embedded_defaults_build_a_working_app(instance, monkeypatch, tmp_path):
    for name in ("VETRAI_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "SMTP_URL", "S3_BUCKET", "S3_ENDPOINT_URL",
                 "STORAGE_DIR", "TWILIO_ACCOUNT_SID", "STRIPE_SECRET_KEY", "MAIL_FROM", "BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    from portal import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'defaults.db'}", "STORAGE_DIR": str(tmp_path / "s")})
    assert app.extensions["jobs"].name == "in-process"
    assert app.extensions["mailer"].name == "console"
    assert app.extensions["sms"].name == "console"
    assert app.extensions["storage"].name == "local"
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    app.extensions["periodic"].stop()  # the first request started the periodic jobs; this app has no tables for them
    app.extensions["jobs"].shutdown()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://u:p@h/db?sslmode=require", "postgresql+psycopg://u:p@h/db?sslmode=require"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////srv/portal.db", "sqlite:////srv/portal.db"),
    ],
)
def test_database_url_is_pointed_at_psycopg3(given, expected):
    assert normalize_database_url(given) == expected


def test_platform_postgres_url_reaches_the_app_config(instance):
    cfg = load_config(PROD)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://portal:pw@db.internal:5432/portal"


def test_a_larger_attachment_limit_raises_the_request_body_limit_with_it(instance):
    # A 50 MB file limit under a 26 MB body limit would answer every 30 MB upload with a generic 413.
    cfg = load_config({"SUPPORT_MAX_FILE_BYTES": str(50 * 1024 * 1024)})
    assert cfg["SUPPORT_MAX_FILE_BYTES"] == 50 * 1024 * 1024
    assert cfg["MAX_CONTENT_LENGTH"] > 50 * 1024 * 1024
    assert load_config({})["MAX_CONTENT_LENGTH"] == 26 * 1024 * 1024  # the default stays

"""Configuration from environment variables, with embedded defaults for a zero-setup run."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

# Each group must be set whole or not at all; a half-set group is a deployment mistake.
GROUPS: dict[str, tuple[str, ...]] = {
    "Stripe": ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"),
    "Twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"),
    "SMTP": ("SMTP_URL", "MAIL_FROM"),
}


class ConfigError(RuntimeError):
    """Raised at start-up when the environment cannot run the portal."""


def normalize_database_url(url: str) -> str:
    """Point PostgreSQL URLs at the psycopg 3 driver, whatever scheme the platform hands us."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _dev_secret_key() -> str:
    """A per-checkout secret so that sessions survive restarts of `make run`.

    Written owner-only from the first byte, and linked into place only if no other process (the
    worker starting next to `flask run`) got there first: every process then signs with the same key.
    """
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        tmp = INSTANCE / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


ENVIRONMENTS = ("development", "test", "production")


def engine_options(database_url: str) -> dict:
    """SQLAlchemy engine options: test each pooled connection on checkout (one that died while idle, killed
    by a restart or failover, is replaced instead of failing the request), and on PostgreSQL also replace
    connections after 30 minutes, before a proxy or firewall drops them for idling."""
    options: dict = {"pool_pre_ping": True}
    if not database_url.startswith("sqlite"):
        options["pool_recycle"] = 1800
    return options


def _whole_number(env: Mapping[str, str], name: str, default: str) -> int:
    """The variable as a whole number of at least 1 (default when unset), or a ConfigError naming it."""
    raw = env.get(name) or default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


def check_production(env: Mapping[str, str]) -> None:
    """Refuse to start production with a missing secret or a half-configured service."""
    if not env.get("SECRET_KEY"):
        raise ConfigError("SECRET_KEY must be set when VETRAI_ENV=production.")
    if not env.get("DATABASE_URL"):
        raise ConfigError("DATABASE_URL must be set when VETRAI_ENV=production (SQLite is for local runs).")
    for group, names in GROUPS.items():
        present = [n for n in names if env.get(n)]
        if present and len(present) < len(names):
            missing = ", ".join(n for n in names if not env.get(n))
            raise ConfigError(f"{group} is half-configured: set {missing} too, or unset {', '.join(present)}.")
    if env.get("S3_ENDPOINT_URL") and not env.get("S3_BUCKET"):
        raise ConfigError("S3_ENDPOINT_URL is set but S3_BUCKET is not: set S3_BUCKET to use S3 storage.")


def load_config(env: Mapping[str, str] | None = None) -> dict:
    """Build the Flask config mapping from the environment."""
    env = os.environ if env is None else env
    vetrai_env = env.get("VETRAI_ENV") or "development"
    if vetrai_env not in ENVIRONMENTS:  # "prod" must not quietly start with development defaults
        raise ConfigError(f"VETRAI_ENV must be one of {', '.join(ENVIRONMENTS)}, not {vetrai_env!r}.")
    production = vetrai_env == "production"
    max_file = int(env.get("SUPPORT_MAX_FILE_BYTES") or 10 * 1024 * 1024)
    if production:
        check_production(env)
    job_workers = _whole_number(env, "INPROCESS_JOB_WORKERS", "2")
    database_url = env.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'portal.db'}"
    redis_url = env.get("REDIS_URL") or None
    return {
        "VETRAI_ENV": vetrai_env,
        "PRODUCTION": production,
        "SECRET_KEY": env.get("SECRET_KEY") or _dev_secret_key(),
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        # A job whose database connection drops runs again from the start, this many times in all, waiting
        # this long before the second attempt (doubling after: up to 3 s in all), a restart or a quick failover.
        "DB_RETRY_ATTEMPTS": _whole_number(env, "DB_RETRY_ATTEMPTS", "5"),
        "DB_RETRY_BACKOFF_SECONDS": float(env.get("DB_RETRY_BACKOFF_SECONDS") or 0.2),
        "REDIS_URL": redis_url,
        "RQ_QUEUES": ("high", "default", "low"),
        "INPROCESS_JOB_WORKERS": job_workers,
        "SMTP_URL": env.get("SMTP_URL") or None,
        "MAIL_FROM": env.get("MAIL_FROM") or "VetrAI Portal <no-reply@vetrai.local>",
        "S3_BUCKET": env.get("S3_BUCKET") or None,
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "STORAGE_DIR": env.get("STORAGE_DIR") or str(INSTANCE / "storage"),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET") or None,
        # Only for tests and Stripe-compatible servers (localstripe); unset: Stripe's own API.
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or None,
        # Billing: days a failed payment keeps the paid plan before the org falls back to free limits; trial length.
        "BILLING_GRACE_DAYS": int(env.get("BILLING_GRACE_DAYS") or 7),
        "BILLING_TRIAL_DAYS": int(env.get("BILLING_TRIAL_DAYS") or 14),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID") or None,
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN") or None,
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER") or None,
        # Only for tests and self-hosted Twilio-compatible gateways.
        "TWILIO_API_BASE": env.get("TWILIO_API_BASE") or None,
        "BASE_URL": env.get("BASE_URL") or f"http://127.0.0.1:{env.get('PORT', '5000')}",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session, which already expires
        "LOGIN_RATE_LIMIT_IP": env.get("LOGIN_RATE_LIMIT_IP", "20 per minute"),
        "LOGIN_RATE_LIMIT_ACCOUNT": env.get("LOGIN_RATE_LIMIT_ACCOUNT", "5 per minute"),
        "PASSWORD_MIN_LENGTH": 10,
        "TOKEN_MAX_AGE": {"verify": 3 * 24 * 3600, "reset": 3600, "invite": 7 * 24 * 3600, "unsubscribe": 365 * 24 * 3600},
        # First retry delay of a failed notification delivery; each next one doubles.
        "NOTIFY_RETRY_BASE_SECONDS": float(env.get("NOTIFY_RETRY_BASE_SECONDS", "30")),
        # Any request body; above the largest attachment (plus the form around it), so a file over its own
        # limit gets the support domain's clear 413 rather than this generic one.
        "MAX_CONTENT_LENGTH": max(26 * 1024 * 1024, max_file + 1024 * 1024),
        # Support attachments: one file, and all of one ticket's files together (bytes).
        "SUPPORT_MAX_FILE_BYTES": max_file,
        "SUPPORT_MAX_TICKET_BYTES": int(env.get("SUPPORT_MAX_TICKET_BYTES") or 25 * 1024 * 1024),
        "SUPPORT_DOWNLOAD_SECONDS": int(env.get("SUPPORT_DOWNLOAD_SECONDS") or 60),
        # Workflows: the key that encrypts orgs' LLM API keys (SECRET_KEY when unset), limits and retention.
        "WORKFLOW_SECRET_KEY": env.get("WORKFLOW_SECRET_KEY") or None,
        "WORKFLOW_MAX_CONCURRENT_RUNS": int(env.get("WORKFLOW_MAX_CONCURRENT_RUNS") or 10),
        "WORKFLOW_LIMIT_RETRY_SECONDS": float(env.get("WORKFLOW_LIMIT_RETRY_SECONDS") or 1),
        "WORKFLOW_RUN_TIMEOUT": int(env.get("WORKFLOW_RUN_TIMEOUT") or 3600),
        "WORKFLOW_HEARTBEAT_SECONDS": float(env.get("WORKFLOW_HEARTBEAT_SECONDS") or 5),
        "WORKFLOW_HEARTBEAT_TIMEOUT": int(env.get("WORKFLOW_HEARTBEAT_TIMEOUT") or 20),  # 4 missed beats: the run is orphaned
        "WORKFLOW_MAX_RECOVERIES": int(env.get("WORKFLOW_MAX_RECOVERIES") or 2),
        "WORKFLOW_REQUEUE_AFTER": int(env.get("WORKFLOW_REQUEUE_AFTER") or 300),
        "WORKFLOW_RECURSION_LIMIT": int(env.get("WORKFLOW_RECURSION_LIMIT") or 100),
        "WORKFLOW_LLM_TIMEOUT": float(env.get("WORKFLOW_LLM_TIMEOUT") or 60),
        "WORKFLOW_RETENTION_DAYS": int(env.get("WORKFLOW_RETENTION_DAYS") or 30),
        # Bearer token a Prometheus scraper sends to /metrics; unset: /metrics answers 404.
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
    }

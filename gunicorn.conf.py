"""gunicorn settings for every way the portal is served (`make run`, the container image).

gunicorn reads this file from the working directory. Without REDIS_URL each web worker would run its
own in-process job runner and periodic scheduler (every reminder sent once per worker) and keep its own
login limits and key-revocation view, so production refuses more than one worker without Redis.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # "" turns the access log off
# gunicorn's maximum: URLs up to 8 KB reach the app, which refuses those over 4 KB with its own 414
# (JSON under /api); only a longer one gets gunicorn's plain-text answer.
limit_request_line = 8190
# Hot reload for development, behind the same switch as Flask's debug mode.
reload = os.environ.get("FLASK_DEBUG") == "1"
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files off a possibly slow or read-only disk


def on_starting(server):
    """Refuse a multi-worker production server without Redis, saying why."""
    if server.cfg.workers > 1 and not os.environ.get("REDIS_URL") and os.environ.get("VETRAI_ENV") == "production":
        raise SystemExit(
            f"Refusing to start {server.cfg.workers} web workers without REDIS_URL: each worker would run its own job "
            "runner and periodic scheduler (reminders sent once per worker) and its own login limits. "
            "Set REDIS_URL, or WEB_CONCURRENCY=1."
        )

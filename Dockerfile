# VetrAI Portal: one image for the web process (gunicorn) and the job worker (`flask worker`).
#   docker build -t vetrai-portal .
#   docker run -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=... -e REDIS_URL=... vetrai-portal    (web)
#   docker run -e SECRET_KEY=... -e DATABASE_URL=... -e REDIS_URL=... vetrai-portal flask worker
# docs/deploy.md lists every environment variable.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    FLASK_APP=wsgi \
    VETRAI_ENV=production \
    PORT=8000 \
    HOST=0.0.0.0 \
    WEB_CONCURRENCY=2

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them: the exact set in the lock file,
# checked against its hashes. Every locked package ships wheels for Linux (psycopg[binary] included).
COPY requirements.lock .
RUN pip install --require-hashes -r requirements.lock

# The code belongs to root and is read-only for the app; only instance/ (local file storage when
# S3 is not configured) is writable by the unprivileged user the processes run as.
COPY wsgi.py gunicorn.conf.py ./
COPY portal/ portal/
COPY templates/ templates/
COPY static/ static/
COPY migrations/ migrations/
COPY docker/entrypoint.sh docker/create_bucket.py docker/
RUN groupadd --system --gid 10001 vetrai \
 && useradd --system --uid 10001 --gid vetrai --home-dir /app --no-create-home --shell /usr/sbin/nologin vetrai \
 && mkdir -p instance \
 && chown vetrai:vetrai instance \
 && chmod 0755 docker/entrypoint.sh
USER vetrai

EXPOSE 8000

# Liveness of the web process; slim has no curl, so Python's urllib asks (a non-2xx answer raises).
# The worker runs the same image: compose turns this check off for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]

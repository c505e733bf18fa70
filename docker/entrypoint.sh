#!/bin/sh
# Container entrypoint. `web` (the default command): apply the database migrations, then serve with
# gunicorn on $PORT. Anything else runs as given, e.g. `flask worker` for the job worker.
set -eu

if [ "${1:-web}" = "web" ]; then
  if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
    echo "entrypoint: flask db upgrade"
    flask db upgrade
  fi
  exec gunicorn \
    --bind "0.0.0.0:${PORT:-8000}" \
    --workers "${WEB_CONCURRENCY:-2}" \
    --threads "${GUNICORN_THREADS:-4}" \
    --timeout "${GUNICORN_TIMEOUT:-30}" \
    --worker-tmp-dir /dev/shm \
    --access-logfile - \
    wsgi:app
fi

exec "$@"

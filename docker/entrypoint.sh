#!/bin/sh
# Container entrypoint. `web` (the default command): apply the database migrations, then serve with
# gunicorn on $PORT (settings in gunicorn.conf.py). Anything else runs as given, e.g. `flask worker`.
# MIGRATE_ON_START=0 for replicas after the first: two replicas migrating at once race.
set -eu

if [ "${1:-web}" = "web" ]; then
  if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
    echo "entrypoint: flask db upgrade"
    flask db upgrade
  fi
  export HOST="${HOST:-0.0.0.0}" PORT="${PORT:-8000}"
  exec gunicorn wsgi:app
fi

exec "$@"

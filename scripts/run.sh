#!/usr/bin/env bash
# Migrate, seed the demo data (not in production), then serve with gunicorn, the same server as
# production (gunicorn.conf.py; FLASK_DEBUG=1 turns on hot reload). With REDIS_URL set, an RQ worker runs
# beside the web process; without it, jobs run on the in-process runner inside the web process.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FLASK_APP=wsgi
export PORT="${PORT:-5000}"
$BIN/flask db upgrade
if [ "${VETRAI_ENV:-development}" = production ]; then
  export HOST="${HOST:-0.0.0.0}"
else
  $BIN/flask seed-demo
fi
if [ -n "${REDIS_URL:-}" ]; then
  $BIN/flask worker &
  WORKER=$!
  trap 'kill $WORKER 2>/dev/null || true' EXIT
fi
echo
echo "VetrAI Portal: http://${HOST:-127.0.0.1}:${PORT}/  (log in with a demo login above)"
echo
$BIN/gunicorn wsgi:app

#!/usr/bin/env bash
# Migrate, seed the demo data (idempotent), then serve. With REDIS_URL set, an RQ worker runs beside the
# web process; without it, jobs run on the in-process runner inside the web process.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FLASK_APP=wsgi
PORT="${PORT:-5000}"
$BIN/flask db upgrade
$BIN/flask seed-demo
if [ -n "${REDIS_URL:-}" ]; then
  $BIN/flask worker &
  WORKER=$!
  trap 'kill $WORKER 2>/dev/null || true' EXIT
fi
echo
echo "VetrAI Portal: http://127.0.0.1:${PORT}/  (log in with a demo login above)"
echo
if [ "${VETRAI_ENV:-development}" = production ]; then
  exec $BIN/gunicorn --bind "0.0.0.0:${PORT}" --workers "${WEB_CONCURRENCY:-2}" --threads 4 wsgi:app
fi
$BIN/flask run --host 127.0.0.1 --port "$PORT" --with-threads

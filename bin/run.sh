#!/usr/bin/env bash
# The main job on embedded defaults: migrate, an admin user, demo data through the real ingest
# path, schedules, then the web server and the django-q2 cluster together. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-true}"
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

$PY manage.py migrate --noinput -v0
$PY manage.py createcachetable
$PY manage.py ensure_admin
$PY manage.py load_demo_data
$PY manage.py setup_schedules

pids=()
stop() { trap - INT TERM EXIT; kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT
$PY manage.py qcluster &
pids+=($!)
if [ -n "${MQTT_URL:-}" ] && $PY manage.py help telemetry_subscribe >/dev/null 2>&1; then
  $PY manage.py telemetry_subscribe &
  pids+=($!)
fi
echo "Wattledger on http://$HOST:$PORT/ (Ctrl-C stops the site and its workers)"
$PY manage.py runserver --noreload "$HOST:$PORT" &
pids+=($!)
wait -n "${pids[@]}"

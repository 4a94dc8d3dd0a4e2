#!/usr/bin/env bash
# `make bench`: every bench/*.py (or the scripts named as arguments) against a dedicated
# PostgreSQL database, created and migrated here and dropped on exit. Each script prints a
# markdown table, kept in var/bench/<script>.md. PostgreSQL is found or started like
# bin/test.sh does (DATABASE_URL names the server to use; its database name is not touched);
# wrk is installed when missing.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=.venv/bin/python

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
need=()
[ -x /usr/lib/postgresql/*/bin/initdb ] 2>/dev/null || command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "error: could not install ${need[*]}" >&2; exit 1; }
fi

. bin/pg.sh
pg_start
SERVER="$PG_SERVER"
BENCH_DB="${BENCH_DB:-wattledger_bench_$PG_RUN_ID}"  # this run's own: two benches never collide
cleanup() {
  psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1
  pg_stop
}
trap cleanup EXIT

psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB" >/dev/null \
  || { echo "error: cannot create database $BENCH_DB on $SERVER" >&2; exit 1; }

export DATABASE_URL="$SERVER/$BENCH_DB"
export DEBUG=false SECRET_KEY=bench-secret-key-not-for-production-0123456789abcdef ALLOWED_HOSTS="*"
export SECURE_SSL_REDIRECT=false STATIC_MANIFEST=false LOG_LEVEL=WARNING
$PY manage.py migrate --noinput -v0 || exit 1
$PY manage.py collectstatic --noinput -v0 || exit 1

scripts=("$@")
if [ ${#scripts[@]} -eq 0 ]; then
  scripts=()
  for script in bench/*.py; do
    case "$(basename "$script")" in _*) ;; *) scripts+=("$script") ;; esac
  done
fi
mkdir -p var/bench
failed=()
for script in "${scripts[@]}"; do
  name=$(basename "$script" .py)
  echo "== $script" >&2
  if $PY "$script" | tee "var/bench/$name.md"; then
    echo
  else
    failed+=("$script")
  fi
done
echo "Tables: $ROOT/var/bench/*.md" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "error: failed: ${failed[*]}" >&2
  exit 1
fi

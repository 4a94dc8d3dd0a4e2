#!/usr/bin/env bash
# The whole suite against real parts: PostgreSQL, an S3 API server (moto, started by the
# tests), OpenSSH, GnuPG, Mosquitto, nginx (deploy site) and Debian's Chromium. Installs what is missing, starts
# what is not running, and stops what it started.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

need=()
command -v gpg >/dev/null || need+=(gnupg)
[ -x /usr/lib/postgresql/*/bin/initdb ] 2>/dev/null || command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v mosquitto >/dev/null || need+=(mosquitto)  # with mosquitto_passwd, for the password tests
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
{ command -v chromium >/dev/null || [ -x /usr/lib/chromium/chromium ]; } || need+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
command -v prometheus >/dev/null || need+=(prometheus)  # a real server scrapes /metrics in tests/ops/test_metrics.py
command -v redis-server >/dev/null || need+=(redis-server)  # the scale-out broker: two real qclusters on one Redis
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "error: could not install ${need[*]}" >&2; exit 1; }
fi

. bin/pg.sh
REDIS_PID=""
cleanup() {
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  pg_stop
}
trap cleanup EXIT
if [ -z "${DATABASE_URL:-}" ]; then
  pg_start
  # A name of this run's own: pytest-django creates test_<name> and drops it at the end, so two
  # runs on one machine never collide on the test database.
  export DATABASE_URL="$PG_SERVER/wattledger_$PG_RUN_ID"
fi

# Redis for the Redis-broker tests: the one on 6379 when it runs, else a throwaway one of ours
# (nothing kept on disk), stopped on exit.
if [ -z "${TEST_REDIS_URL:-}" ] && ! pg_port_open 6379; then
  REDIS_PORT=6390
  while pg_port_open "$REDIS_PORT"; do REDIS_PORT=$((REDIS_PORT + 1)); done
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  REDIS_PID=$!
  export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  for _ in $(seq 50); do pg_port_open "$REDIS_PORT" && break; sleep 0.1; done
fi

export DEBUG=false SECRET_KEY=test-secret-key-not-for-production-0123456789 ALLOWED_HOSTS="*"
export SECURE_SSL_REDIRECT=false STATIC_MANIFEST=false MEDIA_ROOT="$ROOT/var/test-media"
export DJANGO_ALLOW_ASYNC_UNSAFE=true
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python -m pytest "$@"
status=$?
exit $status

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
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "error: could not install ${need[*]}" >&2; exit 1; }
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

PGDIR=""
cleanup() {
  if [ -n "$PGDIR" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$PGDIR"
  fi
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  if port_open 5432; then
    PGPORT=5432
  else
    # No server running: a throwaway cluster on a high port, stopped on exit.
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    PGPORT=54329
    PGDIR=$(mktemp -d /tmp/wattledger-pg.XXXX)
    chown postgres: "$PGDIR"
    runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w start \
      -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off" >/dev/null
  fi
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/wattledger"
fi

export DEBUG=false SECRET_KEY=test-secret-key-not-for-production-0123456789 ALLOWED_HOSTS="*"
export SECURE_SSL_REDIRECT=false STATIC_MANIFEST=false MEDIA_ROOT="$ROOT/var/test-media"
export DJANGO_ALLOW_ASYNC_UNSAFE=true
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python -m pytest "$@"
status=$?
exit $status

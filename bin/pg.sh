# Sourced by bin/test.sh and bin/bench.sh: find a PostgreSQL server, or start a throwaway one.
# Sets PG_SERVER (a postgres:// URL without a database name) and PG_RUN_ID (unique to this run,
# for database names, so two runs on one machine never share one). `pg_stop` stops what
# pg_start started; the caller traps it on exit.

PG_RUN_ID="$(date +%s)_$$"
PG_DIR=""

pg_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_start() {
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_SERVER="${DATABASE_URL%/*}"
  elif pg_port_open 5432; then
    PG_SERVER="postgres://postgres@127.0.0.1:5432"
  else
    # No server running: a throwaway cluster on a free high port. initdb refuses root, so the
    # cluster runs as postgres.
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    local port=54329
    while pg_port_open "$port"; do port=$((port + 1)); done
    PG_DIR=$(mktemp -d /tmp/wattledger-pg.XXXX)
    chown postgres: "$PG_DIR"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
      -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off" >/dev/null
    PG_SERVER="postgres://postgres@127.0.0.1:$port"
  fi
}

pg_stop() {
  if [ -n "$PG_DIR" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
  fi
}

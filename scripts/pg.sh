#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1:${PLUGBOARD_PG_PORT:-54329} for the tests
# (installing the server if needed) and prints the URL to export as PLUGBOARD_TEST_PG.
# `scripts/pg.sh stop` stops it.
set -euo pipefail
port="${PLUGBOARD_PG_PORT:-54329}"
dir="${PLUGBOARD_PG_DIR:-/tmp/plugboard-pg}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

if [ "${1:-start}" = stop ]; then
  [ -n "$(bindir)" ] && as_root runuser -u postgres -- "$(bindir)/pg_ctl" -D "$dir" stop -m fast >/dev/null 2>&1 || true
  exit 0
fi

if [ -z "$(bindir)" ]; then
  echo "pg: installing PostgreSQL" >&2
  # Only the binaries are wanted: no default cluster started by the package.
  as_root mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
fi
bin="$(bindir)"

if ! as_root runuser -u postgres -- "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  as_root rm -rf "$dir"
  as_root mkdir -p "$dir"
  as_root chown postgres:postgres "$dir"
  as_root runuser -u postgres -- "$bin/initdb" -D "$dir" -A trust -U postgres >/dev/null
  # Tests only: durability off for speed; enough connections for parallel tests.
  as_root runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w start \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"

#!/usr/bin/env bash
# The PostgreSQL the test suite needs (tests/conftest.py, PG_ADMIN_URL): a server answering on
# 127.0.0.1:5432 that trusts local TCP connections, with a database "test". A server already
# answering there is used as it is; an installed one that is stopped is started; on a machine
# with none, Debian's `postgresql` package is installed and its cluster started.
# Safe to run again: a ready server is left as it is. `bash infra/bootstrap.sh --tests` runs it.
set -euo pipefail
HOST=127.0.0.1
PORT=5432
DATABASE=test
# Written above the first rule of pg_hba.conf (the first matching rule wins), marked so a second
# run recognises it.
TRUST_RULE="host all all $HOST/32 trust  # lcdp tests (infra/test-postgres.sh)"

say() { echo "test-postgres: $*"; }
die() { echo "test-postgres: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "needs root to run '$*' (run as root or install sudo)"
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 \
    || die "no apt-get to install $*: install PostgreSQL and make it answer on $HOST:$PORT (trust auth)"
  say "installing $* (apt-get)"
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# Bash's /dev/tcp: needs no PostgreSQL client, so it works before one is installed.
port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }
answers() { pg_isready -q -h "$HOST" -p "$PORT" -t 3; }
# -w: never prompt, so a server asking for a password fails here instead of hanging.
sql() { psql -X -w -q -h "$HOST" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -At "$@"; }
trusted() { sql -c 'SELECT 1' >/dev/null 2>&1; }

wait_ready() {
  for _ in $(seq 60); do
    answers && return 0
    sleep 0.5
  done
  die "PostgreSQL did not answer on $HOST:$PORT within 30 s after starting (see its log under /var/log/postgresql)"
}

installed() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; }

# Debian's cluster on our port: "<version> <name> <status>", or nothing.
cluster() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters --no-header 2>/dev/null | awk -v port="$PORT" '$3 == port { print $1, $2, $4; exit }'
}

start_server() {
  local version name status
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    command -v service >/dev/null 2>&1 \
      || die "PostgreSQL is installed without Debian's cluster tools and no 'service' to start it: start it on $HOST:$PORT"
    say "starting PostgreSQL (service postgresql start)"
    as_root service postgresql start >/dev/null || die "'service postgresql start' failed"
    return
  fi
  read -r version name status <<<"$(cluster)"
  if [ -z "${version:-}" ]; then
    if [ -n "$(pg_lsclusters --no-header 2>/dev/null)" ]; then
      die "no PostgreSQL cluster on port $PORT (pg_lsclusters lists others): move one to $PORT or create one with 'pg_createcluster <version> main --port $PORT'"
    fi
    version=$(basename "$(dirname "$(dirname "$(compgen -G "/usr/lib/postgresql/*/bin/postgres" | sort -V | tail -1)")")")
    name=main
    say "creating PostgreSQL $version cluster '$name' on port $PORT"
    as_root pg_createcluster "$version" "$name" --port "$PORT" >/dev/null \
      || die "pg_createcluster $version $name failed"
    status=down
  fi
  if [ "$status" != online ]; then
    say "starting PostgreSQL $version cluster '$name' (pg_ctlcluster)"
    as_root pg_ctlcluster "$version" "$name" start || die "'pg_ctlcluster $version $name start' failed"
  fi
}

# The server asks for a password: trust 127.0.0.1 in its pg_hba.conf, when it is this machine's.
trust_localhost() {
  local version name status hba
  read -r version name status <<<"$(cluster)"
  [ -n "${version:-}" ] \
    || die "PostgreSQL on $HOST:$PORT asks for a password and is no Debian cluster of this machine: give it the pg_hba.conf rule 'host all all $HOST/32 trust'"
  hba=/etc/postgresql/$version/$name/pg_hba.conf
  [ -f "$hba" ] || die "PostgreSQL $version cluster '$name' has no $hba to add trust auth for $HOST"
  if ! grep -qxF "$TRUST_RULE" "$hba"; then
    say "trusting local TCP connections ($hba)"
    as_root sed -i "1i $TRUST_RULE" "$hba"
  fi
  as_root pg_ctlcluster "$version" "$name" reload || die "'pg_ctlcluster $version $name reload' failed"
}

if ! port_open; then
  installed || apt_install postgresql
  start_server
fi
command -v psql >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1 || apt_install postgresql-client
wait_ready
if ! trusted; then
  trust_localhost
  trusted || die "PostgreSQL on $HOST:$PORT still refuses user postgres without a password (check pg_hba.conf: 'host all all $HOST/32 trust' must come first)"
fi
if [ "$(sql -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
  sql -c "CREATE DATABASE \"$DATABASE\"" || die "could not create database \"$DATABASE\""
  say "created database \"$DATABASE\""
fi
say "$(sql -c 'SHOW server_version' | cut -d' ' -f1) answers on $HOST:$PORT (trust auth), database \"$DATABASE\" ready"

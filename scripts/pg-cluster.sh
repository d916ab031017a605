#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback, for the tests and benchmarks.
#
#   eval "$(scripts/pg-cluster.sh start)"   # prints the exports below, starts the server
#   scripts/pg-cluster.sh stop "$MYPAY_TEST_PGDATA"
#   scripts/pg-cluster.sh pause "$MYPAY_TEST_PGDATA"    # stop the server, keep its files
#   scripts/pg-cluster.sh resume "$MYPAY_TEST_PGDATA"   # start it again
#
# start: initdb in a new temporary directory, as a non-root user (PostgreSQL refuses to
# run as root: when run as root the user `mypay-test` is created if missing), on a free
# loopback port, with trust authentication for that loopback only. It prints
#   export MYPAY_TEST_POSTGRES=postgres://USER@127.0.0.1:PORT
#   export MYPAY_TEST_PGDATA=DIR          (the cluster's files)
#   export MYPAY_TEST_PGBIN=DIR           (initdb, pg_ctl, pgbench)
# Durability as in production: fsync and synchronous_commit stay on.
set -euo pipefail

bindir() {
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  echo "no PostgreSQL server binaries (initdb) found; install Debian's postgresql" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

as_user() {
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    BIN=$(bindir)
    if [ "$(id -u)" = 0 ]; then
      USER_NAME=mypay-test
      id "$USER_NAME" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
    else
      USER_NAME=$(id -un)
    fi
    DIR=$(mktemp -d /tmp/mypay-pg.XXXXXX)
    chmod 755 "$DIR"
    [ "$(id -u)" = 0 ] && chown "$USER_NAME" "$DIR"
    as_user "$USER_NAME" "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
    PORT=$(free_port)
    cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 400
shared_buffers = 256MB
fsync = on
synchronous_commit = on
EOF
    as_user "$USER_NAME" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null \
      || { cat "$DIR/server.log" >&2; exit 1; }
    # The cluster's files are read by the card-data test, run by the invoking user.
    chmod -R a+rX "$DIR/data" 2>/dev/null || true
    echo "export MYPAY_TEST_POSTGRES=postgres://$USER_NAME@127.0.0.1:$PORT"
    echo "export MYPAY_TEST_PGDATA=$DIR/data"
    echo "export MYPAY_TEST_PGBIN=$BIN"
    ;;
  stop)
    DATA=${2:?the cluster directory}
    BIN=$(bindir)
    OWNER=$(stat -c %U "$DATA")
    as_user "$OWNER" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$(dirname "$DATA")"
    ;;
  pause)
    DATA=${2:?the cluster directory}
    BIN=$(bindir)
    as_user "$(stat -c %U "$DATA")" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    ;;
  resume)
    DATA=${2:?the cluster directory}
    BIN=$(bindir)
    # PostgreSQL checks its folder's mode when it starts: closed for the start, readable
    # again afterwards, as start leaves it.
    chmod 700 "$DATA"
    as_user "$(stat -c %U "$DATA")" "$BIN/pg_ctl" -D "$DATA" -l "$(dirname "$DATA")/server.log" -w -t 60 start >/dev/null
    chmod -R a+rX "$DATA" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start | stop DATA_DIR | pause DATA_DIR | resume DATA_DIR" >&2
    exit 2
    ;;
esac

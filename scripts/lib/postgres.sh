# A throwaway PostgreSQL cluster for scripts (scripts/fleet-demo.sh, Benchmarks): Debian's
# `postgresql` package, initdb and pg_ctl in a directory, on a random loopback port and a unix socket
# in that directory, trust authentication for the `postgres` superuser on loopback only.
# PostgreSQL refuses to run as root: as root the cluster runs as the system user `postgres` (or
# `nobody` without it) through runuser. The Swift tests' version is Tests/TestSupport/PostgresCluster.swift.
#
#   . scripts/lib/postgres.sh
#   pg_cluster_start DIR      # sets pg_port, pg_dir; starts the server
#   pg_createdb NAME          # prints postgresql://postgres@127.0.0.1:<port>/NAME
#   pg_cluster_restart [fast|immediate]
#   pg_cluster_stop           # stops it (immediate) and removes DIR

pg_bin() {
  local v
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then echo "/usr/lib/postgresql/$v/bin"; return 0; fi
  done
  echo "no PostgreSQL server under /usr/lib/postgresql/<version>/bin; run scripts/install-deps.sh" >&2
  return 1
}

# Runs a server program as the unprivileged user when we are root.
pg_as_user() {
  if [ "$(id -u)" = 0 ]; then
    local user=postgres
    getent passwd postgres >/dev/null || user=nobody
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

pg_cluster_start() {
  pg_dir=$1
  pg_binary_dir=$(pg_bin) || return 1
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$pg_dir"
  if [ "$(id -u)" = 0 ]; then
    local user=postgres
    getent passwd postgres >/dev/null || user=nobody
    chown "$user" "$pg_dir"
  fi
  pg_as_user "$pg_binary_dir/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$pg_dir/initdb.log" 2>&1 || {
    cat "$pg_dir/initdb.log" >&2; return 1; }
  cat >>"$pg_dir/data/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_dir'
max_connections = 100
${PG_EXTRA_SETTINGS:-}
CONF
  pg_as_user "$pg_binary_dir/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 start >/dev/null || {
    tail -20 "$pg_dir/server.log" >&2; return 1; }
}

pg_createdb() {
  "$pg_binary_dir/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$1"
  echo "postgresql://postgres@127.0.0.1:$pg_port/$1"
}

pg_cluster_restart() {
  pg_as_user "$pg_binary_dir/pg_ctl" -D "$pg_dir/data" -m "${1:-fast}" -w -t 60 stop >/dev/null
  pg_as_user "$pg_binary_dir/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 start >/dev/null
}

pg_cluster_stop() {
  [ -n "${pg_dir:-}" ] || return 0
  pg_as_user "$pg_binary_dir/pg_ctl" -D "$pg_dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}

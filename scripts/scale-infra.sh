#!/usr/bin/env bash
# Starts (or stops) the scaled infrastructure the tests also run on
# (docs/TESTING.md): a 3-master Redis Cluster and a PgBouncer in transaction
# pooling mode in front of the PostgreSQL on 127.0.0.1:5432.
#
#   scripts/scale-infra.sh start DIR   # prints the variables to export
#   scripts/scale-infra.sh stop DIR
#
# DIR must not exist yet or be empty (a fresh one every run: a nodes.conf
# left by an earlier run would make the nodes rejoin an old cluster); stop
# removes it. Ports:
# SCALE_REDIS_PORT (first of three, default 7000; each also uses its port
# + 10000 for the cluster bus) and SCALE_PGBOUNCER_PORT (default 6432).
# PostgreSQL must accept user postgres from 127.0.0.1 without a password,
# as in CI.
set -Eeuo pipefail

cmd=${1:?usage: scale-infra.sh start|stop DIR}
dir=${2:?usage: scale-infra.sh start|stop DIR}
redis_port=${SCALE_REDIS_PORT:-7000}
bouncer_port=${SCALE_PGBOUNCER_PORT:-6432}
pg_host=${SCALE_PG_HOST:-127.0.0.1}
pg_port=${SCALE_PG_PORT:-5432}
ports=("$redis_port" "$((redis_port + 1))" "$((redis_port + 2))")

# stop ends what start put in dir, whatever ports it used.
stop() {
  for f in "$dir"/redis-*/scale-infra-redis.pid "$dir/pgbouncer/pgbouncer.pid"; do
    [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null
  done
  true
  # Let them exit before the directory goes.
  for _ in $(seq 1 20); do
    alive=0
    for f in "$dir"/redis-*/scale-infra-redis.pid "$dir/pgbouncer/pgbouncer.pid"; do
      [ -f "$f" ] && kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  rm -rf "$dir"
}

wait_for() { # description, then a command that succeeds when ready
  local what=$1
  shift
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "scale-infra: $what not ready" >&2
  return 1
}

start_redis_cluster() {
  local addrs=()
  for p in "${ports[@]}"; do
    mkdir -p "$dir/redis-$p"
    redis-server --port "$p" --bind 127.0.0.1 --dir "$dir/redis-$p" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --save "" --appendonly no --daemonize yes \
      --pidfile "$dir/redis-$p/scale-infra-redis.pid" --logfile "$dir/redis-$p/redis.log"
    addrs+=("127.0.0.1:$p")
  done
  for p in "${ports[@]}"; do
    wait_for "redis on $p" redis-cli -h 127.0.0.1 -p "$p" ping
    # A node that still knows slots is not the fresh node this run started.
    if [ "$(redis-cli -h 127.0.0.1 -p "$p" cluster info | tr -d '\r' | sed -n 's/^cluster_slots_assigned://p')" != "0" ]; then
      echo "scale-infra: redis on port $p is not a fresh node (left over from another run?)" >&2
      return 1
    fi
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log" 2>&1 || {
    cat "$dir/cluster-create.log" >&2
    return 1
  }
  for p in "${ports[@]}"; do
    wait_for "redis cluster state on $p" sh -c "redis-cli -h 127.0.0.1 -p $p cluster info | grep -q cluster_state:ok"
  done
  (
    IFS=,
    echo "INBOUND_TEST_REDIS_CLUSTER_ADDRS=${addrs[*]}"
  )
}

start_pgbouncer() {
  mkdir -p "$dir/pgbouncer"
  printf '"postgres" ""\n' >"$dir/pgbouncer/userlist.txt"
  cat >"$dir/pgbouncer/scale-infra-pgbouncer.ini" <<EOF
[databases]
* = host=$pg_host port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $dir/pgbouncer/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
max_db_connections = 20
server_idle_timeout = 10
server_reset_query =
ignore_startup_parameters = extra_float_digits,search_path
logfile = $dir/pgbouncer/pgbouncer.log
pidfile = $dir/pgbouncer/pgbouncer.pid
EOF
  # PgBouncer refuses to run as root: as root, it switches to the
  # postgres user (which the PostgreSQL package creates).
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir/pgbouncer"
    chmod o+x "$dir"
    as=(-u postgres)
  fi
  pgbouncer -d "${as[@]}" "$dir/pgbouncer/scale-infra-pgbouncer.ini"
  wait_for "pgbouncer on $bouncer_port" psql "postgres://postgres@127.0.0.1:$bouncer_port/postgres?sslmode=disable" -qAtc "SELECT 1"
  echo "INBOUND_TEST_PGBOUNCER_URL=postgres://postgres@127.0.0.1:$bouncer_port/postgres?sslmode=disable&default_query_exec_mode=exec"
}

# reap_leftovers stops what an earlier run of this script left on our ports
# (a run killed before its cleanup): a Redis whose pid file is a
# scale-infra-redis.pid, a PgBouncer started from a
# scale-infra-pgbouncer.ini. Anything else on those ports is someone
# else's: an error.
reap_leftovers() {
  for p in "${ports[@]}"; do
    redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 || continue
    local pidfile
    pidfile=$(redis-cli -h 127.0.0.1 -p "$p" config get pidfile 2>/dev/null | sed -n 2p)
    if [[ $pidfile != */scale-infra-redis.pid ]]; then
      echo "scale-infra: port $p is taken by another Redis; set SCALE_REDIS_PORT" >&2
      return 1
    fi
    echo "scale-infra: stopping the Redis an earlier run left on port $p" >&2
    redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  local pid
  pid=$(ss -ltnpH "sport = :$bouncer_port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  if [ -n "$pid" ]; then
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'scale-infra-pgbouncer.ini'; then
      echo "scale-infra: port $bouncer_port is taken (pid $pid); set SCALE_PGBOUNCER_PORT" >&2
      return 1
    fi
    echo "scale-infra: stopping the PgBouncer an earlier run left on port $bouncer_port" >&2
    kill "$pid"
  fi
  for p in "${ports[@]}" "$bouncer_port"; do
    wait_for "port $p to be free" sh -c "! ss -ltnH 'sport = :$p' | grep -q ."
  done
}

case $cmd in
start)
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "scale-infra: $dir is not empty; give a fresh directory" >&2
    exit 1
  fi
  reap_leftovers
  mkdir -p "$dir"
  trap 'stop' ERR
  start_redis_cluster
  start_pgbouncer
  ;;
stop) stop ;;
*)
  echo "usage: scale-infra.sh start|stop DIR" >&2
  exit 2
  ;;
esac

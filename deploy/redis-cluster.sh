#!/usr/bin/env bash
# A local Redis Cluster on loopback: 6 redis-server nodes in cluster mode, 3 primaries and 3 replicas.
# For the tests and benches that run against a cluster (REDIS_CLUSTER_URL) and for trying it out.
#
#   deploy/redis-cluster.sh start     start the nodes (or the missing ones) and form the cluster; prints its URL
#   deploy/redis-cluster.sh stop      stop every node and remove their files
#   deploy/redis-cluster.sh status    the nodes and their roles, as the cluster sees them
#
# REDIS_CLUSTER_PORT (7100) is the first node's port; the others follow it. REDIS_CLUSTER_DIR
# (/tmp/podium-redis-cluster-<first port>) holds each node's cluster state, log and pid file. Like the
# machine's own Redis, the nodes keep no data on disk; a failed primary's replica takes over its slots
# after REDIS_CLUSTER_NODE_TIMEOUT ms (2000). A stopped primary must not come back on its own: restarted
# empty before its replica took over, it would still own its slots, with none of their keys.
set -euo pipefail

FIRST_PORT=${REDIS_CLUSTER_PORT:-7100}
NODES=6
REPLICAS=1
NODE_TIMEOUT=${REDIS_CLUSTER_NODE_TIMEOUT:-2000}
DIR=${REDIS_CLUSTER_DIR:-/tmp/podium-redis-cluster-$FIRST_PORT}

ports() { seq "$FIRST_PORT" $((FIRST_PORT + NODES - 1)); }

answers() { redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1; }

start_node() {
  local port=$1 node="$DIR/$1"
  mkdir -p "$node"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$node" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT" \
    --save "" --appendonly no --logfile "$node/redis.log" --pidfile "$node/redis.pid"
}

cluster_ok() { redis-cli -h 127.0.0.1 -p "$FIRST_PORT" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start() {
  command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }
  for port in $(ports); do
    answers "$port" || start_node "$port"
  done
  for port in $(ports); do
    for _ in $(seq 1 50); do answers "$port" && break; sleep 0.1; done
    answers "$port" || { echo "node $port did not start; see $DIR/$port/redis.log" >&2; exit 1; }
  done
  if [ "$(redis-cli -h 127.0.0.1 -p "$FIRST_PORT" cluster info | grep -c '^cluster_slots_assigned:16384')" = 0 ]; then
    local addresses=()
    for port in $(ports); do addresses+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas "$REPLICAS" --cluster-yes >"$DIR/create.log" 2>&1 \
      || { cat "$DIR/create.log" >&2; exit 1; }
  fi
  for _ in $(seq 1 100); do
    cluster_ok && [ "$(replicas_in_sync)" = $((NODES / (REPLICAS + 1))) ] && { echo "redis://127.0.0.1:$FIRST_PORT/0"; return 0; }
    sleep 0.1
  done
  echo "the cluster did not come up: $(redis-cli -h 127.0.0.1 -p "$FIRST_PORT" cluster info | head -1)" >&2
  exit 1
}

# How many primaries have a replica that is connected and in sync.
replicas_in_sync() {
  local count=0
  for port in $(ports); do
    if redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null | grep -q '^role:slave'; then
      redis-cli -h 127.0.0.1 -p "$port" info replication | grep -q '^master_link_status:up' && count=$((count + 1))
    fi
  done
  echo "$count"
}

stop() {
  for port in $(ports); do
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  for port in $(ports); do
    for _ in $(seq 1 50); do answers "$port" || break; sleep 0.1; done
  done
  rm -rf "$DIR"
}

status() {
  redis-cli -h 127.0.0.1 -p "$FIRST_PORT" cluster nodes
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

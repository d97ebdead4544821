#!/usr/bin/env bash
# Starts or stops the local 3-node cluster of config/cluster/node{1,2,3}.toml: client ports
# 7001-7003, Raft ports 7101-7103, data and logs under target/cluster/.
#   scripts/cluster.sh up    builds release, starts the nodes in the background, returns once
#                            every node's CLUSTER INFO says cluster_state:ok
#                            (SHARDIS_BIN=path uses that binary instead of building one)
#   scripts/cluster.sh down  stops them (SIGTERM, then SIGKILL after 5 s)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=target/cluster
BIN=${SHARDIS_BIN:-./target/release/shardis}

up() {
  if [ -z "${SHARDIS_BIN:-}" ]; then cargo build --release -p shardis; fi
  mkdir -p "$DIR"
  for i in 1 2 3; do
    if [ -f "$DIR/node$i.pid" ] && kill -0 "$(cat "$DIR/node$i.pid")" 2>/dev/null; then
      echo "node $i already running (pid $(cat "$DIR/node$i.pid"))"
      continue
    fi
    "$BIN" --config "config/cluster/node$i.toml" >>"$DIR/node$i.log" 2>&1 &
    echo $! >"$DIR/node$i.pid"
  done
  for _ in $(seq 300); do
    ready=1
    for port in 7001 7002 7003; do
      info=$(redis-cli -p "$port" cluster info 2>/dev/null || true)
      grep -q '^cluster_state:ok' <<<"$info" || ready=0
    done
    if [ "$ready" -eq 1 ]; then
      echo "cluster up: 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 (logs in $DIR)"
      return 0
    fi
    sleep 0.1
  done
  echo "cluster did not become ready; see $DIR/node*.log" >&2
  return 1
}

down() {
  for i in 1 2 3; do
    f="$DIR/node$i.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  echo "cluster down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

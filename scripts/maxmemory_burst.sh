#!/usr/bin/env bash
# A write burst under maxmemory, Shardis and redis-server side by side (docs/benchmarks.md):
# 300 MB of 1000-byte values on random keys into a 64 MB limit; prints each server's peak RSS,
# memory fields, evictions and keys kept. Usage: scripts/maxmemory_burst.sh [policy]
# Needs a release build (make release), redis-server and redis-benchmark.
set -euo pipefail
policy=${1:-allkeys-lru}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
for port in 6600 6601; do
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    echo "port $port is taken: stop what listens there first" >&2
    exit 1
  fi
done
trap 'redis-cli -p 6600 shutdown nosave >/dev/null 2>&1 || true;
      redis-cli -p 6601 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$root/target/release/shardis" --port 6600 --maxmemory 64mb --maxmemory-policy "$policy" \
  --data-dir "$work/data" >"$work/log" 2>&1 &
redis-server --port 6601 --maxmemory 64mb --maxmemory-policy "$policy" --save '' \
  --appendonly no --daemonize yes >/dev/null
sleep 2
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | grep "^$3:" | cut -d: -f2; }
for port in 6600 6601; do
  redis-benchmark -p "$port" -t set -n 300000 -r 10000000 -d 1000 -P 16 -c 50 -q \
    >/dev/null 2>&1 &
  bench=$!
  peak=0
  while kill -0 "$bench" 2>/dev/null; do
    rss=$(field "$port" memory used_memory_rss)
    (( rss > peak )) && peak=$rss
    sleep 0.05
  done
  name=$([ "$port" = 6600 ] && echo shardis || echo redis-server)
  echo "$name: peak_rss=$peak used_memory=$(field "$port" memory used_memory)" \
    "not_counted=$(field "$port" memory mem_not_counted_for_evict)" \
    "evicted=$(field "$port" stats evicted_keys) keys=$(redis-cli -p "$port" dbsize)"
done
sleep 5
echo "shardis 5 s later: rss=$(field 6600 memory used_memory_rss) keys=$(redis-cli -p 6600 dbsize)"

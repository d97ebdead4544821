#!/usr/bin/env bash
# Runs Shardis and redis-server side by side under the same redis-benchmark load and prints one
# table of throughput ratios, latencies and server CPU per request (user + system time of the
# server processes during the run, in µs per request; "cpu x" = shardis/redis), then memory per
# element (RSS 5 s and 15 s after the load, and used_memory) for 1M strings of 100 bytes, 100k
# hashes of 10 fields, 100k sets of 10 integers, 100k sorted sets of 10 members and one list of
# 1M elements, each in fresh processes.
#
# Then the same for a local 3-node cluster (redis-benchmark --cluster, SET and GET) beside a single
# redis-server in the same run.
#
# Environment: BENCH_N (requests per test, default 1000000), BENCH_TESTS (default set,get,incr,mset),
# BENCH_PIPELINES (default "1 16"), BENCH_CLIENTS (default 50), BENCH_MEMORY_KEYS (default 1000000),
# BENCH_ROUNDS (default 3: each load runs that many times, alternating servers; medians are shown,
# because the machine is shared and a single run can be off by 30% either way), BENCH_CLUSTER
# (default 1; 0 skips the 3-node rows), BENCH_CLUSTER_PIPELINES (default "1 16"), BENCH_CLUSTER_TESTS
# (default set,get; e.g. the collection tests lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100),
# BENCH_CLUSTER_THREADS (worker threads of each cluster node; empty = the node's default, one per
# core). BENCH_MEMORY_KEYS=0 skips the memory figures. BENCH_CACHE=0 skips the cache-quality
# table; BENCH_CACHE_KEYS (default 10000000), BENCH_CACHE_MAXMEMORY (default 64mb) and
# BENCH_CACHE_SECONDS (default 30) shape it. BENCH_TX_PIPELINES (default "1 16"; empty skips it)
# and BENCH_TX_N (default 200000) shape the transactions table (tx_bench: MULTI, 5 commands on
# one hash tag, EXEC; 50 clients).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_N:-1000000}
TESTS=${BENCH_TESTS:-set,get,incr,mset}
PIPELINES=${BENCH_PIPELINES-"1 16"}
CLIENTS=${BENCH_CLIENTS:-50}
MEM_KEYS=${BENCH_MEMORY_KEYS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
CLUSTER=${BENCH_CLUSTER:-1}
CLUSTER_PIPELINES=${BENCH_CLUSTER_PIPELINES-"1 16"}
CLUSTER_TESTS=${BENCH_CLUSTER_TESTS:-set,get}
CLUSTER_THREADS=${BENCH_CLUSTER_THREADS:-}
CACHE=${BENCH_CACHE:-1}
CACHE_KEYS=${BENCH_CACHE_KEYS:-10000000}
CACHE_MAXMEMORY=${BENCH_CACHE_MAXMEMORY:-64mb}
CACHE_SECONDS=${BENCH_CACHE_SECONDS:-30}
TX_PIPELINES=${BENCH_TX_PIPELINES-"1 16"}
TX_N=${BENCH_TX_N:-200000}
SHARDIS=${SHARDIS_BIN:-./target/release/shardis}
[ -x "$SHARDIS" ] || cargo build --release -p shardis

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ping() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; return 1; }
# Ready for commands: answering PING, and done loading (a starting Shardis answers -LOADING to
# the rest until every group has a leader).
wait_ready() {
  wait_ping "$1"
  for _ in $(seq 100); do
    redis-cli -p "$1" info persistence 2>/dev/null | grep -q '^loading:0' && return 0
    sleep 0.1
  done
  echo "server on $1 still loading" >&2; return 1
}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  status=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "bench failed (exit $status); server logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

RPORT=$(free_port); SPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
RPID=$!; PIDS+=("$RPID")
"$SHARDIS" --port "$SPORT" --bind 127.0.0.1 --log-level warn --data-dir "$WORK/shardis-data" >"$WORK/shardis.log" 2>&1 &
SPID=$!; PIDS+=("$SPID")
wait_ready "$RPORT"; wait_ready "$SPORT"

echo "# make bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(redis-server --version | cut -d' ' -f3), shardis $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# redis-benchmark -t $TESTS -n $N -r 1000000 -d 64 -c $CLIENTS -P <pipeline>; median of $ROUNDS alternating rounds; ops/s, ratio = shardis/redis, latencies in ms, cpu = server CPU µs per request"
echo
printf '| %-6s | %2s | %12s | %12s | %6s | %9s | %9s | %9s | %9s | %9s | %9s | %6s |\n' test P "redis ops/s" "shardis ops/s" ratio "redis p50" "shard p50" "redis p99" "shard p99" "redis cpu" "shard cpu" "cpu x"
printf '|--------|----|--------------|--------------|--------|-----------|-----------|-----------|-----------|-----------|-----------|--------|\n'
# Server CPU (user + system) in clock ticks, summed over the given pids.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
summarize() { # redis.csv other.csv pipeline -> table rows (ops/s, latencies, server CPU µs per request)
  python3 - "$1" "$2" "$3" "$N" "$CLK_TCK" <<'PY'
import csv, statistics, sys
def load(path):
    out = {}
    for row in csv.reader(open(path)):
        if len(row) >= 7:
            cpu = float(row[8]) if len(row) >= 9 else float("nan")
            out.setdefault(row[0].split()[0], []).append((float(row[1]), float(row[4]), float(row[6]), cpu))
    return out
def med(runs, i):
    return statistics.median(r[i] for r in runs)
r, s, p = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
n, tck = int(sys.argv[4]), int(sys.argv[5])
us = lambda ticks: ticks / tck * 1e6 / n
for test in r:
    if test not in s:
        continue
    rr, sr = med(r[test], 0), med(s[test], 0)
    rc, sc = us(med(r[test], 3)), us(med(s[test], 3))
    print(f"| {test:<6} | {p:>2} | {rr:>12.0f} | {sr:>12.0f} | {sr / rr:>5.2f}x | {med(r[test], 1):>9.3f} | {med(s[test], 1):>9.3f} | {med(r[test], 2):>9.3f} | {med(s[test], 2):>9.3f} | {rc:>9.2f} | {sc:>9.2f} | {sc / rc if rc else float('nan'):>5.2f}x |")
PY
}
# One redis-benchmark run per test against "$1" (its target flags), with the CPU the server
# processes (the pids after the third argument) spent during it.
run_bench() { # target pipeline tests pid... -> csv lines: "TEST",rps,avg,min,p50,p95,p99,max,"cpu ticks"
  local target=$1 pipeline=$2 tests=$3 t before out; shift 3
  for t in ${tests//,/ }; do
    before=$(cpu_ticks "$@")
    # shellcheck disable=SC2086 # the target is several flags
    out=$(redis-benchmark $target -t "$t" -n "$N" -r 1000000 -d 64 -c "$CLIENTS" -P "$pipeline" --csv -q 2>/dev/null | grep -v '^"test"' | tr -d '\r' || true)
    if [ -n "$out" ]; then printf '%s,"%s"\n' "$out" "$(( $(cpu_ticks "$@") - before ))"; fi
  done
}
for P in ${PIPELINES}; do
  : >"$WORK/r.csv"; : >"$WORK/s.csv"
  for _ in $(seq "$ROUNDS"); do
    redis-cli -p "$RPORT" flushall >/dev/null; redis-cli -p "$SPORT" flushall >/dev/null
    run_bench "-h 127.0.0.1 -p $RPORT" "$P" "$TESTS" "$RPID" >>"$WORK/r.csv"
    run_bench "-h 127.0.0.1 -p $SPORT" "$P" "$TESTS" "$SPID" >>"$WORK/s.csv"
  done
  summarize "$WORK/r.csv" "$WORK/s.csv" "$P"
done

# Transactions: tx_bench (MULTI, SET, INCR, GET, HSET, DEL on one hash tag, EXEC) against both
# servers, rounds alternating; transactions per second and server CPU per transaction, medians.
if [ -n "$TX_PIPELINES" ]; then
  [ -x ./target/release/tx_bench ] || cargo build --release -p cluster-tests --bin tx_bench
  echo
  echo "# scripts and transactions, $TX_N per run, 50 clients, median of $ROUNDS alternating rounds: evalsha = redis-benchmark EVALSHA of redis.call('INCR', KEYS[1]) on 1M keys; multi = tx_bench, MULTI + SET/INCR/GET/HSET/DEL on one of 1M hash tags + EXEC; per second, cpu = server CPU µs per script or transaction"
  echo
  printf '| %-7s | %2s | %10s | %12s | %6s | %9s | %9s | %6s |\n' test P "redis /s" "shardis /s" ratio "redis cpu" "shard cpu" "cpu x"
  printf '|---------|----|------------|--------------|--------|-----------|-----------|--------|\n'
  tx_run() { # port pipeline pid -> "tx/s cpu-ticks"
    local before out
    before=$(cpu_ticks "$3")
    out=$(./target/release/tx_bench --port "$1" --pipeline "$2" --transactions "$TX_N" --clients "$CLIENTS")
    echo "$(sed -n 's/.*transactions_per_sec=\([0-9]*\).*/\1/p' <<<"$out") $(( $(cpu_ticks "$3") - before ))"
  }
  # A script: EVALSHA of redis.call('INCR', KEYS[1]) over 1M keys, with redis-benchmark.
  INCR_SHA=$(redis-cli -p "$RPORT" script load "return redis.call('INCR', KEYS[1])")
  redis-cli -p "$SPORT" script load "return redis.call('INCR', KEYS[1])" >/dev/null
  evalsha_run() { # port pipeline pid -> "ops/s cpu-ticks"
    local before out
    before=$(cpu_ticks "$3")
    out=$(redis-benchmark -h 127.0.0.1 -p "$1" -n "$TX_N" -r 1000000 -c "$CLIENTS" -P "$2" --csv -q EVALSHA "$INCR_SHA" 1 'key:__rand_int__' 2>/dev/null | grep -v '^"test"' | tr -d '\r' || true)
    echo "$(cut -d, -f2 <<<"$out" | tr -d '"' | cut -d. -f1) $(( $(cpu_ticks "$3") - before ))"
  }
  # side_by_side NAME RUNNER [flush]: RUNNER (port pipeline pid -> "per-second cpu-ticks") against
  # both servers, rounds alternating; one row of medians per pipeline.
  side_by_side() {
    local name=$1 runner=$2 flush=${3:-} P
    for P in ${TX_PIPELINES}; do
      rr=(); ss=()
      for _ in $(seq "$ROUNDS"); do
        if [ -n "$flush" ]; then redis-cli -p "$RPORT" flushall >/dev/null; redis-cli -p "$SPORT" flushall >/dev/null; fi
        rr+=("$("$runner" "$RPORT" "$P" "$RPID")"); ss+=("$("$runner" "$SPORT" "$P" "$SPID")")
      done
      python3 - "$P" "$TX_N" "$(getconf CLK_TCK)" "${rr[*]}" "${ss[*]}" "$name" <<'PY'
import statistics, sys
p, n, hz, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[6]
def runs(text):
    v = list(map(int, text.split()))
    return v[0::2], v[1::2]
(rt, rc), (st, sc) = runs(sys.argv[4]), runs(sys.argv[5])
med = statistics.median
us = lambda ticks: ticks / hz * 1e6 / n
r, s = med(rt), med(st)
print(f"| {name} | {p:>2} | {r:>10.0f} | {s:>12.0f} | {s / r:>5.2f}x | {us(med(rc)):>9.2f} | {us(med(sc)):>9.2f} | {us(med(sc)) / us(med(rc)):>5.2f}x |")
PY
    done
  }
  side_by_side evalsha evalsha_run
  side_by_side "multi  " tx_run flush
fi

if [ "$CLUSTER" = 1 ] && [ -n "$CLUSTER_PIPELINES" ]; then
  # A 3-node cluster on free ports, every node a replica of every shard, data under $WORK.
  CPORTS=(); CPIDS=(); NODES=""
  for i in 1 2 3; do
    c=$(free_port); r=$(free_port); CPORTS+=("$c")
    NODES+="[[nodes]]"$'\n'"id = $i"$'\n'"client-addr = \"127.0.0.1:$c\""$'\n'"raft-addr = \"127.0.0.1:$r\""$'\n\n'
  done
  for i in 1 2 3; do
    printf 'node-id = %s\nbind = "127.0.0.1"\nport = %s\ndata-dir = "%s"\nlog-level = "warn"\nreplicas = 3\n%s%s' \
      "$i" "${CPORTS[$((i-1))]}" "$WORK/cluster$i" "${CLUSTER_THREADS:+threads = $CLUSTER_THREADS$'\n'}" "$NODES" >"$WORK/node$i.toml"
    "$SHARDIS" --config "$WORK/node$i.toml" >"$WORK/node$i.log" 2>&1 &
    PIDS+=("$!"); CPIDS+=("$!")
  done
  # Ready once every node says cluster_state:ok and leaders are spread over the three nodes.
  for _ in $(seq 300); do
    ok=0
    for c in "${CPORTS[@]}"; do redis-cli -p "$c" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && ok=$((ok+1)); done
    masters=$(redis-cli -p "${CPORTS[0]}" cluster nodes 2>/dev/null | grep -c ' master ' || true)
    [ "$ok" -eq 3 ] && [ "$masters" -eq 3 ] && break
    sleep 0.2
  done
  echo
  echo "# 3-node cluster on this machine (3 replicas per shard, leaders spread): redis-benchmark --cluster -t $CLUSTER_TESTS, same load; ratio = cluster/redis"
  echo
  printf '| %-6s | %2s | %12s | %12s | %6s | %9s | %9s | %9s | %9s | %9s | %9s | %6s |\n' test P "redis ops/s" "cluster ops/s" ratio "redis p50" "clust p50" "redis p99" "clust p99" "redis cpu" "clust cpu" "cpu x"
  printf '|--------|----|--------------|--------------|--------|-----------|-----------|-----------|-----------|-----------|-----------|--------|\n'
  for P in ${CLUSTER_PIPELINES}; do
    : >"$WORK/r.csv"; : >"$WORK/c.csv"
    for _ in $(seq "$ROUNDS"); do
      redis-cli -p "$RPORT" flushall >/dev/null
      run_bench "-h 127.0.0.1 -p $RPORT" "$P" "$CLUSTER_TESTS" "$RPID" >>"$WORK/r.csv"
      run_bench "--cluster -h 127.0.0.1 -p ${CPORTS[0]}" "$P" "$CLUSTER_TESTS" "${CPIDS[@]}" >>"$WORK/c.csv"
    done
    summarize "$WORK/r.csv" "$WORK/c.csv" "$P"
  done
  kill "${CPIDS[@]}" 2>/dev/null || true
  wait "${CPIDS[@]}" 2>/dev/null || true
fi

# Fresh servers for each data set and cache run (what earlier runs allocated must not count).
rss() { awk '/VmRSS/ {printf "%d\n", $2 * 1024}' "/proc/$1/status"; }
used() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {gsub("\r",""); print $2}'; }
fresh_servers() {
  kill "$RPID" "$SPID" 2>/dev/null || true
  wait "$RPID" "$SPID" 2>/dev/null || true
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >>"$WORK/redis.log" 2>&1 &
  RPID=$!; PIDS+=("$RPID")
  rm -rf "$WORK/shardis-data"
  "$SHARDIS" --port "$SPORT" --bind 127.0.0.1 --log-level warn --data-dir "$WORK/shardis-data" >>"$WORK/shardis.log" 2>&1 &
  SPID=$!; PIDS+=("$SPID")
  wait_ready "$RPORT"; wait_ready "$SPORT"
}
# Cache quality: a cache-aside load (cache_quality: GETs of Zipf-distributed keys, each miss
# written back with SET) against fresh servers with the same maxmemory and policy; the hit ratio
# and commands per second of the measured second half of each run, and Shardis without a limit
# for the throughput ratio under eviction.
if [ "$CACHE" -gt 0 ]; then
  [ -x ./target/release/cache_quality ] || cargo build --release -p cluster-tests --bin cache_quality
  cache_run() { ./target/release/cache_quality --port "$1" --keys "$CACHE_KEYS" --s 0.99 --value 100 --seconds "$CACHE_SECONDS"; }
  field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
  echo
  echo "# cache quality: $CACHE_KEYS keys, Zipf s=0.99, 100-byte values, maxmemory $CACHE_MAXMEMORY, $CACHE_SECONDS s per run (second half measured), 16 clients x pipeline 16"
  echo
  printf '| %-12s | %9s | %9s | %12s | %12s | %12s | %7s |\n' policy "redis hit" "shardis hit" "redis cmd/s" "shardis cmd/s" "unlimited" "evict x"
  printf '|--------------|-----------|-------------|--------------|---------------|--------------|---------|\n'
  for policy in allkeys-lru allkeys-lfu; do
    fresh_servers
    for port in "$RPORT" "$SPORT"; do
      redis-cli -p "$port" config set maxmemory "$CACHE_MAXMEMORY" >/dev/null
      redis-cli -p "$port" config set maxmemory-policy "$policy" >/dev/null
    done
    r=$(cache_run "$RPORT"); s=$(cache_run "$SPORT")
    fresh_servers
    u=$(cache_run "$SPORT")
    printf '| %-12s | %9s | %11s | %12s | %13s | %12s | %7s |\n' "$policy" \
      "$(field hit_ratio "$r")" "$(field hit_ratio "$s")" \
      "$(field commands_per_sec "$r")" "$(field commands_per_sec "$s")" "$(field commands_per_sec "$u")" \
      "$(python3 -c "print(f'{$(field commands_per_sec "$s")/max(1,$(field commands_per_sec "$u")):.2f}x')")"
  done
fi

[ "$MEM_KEYS" -gt 0 ] || exit 0
# Memory: each data set loaded into fresh processes (what the throughput runs, or the data set
# before, allocated and freed must not count), for either server.
# memory_row LABEL FILE ELEMENTS: loads FILE (RESP) into fresh servers; RSS and used_memory per
# element, read 5 s and 15 s after the load (jemalloc hands freed pages back over about 10 s).
memory_row() {
  local label=$1 file=$2 elements=$3
  fresh_servers
  local -A per later upers
  for entry in "redis:$RPORT:$RPID" "shardis:$SPORT:$SPID"; do
    IFS=: read -r name port pid <<<"$entry"
    sleep 1
    local before ubefore after uafter lat
    before=$(rss "$pid"); ubefore=$(used "$port")
    redis-cli -p "$port" --pipe <"$file" >/dev/null
    sleep 5
    after=$(rss "$pid"); uafter=$(used "$port")
    sleep 10
    lat=$(rss "$pid")
    per[$name]=$(( (after - before) / elements )); later[$name]=$(( (lat - before) / elements ))
    upers[$name]=$(( (uafter - ubefore) / elements ))
  done
  printf '| %-28s | %9s B | %9s B | %5s | %9s B | %9s B | %5s | %9s B | %9s B |\n' "$label" \
    "${per[redis]}" "${per[shardis]}" \
    "$(python3 -c "print(f'{$((${per[shardis]}))/max(1,$((${per[redis]}))):.2f}x')")" \
    "${later[redis]}" "${later[shardis]}" \
    "$(python3 -c "print(f'{$((${later[shardis]}))/max(1,$((${later[redis]}))):.2f}x')")" \
    "${upers[redis]}" "${upers[shardis]}"
}
python3 - "$MEM_KEYS" "$WORK" <<'PY'
import sys
n = int(sys.argv[1]); work = sys.argv[2]
def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
with open(f"{work}/strings.resp", "wb") as f:
    for i in range(n):
        f.write(cmd(b"SET", b"key:%010d" % i, b"v" * 100))
with open(f"{work}/hashes.resp", "wb") as f:
    for i in range(n // 10):
        args = [b"HSET", b"hash:%010d" % i]
        for j in range(10):
            args += [b"field:%d" % j, b"value-%d" % (i * 10 + j)]
        f.write(cmd(*args))
with open(f"{work}/sets.resp", "wb") as f:
    for i in range(n // 10):
        f.write(cmd(b"SADD", b"set:%010d" % i, *[b"%d" % (i * 10 + j) for j in range(10)]))
with open(f"{work}/list.resp", "wb") as f:
    for i in range(0, n, 1000):
        f.write(cmd(b"RPUSH", b"list", *[b"element-%d" % j for j in range(i, min(n, i + 1000))]))
with open(f"{work}/zsets.resp", "wb") as f:
    for i in range(n // 10):
        args = [b"ZADD", b"zset:%010d" % i]
        for j in range(10):
            args += [b"%d" % j, b"member-%d" % (i * 10 + j)]
        f.write(cmd(*args))
PY
echo
echo "# memory per element: fresh servers per data set; RSS growth read 5 s and 15 s after the load, and used_memory growth"
printf '| %-28s | %11s | %11s | %5s | %11s | %11s | %5s | %11s | %11s |\n' "data set (element)" "redis RSS" "shardis RSS" "x" "redis 15 s" "shardis 15s" "x" "redis used" "shardis used"
printf '|------------------------------|-------------|-------------|-------|-------------|-------------|-------|-------------|-------------|\n'
memory_row "$MEM_KEYS strings of 100 B (key)" "$WORK/strings.resp" "$MEM_KEYS"
memory_row "$((MEM_KEYS / 10)) hashes of 10 fields (field)" "$WORK/hashes.resp" "$MEM_KEYS"
memory_row "$((MEM_KEYS / 10)) sets of 10 integers (member)" "$WORK/sets.resp" "$MEM_KEYS"
memory_row "$((MEM_KEYS / 10)) sorted sets of 10 (member)" "$WORK/zsets.resp" "$MEM_KEYS"
memory_row "1 list of $MEM_KEYS elements (element)" "$WORK/list.resp" "$MEM_KEYS"

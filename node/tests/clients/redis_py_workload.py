"""redis-py RedisCluster workload for node/tests/cluster_clients.rs.

Usage: redis_py_workload.py <seconds> <port> [<port> ...]   (the nodes' client ports)

Writes `py:<i>` = i one after the other for the given time with read_from_replicas=True, reading
earlier keys back in between (a replica may lag: a read returns the value or nothing, never a
wrong value). Prints one `error <Unix time, seconds> <text>` line per failed command, then
`acked=<n> errors=<e>`, reads every acknowledged key back from the leaders, and prints
`replica_reads_ok` once a key was read through a replica's READONLY connection.
Exits non-zero on a wrong or lost value.
"""

import sys
import time

from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

duration = float(sys.argv[1])
ports = [int(p) for p in sys.argv[2:]]
start = time.monotonic()


def client(replicas):
    return RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports],
        read_from_replicas=replicas,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 12),
        socket_timeout=2,
        socket_connect_timeout=0.5,
    )


rc = client(True)
acked = []
errors = 0
i = 0
while time.monotonic() - start < duration:
    key = f"py:{i}"
    try:
        rc.set(key, i)
        acked.append(i)
        if i % 5 == 0 and acked:
            probe = acked[len(acked) // 2]
            got = rc.get(f"py:{probe}")
            if got is not None and int(got) != probe:
                print(f"wrong value for py:{probe}: {got!r}")
                sys.exit(1)
    except Exception as e:  # noqa: BLE001 - every failure is reported with its time
        errors += 1
        print(f"error {time.time():.3f} {type(e).__name__}: {e}")
    i += 1
print(f"acked={len(acked)} errors={errors}")

# Every acknowledged write, from the leaders.
leaders = client(False)
for n in acked:
    got = leaders.get(f"py:{n}")
    if got is None or int(got) != n:
        print(f"acknowledged write py:{n} lost: {got!r}")
        sys.exit(1)

# A read through a replica listed in the slot cache, on a READONLY connection.
key = f"py:{acked[-1]}"
slot = rc.keyslot(key)
nodes = rc.nodes_manager.slots_cache[slot]
if len(nodes) < 2:
    print(f"no replica listed for slot {slot}")
    sys.exit(1)
replica = rc.get_redis_connection(nodes[1])
replica.execute_command("READONLY")
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    got = replica.get(key)
    if got is not None and int(got) == acked[-1]:
        print("replica_reads_ok")
        break
    time.sleep(0.05)

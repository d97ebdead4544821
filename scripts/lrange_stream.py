"""Measures one long LRANGE against a running server (issue 20): fills list `l` with N elements
`element-<i>`, then reads `LRANGE l 0 -1` on one connection while another sends `LLEN l` every
millisecond (the same key, so the same Shardis shard), and prints the time to the first byte and
to the last, the server's RSS growth while answering (sampled from /proc) and the probe's worst
latency. Usage: python3 scripts/lrange_stream.py PORT SERVER_PID N (start Shardis with
`--shards 1`; see docs/benchmarks.md).
"""
import socket, sys, time, threading
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) * 1024
def readline(s, buf):
    while b"\r\n" not in buf[0]:
        buf[0] += s.recv(65536)
    line, buf[0] = buf[0].split(b"\r\n", 1)
    return line
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port)); buf=[b""]
s.sendall(enc("DEL", "l")); readline(s, buf)
batch = 10000
for start in range(0, n, batch):
    s.sendall(enc("RPUSH", "l", *[f"element-{i}" for i in range(start, min(n, start+batch))]))
    readline(s, buf)
time.sleep(2)
expected = len(b"*%d\r\n" % n) + sum(len(b"$%d\r\n" % len(e)) + len(e) + 2 for e in (f"element-{i}".encode() for i in range(n)))
base = rss(pid)
# A probe on the same shard: LLEN every 1 ms, max latency while the range is read.
stop = False; lat = []
def probe():
    p = socket.create_connection(("127.0.0.1", port)); pb=[b""]
    while not stop:
        t = time.perf_counter(); p.sendall(enc("LLEN", "l")); readline(p, pb); lat.append(time.perf_counter() - t)
        time.sleep(0.001)
th = threading.Thread(target=probe); th.start(); time.sleep(0.2)
peak = base
r = socket.create_connection(("127.0.0.1", port))
r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
t0 = time.perf_counter(); r.sendall(enc("LRANGE", "l", 0, -1))
got = 0; first = None; chunk = bytearray(1 << 20); k = 0
while got < expected:
    m = r.recv_into(chunk)
    if m == 0: break
    if first is None: first = time.perf_counter() - t0
    got += m; k += 1
    if k % 64 == 0: peak = max(peak, rss(pid))
t1 = time.perf_counter() - t0
peak = max(peak, rss(pid))
stop = True; th.join()
lat.sort()
print(f"n={n} reply={expected/1e6:.0f}MB first_byte={first*1000:.1f}ms total={t1*1000:.0f}ms rss_growth={(peak-base)/2**20:.1f}MiB probe_max={lat[-1]*1000:.1f}ms probe_p99={lat[int(len(lat)*.99)]*1000:.2f}ms probes={len(lat)} ok={got==expected}")

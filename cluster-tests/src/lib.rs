//! Fault-injection tests for Shardis: real node processes, real faults, and every recorded
//! history checked for linearizability.
//!
//! - [`checker`]: a per-key linearizability checker (Wing–Gong search with memoization, as in
//!   Porcupine) for a register-and-counter model of GET / SET / INCR / DEL.
//! - [`client`]: a cluster-aware client that follows MOVED / TRYAGAIN and never retries
//!   anything else, so every write's outcome is known exactly (ok, failed or unknown).
//! - [`harness`]: real node processes on loopback with their peer links through proxies, and
//!   the faults: SIGKILL / restart, SIGSTOP / SIGCONT, cut / delayed / healed links.
//! - [`proxy`]: the TCP proxy every peer link goes through, which cuts, delays and heals links.
//! - [`workload`]: concurrent cluster clients recording a history of GET / SET / SET PX / INCR /
//!   DEL with invoke and completion times and ok / fail / unknown outcomes.
//! - [`transactions`]: MULTI / EXEC and WATCH in the workload, on pairs of keys only ever
//!   incremented together, and their checks (both writes seen or neither, no increment lost or
//!   applied twice, the pair linearizable as a counter).
//! - [`scripts`]: Lua scripts (EVAL with `redis.call`, and the same code as Redis 7 functions
//!   called with FCALL / FCALL_RO) in the workload, on pairs of keys only ever incremented
//!   together by one script, checked as the transactions' pairs are.
//! - [`scenario`]: a cluster plus the workload; faults in between; at the end the history is
//!   checked (linearizability per key, counters, no read after a TTL deadline) and the figures
//!   computed (failover time, operations acknowledged during the fault, anomalies).

pub mod checker;
pub mod client;
pub mod harness;
pub mod proxy;
pub mod scenario;
pub mod scripts;
pub mod transactions;
pub mod workload;

//! Fault-injection tests for Shardis: real node processes, real faults, and every recorded
//! history checked for linearizability.
//!
//! - [`checker`]: a per-key linearizability checker (Wing–Gong search with memoization, as in
//!   Porcupine) for a register-and-counter model of GET / SET / INCR / DEL.
//! - [`harness`]: real node processes on loopback with their peer links through proxies, and
//!   the faults: SIGKILL / restart, SIGSTOP / SIGCONT, cut / delayed / healed links.
//! - [`proxy`]: the TCP proxy every peer link goes through, which cuts, delays and heals links.

pub mod checker;
pub mod harness;
pub mod proxy;

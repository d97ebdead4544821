//! Fault injection for the tests that must see the node meet a storage error it cannot
//! provoke from outside (a snapshot write failing with ENOSPC on a disk the test cannot fill).
//!
//! `SHARDIS_FAULTS` names the points that fail, comma-separated: `snapshot-write` fails every
//! time, `snapshot-write:2` the first two times. A point fails with ENOSPC ("no space left on
//! device", which the node waits out), or with EIO (which it does not) when its name ends in
//! `@eio`: `snapshot-write@eio:2`. Points: `snapshot-write` (a snapshot file), `wal-write` (a
//! batch of the WAL). Unset, as in production, a point costs one look at an empty list read
//! once.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

/// One point named in `SHARDIS_FAULTS`, with how many failures it has left (`u64::MAX`: always).
struct Fault {
    point: String,
    /// EIO instead of ENOSPC.
    eio: bool,
    left: AtomicU64,
}

/// The points named in `SHARDIS_FAULTS`, read once.
static ACTIVE: LazyLock<Vec<Fault>> = LazyLock::new(|| {
    std::env::var("SHARDIS_FAULTS")
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (point, times) = match p.trim().split_once(':') {
                Some((point, n)) => (point, n.parse().unwrap_or(u64::MAX)),
                None => (p.trim(), u64::MAX),
            };
            let (point, eio) = match point.strip_suffix("@eio") {
                Some(point) => (point, true),
                None => (point, false),
            };
            Fault {
                point: point.to_string(),
                eio,
                left: AtomicU64::new(times),
            }
        })
        .collect()
});

/// An injected error (ENOSPC, or EIO) when `point` is named in `SHARDIS_FAULTS` (and has
/// failures left).
pub fn check(point: &str) -> io::Result<()> {
    for fault in ACTIVE.iter().filter(|f| f.point == point) {
        let took = fault
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| match n {
                0 => None,
                u64::MAX => Some(u64::MAX),
                n => Some(n - 1),
            });
        if took.is_ok() {
            let (errno, what) = match fault.eio {
                true => (5, "input/output error"),
                false => (28, "no space left on device"),
            };
            let os = io::Error::from_raw_os_error(errno);
            return Err(io::Error::new(
                os.kind(),
                format!("injected fault at {point}: {what}"),
            ));
        }
    }
    Ok(())
}

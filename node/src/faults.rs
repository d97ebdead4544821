//! Fault injection for the tests that must see the node meet a storage error it cannot
//! provoke from outside (a snapshot write failing with ENOSPC on a disk the test cannot fill).
//!
//! `SHARDIS_FAULTS` names the points that fail, comma-separated: `snapshot-write` fails every
//! time, `snapshot-write:2` the first two times. Unset, as in production, a point costs one
//! look at an empty list read once.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

/// One point named in `SHARDIS_FAULTS`, with how many failures it has left (`u64::MAX`: always).
struct Fault {
    point: String,
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
            Fault {
                point: point.to_string(),
                left: AtomicU64::new(times),
            }
        })
        .collect()
});

/// An injected "no space left on device" error when `point` is named in `SHARDIS_FAULTS` (and
/// has failures left).
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
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("injected fault at {point}: no space left on device"),
            ));
        }
    }
    Ok(())
}

//! The largest reply a command may build: about half the memory still available.
//!
//! A shard builds a reply whole before the connection writes it (a long LRANGE excepted, which
//! is streamed). Redis does too and has no limit: `SRANDMEMBER k -9223372036854775807` on a set
//! of one large member, or a ZRANGE copying a collection that holds most of the memory, makes
//! redis-server allocate until the kernel kills it. Here a command whose reply would take more
//! than half of the memory available (the machine's `MemAvailable`, or what the node's cgroup
//! still allows) gets an error instead, before anything is built. Replies under
//! [`CHECK_FROM`] are not checked at all, so the common case reads no file.

use crate::protocol::Frame;

/// Replies smaller than this are built without a check.
pub const CHECK_FROM: usize = 64 << 20;

/// What a reply element costs besides its bytes while the reply is built and encoded: its
/// frame, its bulk header and CRLF.
pub const PER_ELEMENT: usize = 48;

/// `Ok` when a reply of about `bytes` fits in memory, else the error to answer.
pub fn check(bytes: usize) -> Result<(), Frame> {
    if bytes < CHECK_FROM {
        return Ok(());
    }
    check_against(bytes, available_memory())
}

/// [`check`] against `available` bytes (`None`: not known, so not refused).
pub fn check_against(bytes: usize, available: Option<u64>) -> Result<(), Frame> {
    match available {
        Some(free) if bytes as u64 > free / 2 => Err(Frame::error_owned(format!(
            "ERR reply too large: about {bytes} bytes, more than half of the {free} bytes of \
             memory available"
        ))),
        _ => Ok(()),
    }
}

/// [`check`] for a reply of elements of `lens` bytes each.
pub fn check_elements(lens: impl IntoIterator<Item = usize>) -> Result<(), Frame> {
    check(lens.into_iter().map(|n| n + PER_ELEMENT).sum())
}

/// The memory the node may still take: the least of the machine's `MemAvailable` and its
/// cgroup's `memory.max` less `memory.current` (cgroup v2), when known.
fn available_memory() -> Option<u64> {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .map(|kb| kb * 1024)
        });
    let read = |name: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{name}"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    // "max" (no limit) does not parse, and leaves the machine's figure.
    let cgroup =
        read("memory.max").map(|max| max.saturating_sub(read("memory.current").unwrap_or(0)));
    match (machine, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_past_half_the_available_memory_is_refused() {
        assert_eq!(check_against(100, Some(1000)), Ok(()));
        assert_eq!(check_against(500, Some(1000)), Ok(()));
        let Err(Frame::Error(text)) = check_against(501, Some(1000)) else {
            panic!("not refused");
        };
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.starts_with("ERR reply too large: about 501 bytes"),
            "{text}"
        );
        assert_eq!(
            check_against(usize::MAX, None),
            Ok(()),
            "unknown: not refused"
        );
    }

    #[test]
    fn small_replies_are_not_checked_and_absurd_ones_are_refused_on_this_machine() {
        assert_eq!(check(CHECK_FROM - 1), Ok(()));
        assert!(
            available_memory().is_some(),
            "/proc/meminfo is readable here"
        );
        assert!(check(usize::MAX / 2).is_err());
        assert!(check_elements([usize::MAX / 4, usize::MAX / 4]).is_err());
    }
}

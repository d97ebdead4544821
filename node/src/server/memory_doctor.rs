//! MEMORY DOCTOR: redis's memory report, with its rules and its texts, on Shardis's figures.
//!
//! Redis looks at its allocator's counts and the clients' buffers and names what looks wrong: a
//! past peak far above today's use, fragmentation, the allocator's or the process's RSS far
//! above what is allocated, big client buffers. Shardis applies the same thresholds to the same
//! figures (jemalloc's, as redis reads them) with one change: an instance counts as empty when
//! its *counted* memory (data and clients' buffers, what `maxmemory` compares) is under 5 MB,
//! where redis looks at everything allocated — a Shardis node holds about 60 MB from the start
//! (openraft's tables and queues, see docs/limits.md), so the allocator's total would never
//! call it empty. Replica buffers and script caches do not exist here (yet): those two
//! rules never fire.

/// What the report is made from, read once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    /// Memory counted against `maxmemory`: the data and the clients' buffers.
    pub counted: u64,
    /// Everything the allocator handed out now, and the most at any measure.
    pub allocated: u64,
    pub peak: u64,
    /// jemalloc's pages in use and in memory.
    pub active: u64,
    pub resident: u64,
    /// The process's resident set.
    pub rss: u64,
    /// The clients' buffers, and how many clients there are.
    pub client_buffers: u64,
    pub clients: u64,
}

/// Under this much counted memory the report says the instance is empty (redis: 5 MB).
const EMPTY_BELOW: u64 = 5 << 20;
/// Fragmentation and RSS overheads are reported past both a ratio and this many bytes.
const OVERHEAD_BYTES: u64 = 10 << 20;

/// Whether `a` is past `b` by more than `ratio` times and by more than [`OVERHEAD_BYTES`], as
/// redis judges its fragmentation and RSS overheads.
fn overhead(a: u64, b: u64, ratio: f64) -> bool {
    a as f64 / b.max(1) as f64 > ratio && a.saturating_sub(b) > OVERHEAD_BYTES
}

/// The report, word for word as redis 7 writes it for the same findings.
pub fn report(f: &Figures) -> String {
    let empty = f.counted < EMPTY_BELOW;
    // Redis's checks, in its order: each finding with whether it holds.
    let checks = [
        (f.peak as f64 / f.allocated.max(1) as f64 > 1.5, PEAK),
        (overhead(f.rss, f.allocated, 1.4), HIGH_TOTAL_RSS),
        (
            overhead(f.active, f.allocated, 1.1),
            ALLOCATOR_FRAGMENTATION,
        ),
        (overhead(f.resident, f.active, 1.1), ALLOCATOR_RSS),
        (overhead(f.rss, f.resident, 1.1), PROCESS_RSS),
        (
            f.clients > 0 && f.client_buffers / f.clients > 200 * 1024,
            BIG_CLIENT_BUFFERS,
        ),
    ];
    let findings: Vec<&str> = checks
        .iter()
        .filter(|(holds, _)| !empty && *holds)
        .map(|(_, finding)| *finding)
        .collect();
    if empty {
        return EMPTY.to_string();
    }
    if findings.is_empty() {
        return FINE.to_string();
    }
    let mut out =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for finding in findings {
        out.push_str(finding);
        out.push_str("\n\n");
    }
    out.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    out
}

const EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const FINE: &str = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
const PEAK: &str = " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.";
const HIGH_TOTAL_RSS: &str = " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".";
const ALLOCATOR_FRAGMENTATION: &str = " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.";
const ALLOCATOR_RSS: &str = " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.";
const PROCESS_RSS: &str = " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.";
const BIG_CLIENT_BUFFERS: &str = " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.";

#[cfg(test)]
mod tests {
    use super::*;

    /// A node with 100 MB counted and nothing wrong.
    fn healthy() -> Figures {
        Figures {
            counted: 100 << 20,
            allocated: 160 << 20,
            peak: 200 << 20,
            active: 165 << 20,
            resident: 170 << 20,
            rss: 172 << 20,
            client_buffers: 1 << 20,
            clients: 10,
        }
    }

    #[test]
    fn an_instance_under_five_megabytes_counted_is_empty_whatever_its_startup_footprint() {
        let f = Figures {
            counted: (5 << 20) - 1,
            peak: 900 << 20,
            ..healthy()
        };
        assert_eq!(report(&f), EMPTY);
        assert_eq!(report(&healthy()), FINE);
    }

    #[test]
    fn each_rule_fires_past_both_its_ratio_and_its_bytes_in_redis_order() {
        let f = Figures {
            peak: 400 << 20,     // 2.5x allocated
            rss: 260 << 20,      // 1.6x allocated, 100 MB over
            active: 180 << 20,   // 1.125x allocated, 20 MB over
            resident: 200 << 20, // 1.11x active, 20 MB over
            ..healthy()
        };
        let text = report(&f);
        let at = |finding: &str| text.find(finding).unwrap_or(usize::MAX);
        assert!(text.starts_with("Sam, I detected a few issues"));
        assert!(at(PEAK) < at(HIGH_TOTAL_RSS));
        assert!(at(HIGH_TOTAL_RSS) < at(ALLOCATOR_FRAGMENTATION));
        assert!(at(ALLOCATOR_FRAGMENTATION) < at(ALLOCATOR_RSS));
        // rss / resident = 1.3 and 60 MB over: the process's own overhead too.
        assert!(at(PROCESS_RSS) < usize::MAX);
        assert!(!text.contains("Big client buffers"));
        assert!(text.ends_with("I'm here to keep you safe, Sam. I want to help you.\n"));
        // A ratio without the bytes is not enough: 1.5x of 8 MB is 4 MB over.
        let small = Figures {
            counted: 6 << 20,
            allocated: 8 << 20,
            peak: 8 << 20,
            active: 8 << 20,
            resident: 8 << 20,
            rss: 12 << 20,
            client_buffers: 0,
            clients: 1,
        };
        assert_eq!(report(&small), FINE);
    }

    #[test]
    fn big_client_buffers_are_an_average_over_200k() {
        let mut f = healthy();
        f.client_buffers = 10 * 200 * 1024 + 10;
        assert!(report(&f).contains("Big client buffers"));
        f.client_buffers = 10 * 200 * 1024;
        assert_eq!(report(&f), FINE);
        f.clients = 0;
        assert_eq!(report(&f), FINE);
    }
}

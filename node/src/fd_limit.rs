//! The open-file limit and `maxclients`, as redis reconciles them (`adjustOpenFilesLimit`).
//!
//! Each client is a file descriptor. Past the process's `ulimit -n`, `accept` fails with
//! EMFILE while the kernel keeps queueing connections nobody serves, and worse, the WAL, a
//! snapshot or a Raft connection can no longer open a file. So at start-up the node raises its
//! soft limit towards `maxclients` plus what it needs for itself ([`reserved_fds`]), up to the
//! hard limit, and if that is still short it lowers `maxclients` to fit, with a warning; extra
//! clients then get `-ERR max number of clients reached`. `CONFIG SET maxclients` goes through
//! the same check.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors the node keeps for itself besides its clients: standard streams, the listeners,
/// the runtime's epoll and wake-up descriptors, WAL segments and a snapshot being written (redis
/// keeps 32), plus an incoming and an outgoing connection per peer.
pub fn reserved_fds(nodes: usize) -> u64 {
    64 + 2 * nodes as u64
}

/// The soft limit now (`u64::MAX` when unlimited).
fn soft_limit() -> u64 {
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Raises the soft limit to `want`, or as close to it as the hard limit allows; returns the soft
/// limit in force afterwards.
fn raise_soft_limit(want: u64) -> u64 {
    let limits = getrlimit(Resource::Nofile);
    let current = limits.current.unwrap_or(u64::MAX);
    if current >= want {
        return current;
    }
    let target = want.min(limits.maximum.unwrap_or(u64::MAX));
    let raised = Rlimit {
        current: Some(target),
        maximum: limits.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => target,
        Err(e) => {
            tracing::warn!(error = %e, want = target, "cannot raise the open file limit");
            current
        }
    }
}

/// The `maxclients` this process can serve: `maxclients` itself once the soft limit is raised
/// enough, else as many as the limit leaves room for. `Err` when not even one client fits.
pub fn fit_maxclients(maxclients: u64, reserved: u64) -> Result<u64, String> {
    let want = maxclients.saturating_add(reserved);
    let limit = raise_soft_limit(want);
    if limit >= want {
        return Ok(maxclients);
    }
    let fits = limit.saturating_sub(reserved);
    if fits == 0 {
        return Err(format!(
            "the open file limit ('ulimit -n') of {limit} is not enough for the node to start: \
             raise it to at least {}",
            reserved + 1
        ));
    }
    tracing::warn!(
        requested = maxclients,
        needed = want,
        limit,
        maxclients = fits,
        "the open file limit is too low for maxclients: maxclients reduced to fit; \
         raise 'ulimit -n' for more clients"
    );
    Ok(fits)
}

/// For `CONFIG SET maxclients`: `Err` with redis's message when the limit (raised as far as
/// allowed) cannot hold `maxclients` clients.
pub fn allow_maxclients(maxclients: u64, reserved: u64) -> Result<(), String> {
    let want = maxclients.saturating_add(reserved);
    if soft_limit() >= want || raise_soft_limit(want) >= want {
        return Ok(());
    }
    Err(format!(
        "The operating system is not able to handle the specified number of clients, try with {}",
        soft_limit().saturating_sub(reserved)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxclients_within_the_limit_is_kept() {
        let limit = soft_limit();
        if limit < 200 {
            return;
        }
        assert_eq!(fit_maxclients(100, 64), Ok(100));
        assert_eq!(allow_maxclients(100, 64), Ok(()));
    }

    #[test]
    fn maxclients_beyond_the_hard_limit_is_reduced_or_refused() {
        let hard = getrlimit(Resource::Nofile).maximum;
        let Some(hard) = hard else { return };
        let fitted = fit_maxclients(hard * 2, 64).expect("some clients fit");
        assert_eq!(
            fitted,
            hard - 64,
            "the soft limit is raised to the hard one"
        );
        let err = allow_maxclients(hard * 2, 64).expect_err("more than the hard limit");
        assert!(err.contains(&format!("try with {}", hard - 64)), "{err}");
        assert!(fit_maxclients(10, hard).is_err(), "no room for one client");
    }
}

//! Clients waiting on keys of one shard (BLPOP and the other blocking pops), in arrival order.
//!
//! A blocked client waits at the shard's leader. Nothing it waits for is decided here: the
//! shard actor only *signals* — after it applies a committed entry, the first client in line on
//! each key the entry's commands name is woken — and the woken client then looks (a read) and
//! pops (a logged write) itself, so that every replica applies the same pop. A wake-up may find
//! nothing (another client popped first, or the write was not a push): the client waits again,
//! keeping its place.
//!
//! Fairness is per key, first come first served: only the first client in line on a key is
//! woken for it, and a client that leaves the line (served, timed out, disconnected, unblocked)
//! wakes the next one, which finds out for itself whether anything is left. Redis serves every
//! client a push can satisfy within the push; here each further client costs one more round
//! through the log.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

/// The clients waiting on one shard's keys.
#[derive(Default)]
pub struct KeyWaiters {
    /// Clients registered (read without the lock on every applied entry).
    count: AtomicUsize,
    lines: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    next_id: u64,
    /// Per key, the waiting clients in arrival order.
    by_key: HashMap<Bytes, VecDeque<u64>>,
    /// Per client, how to wake it.
    wakers: HashMap<u64, Arc<Notify>>,
}

impl Lines {
    /// Wakes the first client in line on `key`, if any.
    fn wake_first(&self, key: &[u8]) {
        let first = self.by_key.get(key).and_then(|line| line.front());
        if let Some(waker) = first.and_then(|id| self.wakers.get(id)) {
            waker.notify_one();
        }
    }
}

impl KeyWaiters {
    fn lines(&self) -> MutexGuard<'_, Lines> {
        // A panic while the lock was held left consistent data (every change is one step).
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when no client waits (the common case, checked without a lock).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// How many clients wait.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Puts a client at the end of the line of each of `keys` (a key named twice counts once).
    /// It leaves every line when the returned [`Waiter`] is dropped.
    pub fn register(self: &Arc<Self>, keys: &[Bytes]) -> Waiter {
        let mut distinct: Vec<Bytes> = Vec::with_capacity(keys.len());
        for k in keys {
            if !distinct.contains(k) {
                distinct.push(k.clone());
            }
        }
        let notify = Arc::new(Notify::new());
        let mut lines = self.lines();
        let id = lines.next_id;
        lines.next_id += 1;
        for k in &distinct {
            lines.by_key.entry(k.clone()).or_default().push_back(id);
        }
        lines.wakers.insert(id, notify.clone());
        self.count.fetch_add(1, Ordering::AcqRel);
        Waiter {
            registry: self.clone(),
            id,
            keys: distinct,
            notify,
        }
    }

    /// After a write to `keys`: wakes the first client in line on each.
    pub fn keys_written<'a>(&self, keys: impl IntoIterator<Item = &'a Bytes>) {
        if self.is_empty() {
            return;
        }
        let lines = self.lines();
        for k in keys {
            lines.wake_first(k);
        }
    }

    /// After a change to any key (a snapshot installed): wakes the first client of every line.
    pub fn wake_all(&self) {
        if self.is_empty() {
            return;
        }
        let lines = self.lines();
        for line in lines.by_key.values() {
            if let Some(waker) = line.front().and_then(|id| lines.wakers.get(id)) {
                waker.notify_one();
            }
        }
    }
}

/// One waiting client's place in the lines of its keys.
pub struct Waiter {
    registry: Arc<KeyWaiters>,
    id: u64,
    keys: Vec<Bytes>,
    notify: Arc<Notify>,
}

impl Waiter {
    /// Completes once the client may look again: a key it is first in line on was written
    /// (or the client before it left). A wake-up that came while the client was busy is kept.
    pub async fn woken(&self) {
        self.notify.notified().await
    }

    /// The client's keys on which it is first in line, in its order.
    pub fn first_in_line(&self) -> Vec<Bytes> {
        let lines = self.registry.lines();
        self.keys
            .iter()
            .filter(|k| {
                lines
                    .by_key
                    .get(k.as_ref())
                    .and_then(|l| l.front())
                    .is_some_and(|&id| id == self.id)
            })
            .cloned()
            .collect()
    }
}

impl Drop for Waiter {
    /// Leaves every line; where the client was first, the next one is woken to look for itself.
    fn drop(&mut self) {
        let mut lines = self.registry.lines();
        lines.wakers.remove(&self.id);
        for k in &self.keys {
            let Some(line) = lines.by_key.get_mut(k.as_ref()) else {
                continue;
            };
            let was_first = line.front() == Some(&self.id);
            line.retain(|&id| id != self.id);
            if line.is_empty() {
                lines.by_key.remove(k.as_ref());
            } else if was_first {
                lines.wake_first(k);
            }
        }
        self.registry.count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    async fn is_woken(w: &Waiter) -> bool {
        tokio::time::timeout(Duration::from_millis(20), w.woken())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn only_the_first_in_line_is_woken_and_leaving_wakes_the_next() {
        let reg = Arc::new(KeyWaiters::default());
        let a = reg.register(&[b("k")]);
        let b_ = reg.register(&[b("k"), b("j")]);
        assert_eq!(reg.len(), 2);
        assert_eq!(a.first_in_line(), vec![b("k")]);
        assert_eq!(b_.first_in_line(), vec![b("j")]);
        reg.keys_written([&b("k")]);
        assert!(is_woken(&a).await);
        assert!(!is_woken(&b_).await);
        drop(a);
        assert!(is_woken(&b_).await, "the next in line looks for itself");
        assert_eq!(b_.first_in_line(), vec![b("k"), b("j")]);
        drop(b_);
        assert!(reg.is_empty());
        assert!(reg.lines().by_key.is_empty() && reg.lines().wakers.is_empty());
    }

    proptest::proptest! {
        /// Whatever clients come and go, the lines hold exactly the clients still waiting, each
        /// once per distinct key, in arrival order, and the count agrees.
        #[test]
        fn lines_hold_exactly_the_waiting_clients_in_arrival_order(
            ops in proptest::collection::vec((0usize..6, proptest::collection::vec(0u8..4, 1..4)), 0..60)
        ) {
            let reg = Arc::new(KeyWaiters::default());
            let mut live: Vec<(u64, Vec<u8>, Waiter)> = Vec::new();
            for (what, keys) in ops {
                if what < 4 || live.is_empty() {
                    let names: Vec<Bytes> = keys.iter().map(|k| Bytes::from(vec![b'k', *k])).collect();
                    let w = reg.register(&names);
                    let mut distinct = keys.clone();
                    distinct.sort_unstable();
                    distinct.dedup();
                    live.push((w.id, distinct, w));
                } else {
                    live.remove(what % live.len());
                }
                proptest::prop_assert_eq!(reg.len(), live.len());
                let lines = reg.lines();
                for k in 0u8..4 {
                    let want: Vec<u64> = live
                        .iter()
                        .filter(|(_, keys, _)| keys.contains(&k))
                        .map(|(id, _, _)| *id)
                        .collect();
                    let got: Vec<u64> = lines
                        .by_key
                        .get(&[b'k', k][..])
                        .map(|l| l.iter().copied().collect())
                        .unwrap_or_default();
                    proptest::prop_assert_eq!(got, want, "key {}", k);
                }
                proptest::prop_assert_eq!(lines.wakers.len(), live.len());
            }
        }
    }

    #[tokio::test]
    async fn a_wake_up_while_busy_is_kept_and_a_key_named_twice_counts_once() {
        let reg = Arc::new(KeyWaiters::default());
        let a = reg.register(&[b("k"), b("k")]);
        reg.keys_written([&b("k")]);
        reg.keys_written([&b("other")]);
        assert!(is_woken(&a).await);
        assert!(!is_woken(&a).await, "one permit, however many writes");
        reg.wake_all();
        assert!(is_woken(&a).await);
        drop(a);
        assert!(reg.lines().by_key.is_empty());
    }
}

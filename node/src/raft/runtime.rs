//! openraft's async runtime for the node: tokio's, except for the watch channel.
//!
//! openraft's core publishes its metrics and I/O progress on several watch channels on every
//! turn of its loop, that is a few times per log entry in every group. tokio's watch wakes its
//! receivers through eight `Notify`s, each locked and bumped on every send even when nobody
//! waits: profiles of the single-node write path showed those sends as about 7% of the node's
//! CPU. [`LeanWatch`] keeps a count of receivers actually waiting in `changed()` and skips the
//! wake-up when it is zero, which it nearly always is (the node reads metrics by borrowing them).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use openraft::rt::watch::{self, RecvError, SendError};
use openraft::rt::{AsyncRuntime, OptionalSend, OptionalSync};
use tokio::sync::Notify;

#[allow(deprecated)]
type Tokio = openraft::TokioRuntime;

/// tokio's runtime for openraft, with [`LeanWatch`] as its watch channel.
#[derive(Debug)]
pub struct NodeRuntime(Tokio);

impl AsyncRuntime for NodeRuntime {
    type JoinError = <Tokio as AsyncRuntime>::JoinError;
    type JoinHandle<T: OptionalSend + 'static> = <Tokio as AsyncRuntime>::JoinHandle<T>;
    type Sleep = <Tokio as AsyncRuntime>::Sleep;
    type Instant = <Tokio as AsyncRuntime>::Instant;
    type TimeoutError = <Tokio as AsyncRuntime>::TimeoutError;
    type Timeout<R, T: Future<Output = R> + OptionalSend> = <Tokio as AsyncRuntime>::Timeout<R, T>;
    type ThreadLocalRng = <Tokio as AsyncRuntime>::ThreadLocalRng;
    type Mpsc = <Tokio as AsyncRuntime>::Mpsc;
    type Watch = LeanWatch;
    type Oneshot = <Tokio as AsyncRuntime>::Oneshot;
    type Mutex<T: OptionalSend + 'static> = <Tokio as AsyncRuntime>::Mutex<T>;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        Tokio::spawn(future)
    }

    fn sleep(duration: Duration) -> Self::Sleep {
        Tokio::sleep(duration)
    }

    fn sleep_until(deadline: Self::Instant) -> Self::Sleep {
        Tokio::sleep_until(deadline)
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(
        duration: Duration,
        future: F,
    ) -> Self::Timeout<R, F> {
        Tokio::timeout(duration, future)
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(
        deadline: Self::Instant,
        future: F,
    ) -> Self::Timeout<R, F> {
        Tokio::timeout_at(deadline, future)
    }

    fn is_panic(join_error: &Self::JoinError) -> bool {
        Tokio::is_panic(join_error)
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        Tokio::thread_rng()
    }

    fn new(threads: usize) -> Self {
        NodeRuntime(Tokio::new(threads))
    }

    fn block_on<F, T>(&mut self, future: F) -> T
    where
        F: Future<Output = T>,
    {
        self.0.block_on(future)
    }
}

/// A watch channel (one value, many readers, each told of changes) that costs a lock and a few
/// atomics per send while no receiver waits.
pub struct LeanWatch;

struct Shared<T> {
    value: RwLock<T>,
    /// Bumped (under the value's write lock) on every notifying change.
    version: AtomicU64,
    /// Receivers inside `changed()` right now; a send wakes them only when this is not zero.
    waiting: AtomicUsize,
    receivers: AtomicUsize,
    senders: AtomicUsize,
    closed: AtomicBool,
    notify: Notify,
}

impl<T> Shared<T> {
    fn read(&self) -> RwLockReadGuard<'_, T> {
        self.value.read().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        // SeqCst pairs with `changed()`: either this load sees its waiter, or its version load
        // sees this change.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }
}

/// The sending half of a [`LeanWatch`] channel.
pub struct LeanSender<T>(Arc<Shared<T>>);

/// The receiving half of a [`LeanWatch`] channel; remembers the last version it saw.
pub struct LeanReceiver<T> {
    shared: Arc<Shared<T>>,
    seen: u64,
}

impl watch::Watch for LeanWatch {
    type Sender<T: OptionalSend + OptionalSync> = LeanSender<T>;
    type Receiver<T: OptionalSend + OptionalSync> = LeanReceiver<T>;
    type Ref<'a, T: OptionalSend + 'a> = RwLockReadGuard<'a, T>;

    fn channel<T: OptionalSend + OptionalSync>(init: T) -> (LeanSender<T>, LeanReceiver<T>) {
        let shared = Arc::new(Shared {
            value: RwLock::new(init),
            version: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            receivers: AtomicUsize::new(1),
            senders: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
            notify: Notify::new(),
        });
        let rx = LeanReceiver {
            shared: shared.clone(),
            seen: 0,
        };
        (LeanSender(shared), rx)
    }
}

impl<T> Clone for LeanSender<T> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        LeanSender(self.0.clone())
    }
}

impl<T> Drop for LeanSender<T> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.closed.store(true, Ordering::SeqCst);
            self.0.notify.notify_waiters();
        }
    }
}

impl<T: OptionalSend + OptionalSync> watch::WatchSender<LeanWatch, T> for LeanSender<T> {
    fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.0.receivers.load(Ordering::Acquire) == 0 {
            return Err(SendError(value));
        }
        self.send_if_modified(|v| {
            *v = value;
            true
        });
        Ok(())
    }

    fn send_if_modified<F>(&self, modify: F) -> bool
    where
        F: FnOnce(&mut T) -> bool,
    {
        {
            let mut value = self.0.value.write().unwrap_or_else(|p| p.into_inner());
            if !modify(&mut value) {
                return false;
            }
            self.0.version.fetch_add(1, Ordering::SeqCst);
        }
        self.0.wake();
        true
    }

    fn borrow_watched(&self) -> RwLockReadGuard<'_, T> {
        self.0.read()
    }

    fn subscribe(&self) -> LeanReceiver<T> {
        self.0.receivers.fetch_add(1, Ordering::AcqRel);
        let guard = self.0.read();
        let seen = self.0.version.load(Ordering::SeqCst);
        drop(guard);
        LeanReceiver {
            shared: self.0.clone(),
            seen,
        }
    }
}

impl<T> Clone for LeanReceiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::AcqRel);
        LeanReceiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for LeanReceiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a receiver as waiting for as long as it lives (also when `changed()` is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<T: OptionalSend + OptionalSync> watch::WatchReceiver<LeanWatch, T> for LeanReceiver<T> {
    async fn changed(&mut self) -> Result<(), RecvError> {
        let shared = self.shared.clone();
        let _waiting = Waiting::new(&shared.waiting);
        loop {
            // Created before the checks: a `notify_waiters` after this point wakes it.
            let notified = shared.notify.notified();
            let version = shared.version.load(Ordering::SeqCst);
            if version != self.seen {
                self.seen = version;
                return Ok(());
            }
            if shared.closed.load(Ordering::SeqCst) {
                return Err(RecvError(()));
            }
            notified.await;
        }
    }

    fn borrow_watched(&self) -> RwLockReadGuard<'_, T> {
        self.shared.read()
    }

    fn borrow_and_update(&mut self) -> RwLockReadGuard<'_, T> {
        let guard = self.shared.read();
        self.seen = self.shared.version.load(Ordering::SeqCst);
        guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::rt::watch::{Watch, WatchReceiver, WatchSender};

    /// openraft's own conformance suite for runtimes (spawn, timers, channels, watch, …).
    #[test]
    fn passes_openraft_runtime_suite() {
        openraft::rt::testing::Suite::<NodeRuntime>::test_all();
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_and_an_idle_send_wakes_nobody() {
        let (tx, mut rx) = LeanWatch::channel(0u64);
        assert!(tx.send(1).is_ok());
        assert_eq!(tx.0.waiting.load(Ordering::SeqCst), 0);
        // The unseen change is reported at once.
        rx.changed().await.expect("open");
        assert_eq!(*rx.borrow_watched(), 1);
        let waiter = tokio::spawn(async move { rx.changed().await.map(|_| *rx.borrow_watched()) });
        while tx.0.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(tx.send(2).is_ok());
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(got, Ok(2));
        assert_eq!(tx.0.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_cancelled_wait_stops_counting_and_dropping_the_sender_ends_waits() {
        let (tx, mut rx) = LeanWatch::channel(0u64);
        let cancelled = tokio::time::timeout(Duration::from_millis(20), rx.changed()).await;
        assert!(cancelled.is_err());
        assert_eq!(tx.0.waiting.load(Ordering::SeqCst), 0);
        let waiter = tokio::spawn(async move { rx.changed().await });
        tokio::task::yield_now().await;
        drop(tx);
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(got, Err(RecvError(())));
    }

    /// Many senders' changes racing one waiting receiver: it always ends up at the last value.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_change_is_missed_under_races() {
        for round in 0..200u64 {
            let (tx, mut rx) = LeanWatch::channel(0u64);
            let waiter = tokio::spawn(async move {
                loop {
                    if *rx.borrow_and_update() == 100 {
                        return;
                    }
                    rx.changed().await.expect("open");
                }
            });
            for i in 1..=100 {
                tx.send_if_modified(|v| {
                    *v = i;
                    true
                });
                if (i + round) % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            tokio::time::timeout(Duration::from_secs(5), waiter)
                .await
                .expect("the receiver saw the last value")
                .expect("task");
        }
    }
}

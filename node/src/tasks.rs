//! Who owns the node's tasks, and how they stop.
//!
//! Every task the node spawns belongs to one [`Tasks`] set, one set per layer (see
//! [`NodeTasks`]), so that shutdown can stop the layers one after the other — clients first, the
//! WAL last — and wait for each, instead of dropping the runtime under whatever was running.
//!
//! A task stops in one of two ways, chosen by how hot its loop is:
//! - periodic loops (heartbeat rounds, expiry, snapshots, the compactor, the balancer, …) are
//!   spawned with [`Tasks::spawn_until_stopped`] and dropped at their next await once their layer
//!   is stopped: they wake at most every few milliseconds, so watching the stop signal costs
//!   nothing that matters;
//! - the tasks on a request's path (shard actors, proposers, transport lanes) never poll the stop
//!   signal, which would cost a lock per wake-up: they are spawned with [`Tasks::spawn`] and end
//!   when told to by a message, or when their channel closes.
//!
//! Two kinds of tasks are not in a set but owned by the object that started them, which joins
//! them when it is shut down: the WAL's writer (`Wal::close`) and a Raft
//! group's own tasks (openraft's `Raft::shutdown`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

/// A one-way stop signal: once stopped, it stays stopped, and every waiter — also one that
/// starts waiting later — sees it.
///
/// Not a `CancellationToken`: its check is a lock, this one's an atomic load, and connections
/// look at the node's signal on every read.
#[derive(Default)]
pub struct Stop {
    stopped: AtomicBool,
    notify: Notify,
}

impl Stop {
    /// A signal not yet given.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Gives the signal; true the first time.
    pub fn stop(&self) -> bool {
        let first = !self.stopped.swap(true, Ordering::SeqCst);
        if first {
            self.notify.notify_waiters();
        }
        first
    }

    /// True once the signal has been given.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Completes once the signal has been given (at once if it already was).
    pub async fn wait(&self) {
        // Created before the check: a `notify_waiters` after this point completes it even before
        // it is first polled, so a signal given between the check and the await is not missed.
        let notified = self.notify.notified();
        if self.is_stopped() {
            return;
        }
        notified.await;
    }
}

/// The tasks of one layer of the node, stopped and joined together (cheap to clone).
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    layer: &'static str,
    tracker: TaskTracker,
    stop: Stop,
}

impl Tasks {
    /// An empty set for `layer` (the name the logs use).
    pub fn new(layer: &'static str) -> Tasks {
        Tasks {
            inner: Arc::new(Inner {
                layer,
                tracker: TaskTracker::new(),
                stop: Stop::new(),
            }),
        }
    }

    /// Spawns a task that ends by itself (its channel closes, it is sent a stop message); the set
    /// waits for it in [`Tasks::join`].
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.tracker.spawn(task);
    }

    /// Spawns a task that is dropped at its next await once the set is stopped (for loops that
    /// would otherwise run for ever).
    pub fn spawn_until_stopped<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let tasks = self.clone();
        self.inner.tracker.spawn(async move {
            tokio::select! {
                () = tasks.inner.stop.wait() => {}
                () = task => {}
            }
        });
    }

    /// The set's stop signal, for a task that watches it itself.
    pub fn stopping(&self) -> &Stop {
        &self.inner.stop
    }

    /// Stops the set's [`Tasks::spawn_until_stopped`] tasks (and whoever watches
    /// [`Tasks::stopping`]).
    pub fn stop(&self) {
        self.inner.stop.stop();
    }

    /// Tasks of the set still running.
    pub fn len(&self) -> usize {
        self.inner.tracker.len()
    }

    /// True when no task of the set is running.
    pub fn is_empty(&self) -> bool {
        self.inner.tracker.is_empty()
    }

    /// Waits up to `limit` for every task of the set to end; true if they all did. Tasks can
    /// still be spawned into the set afterwards (a late one is waited for by the next call).
    /// Tasks still running after `limit` are logged and left to the runtime's end: a shutdown
    /// must not hang on one stuck task.
    pub async fn join(&self, limit: Duration) -> bool {
        let tracker = &self.inner.tracker;
        tracker.close();
        let done = tokio::time::timeout(limit, tracker.wait()).await.is_ok();
        tracker.reopen();
        if !done {
            tracing::warn!(
                layer = self.inner.layer,
                tasks = tracker.len(),
                "tasks still running after {limit:?}; shutting down without them"
            );
        }
        done
    }
}

/// Every task set of a node, by layer, in the order shutdown stops them.
#[derive(Clone)]
pub struct NodeTasks {
    /// The accept loop and the client connections.
    pub clients: Tasks,
    /// Node-wide maintenance: the WAL compactor, the leader balancer, the leader exchange.
    pub background: Tasks,
    /// Per group: the shard actor, the proposer, expiry, heartbeat rounds, snapshot checks (and
    /// the metadata watcher).
    pub groups: Tasks,
    /// The Raft transport: its server, the streams it serves, the lanes to peers.
    pub transport: Tasks,
}

impl NodeTasks {
    /// Empty sets.
    pub fn new() -> NodeTasks {
        NodeTasks {
            clients: Tasks::new("clients"),
            background: Tasks::new("background"),
            groups: Tasks::new("groups"),
            transport: Tasks::new("transport"),
        }
    }
}

impl Default for NodeTasks {
    fn default() -> Self {
        NodeTasks::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_given_before_the_wait_is_seen() {
        let stop = Stop::new();
        assert!(stop.stop());
        assert!(!stop.stop());
        tokio::time::timeout(Duration::from_secs(1), stop.wait())
            .await
            .expect("an earlier stop completes the wait");
    }

    #[tokio::test]
    async fn stopping_a_set_ends_its_loops_and_join_waits_for_the_rest() {
        let tasks = Tasks::new("test");
        tasks.spawn_until_stopped(std::future::pending());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(async move {
            let _ = rx.await;
        });
        assert_eq!(tasks.len(), 2);
        // Neither ends on its own yet.
        assert!(!tasks.join(Duration::from_millis(50)).await);
        tasks.stop();
        assert!(!tasks.join(Duration::from_millis(50)).await);
        assert_eq!(tasks.len(), 1);
        drop(tx);
        assert!(tasks.join(Duration::from_secs(5)).await);
        assert!(tasks.is_empty());
        // Still usable after a join.
        tasks.spawn(async {});
        assert!(tasks.join(Duration::from_secs(5)).await);
    }
}

//! A client connection's state: the one place it lives.
//!
//! [`Session`] is what the connection's own task reads and changes as commands run (protocol,
//! authentication, READONLY, QUIT). [`ClientHandle`] is the part other connections see through
//! the node's client list (CLIENT LIST, CLIENT KILL): the protocol and READONLY live there
//! once, in atomics, and the session reads them from it, so the two can never disagree. A MULTI
//! queue and the keys WATCH saw live in the session ([`Transaction`], [`WatchedKey`]); pub/sub
//! subscriptions will live here too.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::commands::args::Argv;
use crate::commands::table::CommandSpec;
use crate::commands::transaction::Seen;

/// What CLIENT LIST shows of a connection that changes as it runs (besides the protocol and
/// READONLY, which the handle keeps in atomics).
#[derive(Clone, Debug)]
pub struct ClientMeta {
    /// CLIENT SETNAME.
    pub name: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// Last command's full name.
    pub last_cmd: &'static str,
    /// When the last command ran.
    pub last_active: Instant,
    /// Commands queued since MULTI; -1 outside a transaction (CLIENT LIST `multi=`).
    pub multi: i64,
    /// Keys watched (CLIENT LIST `watch=`).
    pub watch: usize,
}

/// A connection's buffers as CLIENT LIST reports them (`qbuf`, `qbuf-free`, `rbs`, `omem`),
/// stored by its own task with relaxed atomics as they change.
#[derive(Default)]
pub struct BufferSizes {
    /// Request bytes received and not yet parsed.
    query: AtomicU64,
    /// The read buffer's capacity.
    read_capacity: AtomicU64,
    /// Reply bytes the client has not taken yet.
    unsent: AtomicU64,
}

impl BufferSizes {
    /// After a read: `pending` unparsed bytes in a buffer of `capacity`.
    pub fn read(&self, pending: usize, capacity: usize) {
        self.query.store(pending as u64, Ordering::Relaxed);
        self.read_capacity.store(capacity as u64, Ordering::Relaxed);
    }

    /// While replies are written: `pending` bytes not taken yet.
    pub fn unsent(&self, pending: usize) {
        self.unsent.store(pending as u64, Ordering::Relaxed);
    }

    /// (query buffer, read buffer capacity, unsent replies), in bytes.
    pub fn sizes(&self) -> (u64, u64, u64) {
        (
            self.query.load(Ordering::Relaxed),
            self.read_capacity.load(Ordering::Relaxed),
            self.unsent.load(Ordering::Relaxed),
        )
    }
}

/// A connected client as the node's client list sees it.
pub struct ClientHandle {
    /// Unique id (CLIENT ID).
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// When it connected.
    pub created: Instant,
    /// Mutable details.
    pub meta: Mutex<ClientMeta>,
    /// Protocol version (2 or 3), chosen with HELLO.
    proto: AtomicU8,
    /// READONLY mode.
    readonly: AtomicBool,
    /// Set by CLIENT KILL; the connection closes.
    pub killed: AtomicBool,
    /// The sizes of its buffers, for CLIENT LIST and INFO clients.
    pub buffers: BufferSizes,
    /// Wakes the connection when killed.
    pub kill_notify: Notify,
    /// Set while the client waits in a blocking pop (CLIENT LIST flag `b`, INFO
    /// blocked_clients, CLIENT UNBLOCK).
    pub blocked: AtomicBool,
    /// CLIENT UNBLOCK: ends the wait, as a timeout or (with `unblock_error`) an error.
    pub unblock: Notify,
    /// CLIENT UNBLOCK … ERROR.
    pub unblock_error: AtomicBool,
}

impl ClientHandle {
    /// A new client, in RESP2, not READONLY, without a name.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> ClientHandle {
        let now = Instant::now();
        ClientHandle {
            id,
            addr,
            laddr,
            created: now,
            meta: Mutex::new(ClientMeta {
                name: String::new(),
                lib_name: String::new(),
                lib_ver: String::new(),
                last_cmd: "NULL",
                last_active: now,
                multi: -1,
                watch: 0,
            }),
            proto: AtomicU8::new(2),
            readonly: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            buffers: BufferSizes::default(),
            kill_notify: Notify::new(),
            blocked: AtomicBool::new(false),
            unblock: Notify::new(),
            unblock_error: AtomicBool::new(false),
        }
    }

    /// A snapshot of the mutable details.
    pub fn meta(&self) -> ClientMeta {
        match self.meta.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Changes the mutable details.
    pub fn update(&self, f: impl FnOnce(&mut ClientMeta)) {
        match self.meta.lock() {
            Ok(mut m) => f(&mut m),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The protocol version.
    pub fn proto(&self) -> u8 {
        self.proto.load(Ordering::Relaxed)
    }

    /// True in READONLY mode.
    pub fn readonly(&self) -> bool {
        self.readonly.load(Ordering::Relaxed)
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
    }
}

/// What MULTI started: the commands queued until EXEC or DISCARD.
#[derive(Default)]
pub struct Transaction {
    /// Queued commands with their specs, in order.
    pub queued: Vec<(Argv, &'static CommandSpec)>,
    /// A command was refused while queueing (unknown, wrong arity, not allowed, CROSSSLOT,
    /// MOVED, OOM …): EXEC answers `-EXECABORT` and runs nothing.
    pub failed: bool,
}

/// A key WATCH saw: what it held then, for EXEC's guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedKey {
    /// The key.
    pub key: Bytes,
    /// Its state when WATCH read it.
    pub seen: Seen,
}

/// Per-connection state the commands may change.
pub struct Session {
    /// Registry entry (id, addresses, name, protocol, READONLY).
    pub handle: Arc<ClientHandle>,
    /// True once AUTH succeeded, or when no password is set.
    pub authenticated: bool,
    /// Set by QUIT, SHUTDOWN and CLIENT KILL of this client: close after the replies are
    /// written; the batch's later requests are not run.
    pub closing: bool,
    /// Set when the client turned out to speak another protocol (an HTTP request: see
    /// `dispatch::is_cross_protocol`): close at once, without writing the batch's replies.
    pub aborted: bool,
    /// Set between MULTI and EXEC / DISCARD.
    pub multi: Option<Transaction>,
    /// The keys WATCH saw, until EXEC, DISCARD, UNWATCH or RESET. Whether they changed is
    /// known only when EXEC's entry applies (by its guard), so CLIENT LIST never shows redis's
    /// `d` flag.
    pub watched: Vec<WatchedKey>,
}

impl Session {
    /// A session for `handle`, authenticated unless the node has a password.
    pub fn new(handle: Arc<ClientHandle>, needs_auth: bool) -> Session {
        Session {
            handle,
            authenticated: !needs_auth,
            closing: false,
            aborted: false,
            multi: None,
            watched: Vec::new(),
        }
    }

    /// Starts a transaction (MULTI).
    pub fn begin_multi(&mut self) {
        self.multi = Some(Transaction::default());
        self.handle.update(|m| m.multi = 0);
    }

    /// Queues a command of the transaction; false outside one.
    pub fn queue(&mut self, argv: Argv, spec: &'static CommandSpec) -> bool {
        let Some(tx) = self.multi.as_mut() else {
            return false;
        };
        tx.queued.push((argv, spec));
        let n = tx.queued.len() as i64;
        self.handle.update(|m| m.multi = n);
        true
    }

    /// Marks the transaction as failed (a command was refused while queueing); nothing outside
    /// one, as redis's `flagTransaction`.
    pub fn fail_transaction(&mut self) {
        if let Some(tx) = self.multi.as_mut() {
            tx.failed = true;
        }
    }

    /// Ends the transaction and forgets the watched keys (EXEC, DISCARD, RESET): returns what
    /// was queued and what was watched.
    pub fn end_multi(&mut self) -> (Option<Transaction>, Vec<WatchedKey>) {
        let tx = self.multi.take();
        let watched = std::mem::take(&mut self.watched);
        self.handle.update(|m| {
            m.multi = -1;
            m.watch = 0;
        });
        (tx, watched)
    }

    /// Adds keys WATCH saw (a key watched already keeps what was seen first, as redis's).
    pub fn watch(&mut self, keys: Vec<WatchedKey>) {
        for k in keys {
            if !self.watched.iter().any(|w| w.key == k.key) {
                self.watched.push(k);
            }
        }
        let n = self.watched.len();
        self.handle.update(|m| m.watch = n);
    }

    /// Forgets the watched keys (UNWATCH).
    pub fn unwatch(&mut self) {
        self.watched.clear();
        self.handle.update(|m| m.watch = 0);
    }

    /// The protocol version replies are encoded in.
    pub fn proto(&self) -> u8 {
        self.handle.proto()
    }

    /// Switches the protocol version (HELLO, RESET).
    pub fn set_proto(&mut self, proto: u8) {
        self.handle.proto.store(proto, Ordering::Relaxed);
    }

    /// True in READONLY mode (reads of followed shards served from this replica).
    pub fn readonly(&self) -> bool {
        self.handle.readonly()
    }

    /// READONLY / READWRITE.
    pub fn set_readonly(&mut self, readonly: bool) {
        self.handle.readonly.store(readonly, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_and_the_client_list_see_one_protocol_and_mode() {
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let handle = Arc::new(ClientHandle::new(7, addr, addr));
        let mut session = Session::new(handle.clone(), true);
        assert!(!session.authenticated);
        assert_eq!((session.proto(), handle.proto()), (2, 2));
        session.set_proto(3);
        session.set_readonly(true);
        assert_eq!(handle.proto(), 3);
        assert!(handle.readonly());
        assert_eq!(handle.meta().last_cmd, "NULL");
    }
}

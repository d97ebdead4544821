//! A client connection's state: the one place it lives.
//!
//! [`Session`] is what the connection's own task reads and changes as commands run (protocol,
//! authentication, READONLY, QUIT). [`ClientHandle`] is the part other connections see through
//! the node's client list (CLIENT LIST, CLIENT KILL): the protocol and READONLY live there
//! once, in atomics, and the session reads them from it, so the two can never disagree. MULTI
//! queues and pub/sub subscriptions will live here too.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

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
}

impl Session {
    /// A session for `handle`, authenticated unless the node has a password.
    pub fn new(handle: Arc<ClientHandle>, needs_auth: bool) -> Session {
        Session {
            handle,
            authenticated: !needs_auth,
            closing: false,
            aborted: false,
        }
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

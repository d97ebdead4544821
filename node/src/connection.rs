//! One client connection: read, parse a batch, run it, write the replies once.
//!
//! Each read may bring many pipelined requests. All complete requests in the buffer form one
//! *batch*, handed to [`dispatch`] (the clock is read once for the batch, each shard involved gets
//! one message with all of the batch's commands for it), and the replies go out in request order
//! with one write. The connection's state (protocol, authentication, READONLY, name) is its
//! [`Session`].

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::dispatch;
use crate::protocol::{Frame, Output, RequestParser};
use crate::server::ServerState;
use crate::session::{ClientHandle, Session};
use crate::tasks::Tasks;

/// Smallest free space kept in the read buffer before a read.
const READ_CHUNK: usize = 16 * 1024;
/// Largest single growth of the read buffer for a large announced argument.
const MAX_READ_RESERVE: usize = 1024 * 1024;
/// Most requests of a read that are run together; a longer pipeline runs as several batches.
const BATCH_MAX_REQUESTS: usize = 256;
/// Reply bytes a batch aims at: a batch takes as many requests as this holds at the average
/// reply size of the connection's last batch (at least one), so that a pipeline of GETs of
/// large values is not answered whole into memory before the client takes any of it.
const BATCH_REPLY_BUDGET: usize = 256 * 1024;
/// The average reply size assumed before a connection's first batch (a first batch of 16).
const FIRST_REPLY_GUESS: usize = 16 * 1024;
/// Replies that make the connection write before it runs the next batch of the same read, so
/// that what a pipeline's replies hold at once stays near this (plus one batch's replies).
const WRITE_AT: usize = 64 * 1024;

/// A client connection.
pub struct Connection;

impl Connection {
    /// Serves `socket` until the client leaves, is killed, times out or the node stops.
    pub async fn serve(mut socket: TcpStream, addr: SocketAddr, state: Arc<ServerState>) {
        if state.client_count() >= state.runtime.maxclients.load(Ordering::Relaxed) {
            state
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            let _ = socket
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
            return;
        }
        let handle = Arc::new(ClientHandle::new(
            state.next_client_id(),
            addr,
            socket.local_addr().unwrap_or(state.local_addr),
        ));
        if let Ok(mut clients) = state.clients.lock() {
            clients.insert(handle.id, handle.clone());
        }
        let mut session = Session::new(handle.clone(), state.requirepass().is_some());
        if let Err(e) = serve_loop(&mut socket, &state, &mut session).await {
            debug!(client = handle.id, error = %e, "connection closed with error");
        }
        if let Ok(mut clients) = state.clients.lock() {
            clients.remove(&handle.id);
        }
    }
}

async fn serve_loop(
    socket: &mut TcpStream,
    state: &Arc<ServerState>,
    session: &mut Session,
) -> std::io::Result<()> {
    let mut parser = RequestParser::new(state.runtime.proto_max_bulk_len.load(Ordering::Relaxed));
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Output::with_capacity(READ_CHUNK);
    let mut requests = Vec::new();
    // The average reply size of the last batch: how many requests the next one takes.
    let mut reply_size = FIRST_REPLY_GUESS;
    // Bytes read into the current read buffer's allocation.
    let mut read_into_buf = 0usize;
    // This connection's snapshot of the node's groups, refreshed before each batch (free while
    // they do not change; see `raft::registry`).
    let mut groups = state.groups.load();
    // Bytes a blocked command's watch read while the client waited, not yet parsed.
    let mut read_while_blocked = 0usize;
    loop {
        // Grow only once the free space runs low: growing a buffer that still has room would
        // copy (and so bring into memory) its whole capacity, received or not, and a client
        // that announces a huge argument and sends a little would cost a megabyte each.
        if buf.capacity() - buf.len() < READ_CHUNK {
            let want = parser
                .needed()
                .saturating_sub(buf.len())
                .clamp(READ_CHUNK, MAX_READ_RESERVE);
            buf.reserve(want);
        }
        let n = if read_while_blocked > 0 {
            // What arrived while a command waited is parsed before reading more.
            std::mem::take(&mut read_while_blocked)
        } else {
            let idle = client_timeout(state);
            let n = tokio::select! {
                r = socket.read_buf(&mut buf) => r?,
                _ = session.handle.kill_notify.notified() => return Ok(()),
                () = state.shutdown.wait() => return Ok(()),
                _ = idle => return Ok(()),
            };
            if n == 0 || session.handle.killed.load(Ordering::Relaxed) {
                return Ok(());
            }
            state
                .stats
                .net_input_bytes
                .fetch_add(n as u64, Ordering::Relaxed);
            n
        };
        parser.set_max_bulk_len(state.runtime.proto_max_bulk_len.load(Ordering::Relaxed));
        let parsed = parser.parse(&mut buf, session.authenticated, &mut requests);
        session.handle.buffers.read(buf.len(), buf.capacity());
        if buf.len() as u64
            > state
                .runtime
                .client_query_buffer_limit
                .load(Ordering::Relaxed)
        {
            // Redis closes such a client without a reply, and says so in its log.
            warn!(
                client = session.handle.id,
                addr = %session.handle.addr,
                qbuf = buf.len(),
                "closing a client that reached the query buffer limit (client-query-buffer-limit)"
            );
            return Ok(());
        }
        while !requests.is_empty() {
            let take = (BATCH_REPLY_BUDGET / reply_size.max(1)).clamp(1, BATCH_MAX_REQUESTS);
            let rest = match requests.len() > take {
                true => requests.split_off(take),
                false => Vec::new(),
            };
            let (count, before) = (requests.len(), out.len());
            state.groups.refresh(&mut groups);
            let mut watch = SocketWatch {
                socket,
                buf: &mut buf,
                state,
                handle: session.handle.clone(),
                read: &mut read_while_blocked,
            };
            dispatch::run_batch(state, &groups, session, &mut requests, &mut out, &mut watch).await;
            let ran = count - requests.len();
            reply_size = (out.len() - before) / ran.max(1);
            if session.aborted {
                return Ok(());
            }
            // A blocking command stopped the batch before it: what came before is answered
            // first.
            let stopped_at_blocking = !requests.is_empty();
            requests.extend(rest);
            if !requests.is_empty()
                && (out.len() >= WRITE_AT || stopped_at_blocking)
                && !flush(socket, &mut out, state, session).await?
            {
                return Ok(());
            }
        }
        if let Err(e) = &parsed {
            out.push(session.proto(), Frame::error_owned(e.reply_text()));
            debug!(client = session.handle.id, error = %e.0, "protocol error");
        }
        if !out.is_empty() && !flush(socket, &mut out, state, session).await? {
            return Ok(());
        }
        if parsed.is_err() || session.closing {
            let _ = socket.shutdown().await;
            return Ok(());
        }
        read_into_buf += n;
        if buf.is_empty() && read_into_buf > MAX_READ_RESERVE {
            // A large request (or much traffic) went through this allocation: let it go, and
            // with it what a large request made it grow to (the batch's arguments were copied
            // out of it, or keep alive only what they hold: see `ShardCommand::detach_all`),
            // rather than keep it for as long as the client stays. The rest of the buffer still
            // points into the allocation, whatever its own capacity says.
            buf = BytesMut::with_capacity(READ_CHUNK);
            read_into_buf = 0;
        }
    }
}

/// Watches a client while one of its commands waits (BLPOP …): reads what it sends meanwhile
/// into its read buffer (parsed once the command is answered), and sees it go.
struct SocketWatch<'a> {
    socket: &'a mut TcpStream,
    buf: &'a mut BytesMut,
    state: &'a ServerState,
    handle: Arc<ClientHandle>,
    /// Bytes read so far.
    read: &'a mut usize,
}

impl dispatch::blocking::ClientWatch for SocketWatch<'_> {
    async fn closed(&mut self) {
        loop {
            if self.buf.capacity() - self.buf.len() < READ_CHUNK {
                self.buf.reserve(READ_CHUNK);
            }
            let n = tokio::select! {
                r = self.socket.read_buf(self.buf) => r,
                _ = self.handle.kill_notify.notified() => return,
                () = self.state.shutdown.wait() => return,
            };
            match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    *self.read += n;
                    self.state
                        .stats
                        .net_input_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                    let limit = self
                        .state
                        .runtime
                        .client_query_buffer_limit
                        .load(Ordering::Relaxed);
                    if self.buf.len() as u64 > limit {
                        warn!(
                            client = self.handle.id,
                            qbuf = self.buf.len(),
                            "closing a blocked client that reached the query buffer limit"
                        );
                        return;
                    }
                }
            }
        }
    }
}

/// Completes after the `timeout` setting's seconds (never while it is 0): how long a client
/// may go without sending a request, or without taking a byte of its replies.
fn client_timeout(state: &ServerState) -> impl std::future::Future<Output = ()> {
    let timeout = state.runtime.timeout.load(Ordering::Relaxed);
    async move {
        if timeout == 0 {
            std::future::pending::<()>().await
        } else {
            tokio::time::sleep(Duration::from_secs(timeout)).await
        }
    }
}

/// Writes the replies in `out` and empties it. `Ok(false)`: the connection is to close.
async fn flush(
    socket: &mut TcpStream,
    out: &mut Output,
    state: &ServerState,
    session: &Session,
) -> std::io::Result<bool> {
    if !write_replies(socket, out, state, session).await? {
        return Ok(false);
    }
    state
        .stats
        .net_output_bytes
        .fetch_add(out.len() as u64, Ordering::Relaxed);
    out.clear(READ_CHUNK);
    Ok(true)
}

/// Writes a batch's replies. A client that stops reading fills its socket buffer and the write
/// waits: it still ends on CLIENT KILL, and after `timeout` seconds without the client taking
/// any byte (redis counts a write as activity too). The replies it has not taken are its output
/// buffer: past the hard limit of `client-output-buffer-limit normal`, or past the soft limit
/// for its seconds, the client is closed, as redis closes it. `Ok(false)`: the connection is to
/// close.
async fn write_replies(
    socket: &mut TcpStream,
    out: &mut Output,
    state: &ServerState,
    session: &Session,
) -> std::io::Result<bool> {
    let limit = state.runtime.output_limits.normal();
    let over_limit = |pending: usize| {
        warn!(
            client = session.handle.id,
            addr = %session.handle.addr,
            omem = pending,
            "closing a client for overcoming of output buffer limits (client-output-buffer-limit)"
        );
        Ok(false)
    };
    if limit.hard > 0 && out.len() as u64 > limit.hard {
        return over_limit(out.len());
    }
    let mut written = 0;
    // When the unsent replies went past the soft limit (and have stayed past it since).
    let mut over_soft_since: Option<tokio::time::Instant> = None;
    while written < out.len() {
        let pending = out.len() - written;
        session.handle.buffers.unsent(pending);
        if limit.soft > 0 && pending as u64 > limit.soft {
            let since = *over_soft_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= Duration::from_secs(limit.soft_seconds) {
                session.handle.buffers.unsent(0);
                return over_limit(pending);
            }
        } else {
            over_soft_since = None;
        }
        let soft_deadline = async {
            match over_soft_since {
                Some(since) => {
                    tokio::time::sleep_until(since + Duration::from_secs(limit.soft_seconds)).await
                }
                None => std::future::pending().await,
            }
        };
        let stalled = client_timeout(state);
        tokio::select! {
            n = socket.write(out.from(written)) => match n? {
                0 => return Ok(false),
                n => written += n,
            },
            _ = session.handle.kill_notify.notified() => return Ok(false),
            _ = stalled => {
                debug!(client = session.handle.id, "closing a client that stopped reading");
                return Ok(false);
            }
            () = soft_deadline => {}
        }
        if session.handle.killed.load(Ordering::Relaxed) {
            return Ok(false);
        }
    }
    session.handle.buffers.unsent(0);
    Ok(true)
}

/// Accepts clients on `listener` until shutdown begins, serving each in a task of `tasks`.
///
/// A failing `accept` (EMFILE when descriptors run out) is retried after a pause that doubles up
/// to a second while it keeps failing, and logged once per pause rather than per attempt.
pub async fn accept_loop(listener: TcpListener, state: Arc<ServerState>, tasks: Tasks) {
    const FIRST_PAUSE: Duration = Duration::from_millis(10);
    const LONGEST_PAUSE: Duration = Duration::from_secs(1);
    let mut pause = FIRST_PAUSE;
    let mut failures = 0u64;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = state.shutdown.wait() => break,
        };
        let (socket, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                failures += 1;
                warn!(error = %e, failures, retry_in_ms = pause.as_millis() as u64, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = state.shutdown.wait() => break,
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
                continue;
            }
        };
        if failures > 0 {
            info!(failures, "accepting clients again");
            failures = 0;
            pause = FIRST_PAUSE;
        }
        let _ = socket.set_nodelay(true);
        state
            .stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let state = state.clone();
        tasks.spawn(async move {
            Connection::serve(socket, addr, state).await;
        });
    }
    info!("no longer accepting clients");
}

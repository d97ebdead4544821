//! The gRPC transport between nodes (schema in `proto/raft.proto`).
//!
//! Every group on a node talks to a given peer over the same HTTP/2 connection: [`Peers`] keeps
//! one lazily connected channel per peer, and each group's [`GrpcNetwork`] shares it. Raft
//! messages travel as bincode payloads inside [`pb::GroupRpc`]s tagged with their group, in
//! [`pb::RpcBatch`]es carrying an [`pb::Envelope`] that the receiver checks (cluster id, wire
//! version) before anything reaches Raft. Snapshots stream in 1 MiB chunks, one call each.
//!
//! Batching: the RPCs that the node's groups send to one peer are coalesced. Each peer has two
//! lanes, each a bounded queue drained by one task: the control lane carries heartbeats (appends
//! without entries), votes and leadership transfers, the data lane appends with entries, so a
//! large append never holds up the heartbeats that keep leaders in office. A lane's task takes
//! the first queued RPC, waits for one of its few slots for batches in flight
//! ([`CONTROL_BATCHES_IN_FLIGHT`], [`DATA_BATCHES_IN_FLIGHT`]), on the control lane yields once
//! (so the rest of a heartbeat round can queue), then adds whatever else is queued by then (at
//! most [`BATCH_MAX_RPCS`] RPCs and about [`BATCH_MAX_BYTES`] of payload) and sends them all as
//! one [`pb::RpcBatch`].
//!
//! Streams: each lane sends its batches on one long-lived `Stream` call to its peer, not one
//! unary `Call` each. A unary call costs a new HTTP/2 stream, request and response headers and a
//! task on the server; profiled on a local 3-node cluster, that was close to half of a node's CPU
//! under replicated writes. On the stream a batch is one message and its reply another, matched
//! by a sequence number (the peer serves a stream's batches concurrently and answers each when it
//! is done). A reply is handed back to each caller of the batch in order. When the stream breaks
//! (the peer went away, the connection reset) every batch waiting on it fails as unreachable and
//! the lane opens a new stream for its next batch; a batch whose callers' deadline passes without
//! a reply fails alone, and its slot is free again. An RPC whose caller gave up (its timeout
//! passed) while it was queued is not sent. The groups' heartbeats are due at the same moments
//! (see `raft::group`), so each round reaches a peer as one batch or a few. [`Peers`] counts the
//! RPCs and the batches it sent (shown by `INFO replication`). Requests outside Raft's own
//! traffic (forwarded writes, leader hints) still use the unary `Call`.
//!
//! The receiving side is `service.rs`'s `TransportService`: it checks the envelope, then runs the
//! RPCs of a batch concurrently, each handed to its group's Raft handle, and answers them in
//! order; one RPC's failure is its own [`pb::GroupReply::error`] and leaves the others alone.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::BasicNode;
use proto::raft as pb;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{GroupId, ShardTC};
use crate::codec::{decode, encode};
use crate::tasks::Tasks;

type Client = pb::raft_transport_client::RaftTransportClient<tonic::transport::Channel>;

/// Size of the chunks a snapshot is streamed in.
const SNAPSHOT_CHUNK: usize = 1 << 20;
/// Largest gRPC message either side accepts (an append of many large values can be big).
pub(super) const MAX_MESSAGE: usize = 1 << 30;
/// Most RPCs in one batch.
pub const BATCH_MAX_RPCS: usize = 64;
/// Most payload bytes in one batch; a single larger RPC goes alone.
pub const BATCH_MAX_BYTES: usize = 4 << 20;
/// Batches of a peer's control lane in flight at once; the lane's queue fills meanwhile. Its RPCs
/// are answered at once, and fewer slots make fuller batches of each heartbeat round.
pub const CONTROL_BATCHES_IN_FLIGHT: usize = 2;
/// Batches of a peer's data lane in flight at once: appends wait for the follower's log write,
/// and more slots let the appends of other groups go meanwhile.
pub const DATA_BATCHES_IN_FLIGHT: usize = 4;
/// Batches of one incoming stream served at once.
pub(super) const STREAM_BATCHES_IN_SERVICE: usize = 16;
/// RPCs a lane queues before the groups sending to it wait.
const LANE_QUEUE: usize = 1024;

/// This node's side of every call: who is calling, in which cluster.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// Cluster id; a node refuses calls from another cluster.
    pub cluster_id: u64,
    /// This node's id.
    pub node_id: u64,
}

impl Identity {
    /// The envelope of a call to node `to`.
    fn envelope(&self, to: u64) -> pb::Envelope {
        pb::Envelope {
            cluster_id: self.cluster_id,
            from_node: self.node_id,
            wire_version: proto::WIRE_VERSION,
            to_node: to,
        }
    }
}

/// Why a queued RPC got no reply: the call failed (the peer is taken as unreachable, as for an
/// unbatched call), or the peer's answer was unusable.
#[derive(Debug)]
enum LaneError {
    Unreachable(String),
    Network(String),
}

/// One RPC waiting in a lane, with its caller's deadline and where its reply goes.
struct Pending {
    rpc: pb::GroupRpc,
    deadline: Instant,
    reply: oneshot::Sender<Result<pb::GroupReply, LaneError>>,
}

/// Which lane of a peer an RPC takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    /// Heartbeats, votes, leadership transfers: small and urgent.
    Control,
    /// Appends with entries.
    Data,
}

/// The way to one peer: its channel (for snapshots) and the queues of its two lanes.
#[derive(Clone)]
struct Link {
    client: Client,
    control: mpsc::Sender<Pending>,
    data: mpsc::Sender<Pending>,
}

impl Lane {
    fn batches_in_flight(self) -> usize {
        match self {
            Lane::Control => CONTROL_BATCHES_IN_FLIGHT,
            Lane::Data => DATA_BATCHES_IN_FLIGHT,
        }
    }
}

impl Link {
    fn lane(&self, lane: Lane) -> &mpsc::Sender<Pending> {
        match lane {
            Lane::Control => &self.control,
            Lane::Data => &self.data,
        }
    }
}

/// What this node has sent.
#[derive(Default)]
struct Counters {
    rpcs: AtomicU64,
    batches: AtomicU64,
}

/// One channel and two batching lanes per peer, shared by every group of this node.
pub struct Peers {
    identity: Identity,
    links: Mutex<HashMap<u64, (String, Link)>>,
    counters: Arc<Counters>,
    addresses: HashMap<u64, String>,
    /// Where the lanes' tasks run.
    tasks: Tasks,
    /// Set by [`Peers::close`]: no new link is made after it.
    closed: AtomicBool,
}

impl Peers {
    /// No connections yet; they are made on first use, their tasks in `tasks`. `addresses`:
    /// where this node's config says each peer's Raft port is (used instead of the address in
    /// the group membership, which is the bootstrap node's view: a node may reach a peer through
    /// a proxy).
    pub fn new(identity: Identity, addresses: HashMap<u64, String>, tasks: &Tasks) -> Arc<Peers> {
        Arc::new(Peers {
            identity,
            links: Mutex::new(HashMap::new()),
            counters: Arc::new(Counters::default()),
            addresses,
            tasks: tasks.clone(),
            closed: AtomicBool::new(false),
        })
    }

    /// Lets go of every link, so that each lane's task ends once the groups holding it have
    /// stopped (the node shuts down), and makes no new one: a call after this fails as
    /// unreachable.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        lock(&self.links).clear();
    }

    /// The address of peer `id`: this node's config's, else `fallback`.
    pub fn address<'a>(&'a self, id: u64, fallback: &'a str) -> &'a str {
        self.addresses.get(&id).map_or(fallback, String::as_str)
    }

    /// Raft RPCs sent to peers so far (snapshots not included).
    pub fn rpcs_sent(&self) -> u64 {
        self.counters.rpcs.load(Ordering::Relaxed)
    }

    /// `Call`s sent to peers so far, each a batch of one or more RPCs.
    pub fn batches_sent(&self) -> u64 {
        self.counters.batches.load(Ordering::Relaxed)
    }

    /// The link to peer `id` at `addr`; a new one (channel and lanes) when the address changed.
    /// The old link's lanes stop once the last group holding it lets go.
    fn link(&self, id: u64, addr: &str) -> Result<Link, io::Error> {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if self.closed.load(Ordering::SeqCst) {
            return Err(io::Error::other("the node is shutting down"));
        }
        if let Some((known, link)) = links.get(&id) {
            if known == addr {
                return Ok(link.clone());
            }
        }
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(io::Error::other)?
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .connect_lazy();
        let client = Client::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let spawn_lane = |lane: Lane| {
            let (tx, rx) = mpsc::channel(LANE_QUEUE);
            self.tasks.spawn(run_lane(
                lane,
                id,
                client.clone(),
                self.identity,
                rx,
                self.counters.clone(),
                self.tasks.clone(),
            ));
            tx
        };
        let link = Link {
            control: spawn_lane(Lane::Control),
            data: spawn_lane(Lane::Data),
            client: client.clone(),
        };
        links.insert(id, (addr.to_string(), link.clone()));
        Ok(link)
    }
}

/// Drains `lane` of peer `target`: batches what is queued and sends each batch as one `Call`,
/// a few at a time. Ends when every sender is gone. Its streams' readers run in `tasks`.
async fn run_lane(
    lane: Lane,
    target: u64,
    client: Client,
    identity: Identity,
    mut queue: mpsc::Receiver<Pending>,
    counters: Arc<Counters>,
    tasks: Tasks,
) {
    let mut client = client;
    let slots = Arc::new(Semaphore::new(lane.batches_in_flight()));
    let mut carried: Option<Pending> = None;
    let mut stream: Option<LaneStream> = None;
    let mut seq = 0u64;
    loop {
        let first = match carried.take() {
            Some(p) => p,
            None => match queue.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        // While every slot is busy the queue fills, and the next batch takes it all.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Control: lets the tasks that are ready (the other groups of the same heartbeat round)
        // queue their RPCs before the batch is cut. Not for appends, whose latency sets a busy
        // group's write throughput: they share batches when they queue up behind busy slots.
        if lane == Lane::Control {
            tokio::task::yield_now().await;
        }
        let mut bytes = first.rpc.payload.len();
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX_RPCS {
            match queue.try_recv() {
                Ok(p) if bytes + p.rpc.payload.len() > BATCH_MAX_BYTES => {
                    carried = Some(p);
                    break;
                }
                Ok(p) => {
                    bytes += p.rpc.payload.len();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        // Callers that timed out while queued are not waiting any more.
        batch.retain(|p| !p.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        counters
            .rpcs
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        let deadline = batch
            .iter()
            .map(|p| p.deadline)
            .max()
            .unwrap_or_else(Instant::now);
        let (rpcs, waiters): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.rpc, p.reply)).unzip();
        if stream.as_ref().is_none_or(LaneStream::is_broken) {
            stream = None;
            match LaneStream::open(&mut client, target, deadline, lane, &tasks).await {
                Ok(s) => stream = Some(s),
                Err(e) => {
                    tracing::debug!(node = target, error = %e, "raft stream not opened");
                    fail(waiters, &e);
                    continue;
                }
            }
        }
        let Some(open) = &stream else {
            continue;
        };
        seq += 1;
        let batch = pb::RpcBatch {
            envelope: Some(identity.envelope(target)),
            rpcs,
            seq,
        };
        open.send(seq, batch, waiters, deadline, slot).await;
    }
}

/// A lane's stream to its peer: batches go out on it, and their replies come back on it in
/// whatever order the peer finishes them, matched by seq. A reader task delivers the replies;
/// when the stream breaks it fails every batch still waiting and marks the stream broken, and
/// the lane opens a new one for its next batch.
struct LaneStream {
    tx: mpsc::Sender<pb::RpcBatch>,
    waiting: Arc<Mutex<HashMap<u64, Waiting>>>,
    broken: Arc<AtomicBool>,
}

/// A batch sent on a stream and not yet answered; it holds one of the lane's slots.
struct Waiting {
    waiters: Vec<oneshot::Sender<Result<pb::GroupReply, LaneError>>>,
    deadline: Instant,
    _slot: OwnedSemaphorePermit,
}

/// How often a stream's reader gives up on batches whose callers' deadlines have passed (their
/// slots are then free again, as a unary call's would be after its timeout).
const EXPIRY_TICK: Duration = Duration::from_millis(50);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tells every caller of a batch that it got no reply.
fn fail(waiters: Vec<oneshot::Sender<Result<pb::GroupReply, LaneError>>>, error: &str) {
    for waiter in waiters {
        let _ = waiter.send(Err(LaneError::Unreachable(error.to_string())));
    }
}

impl LaneStream {
    /// Opens a stream to `target`, waiting at most until `deadline` for the peer to accept it;
    /// its reader runs in `tasks` (and ends with the stream, which ends when the lane drops it).
    async fn open(
        client: &mut Client,
        target: u64,
        deadline: Instant,
        lane: Lane,
        tasks: &Tasks,
    ) -> Result<LaneStream, String> {
        let (tx, rx) = mpsc::channel(lane.batches_in_flight());
        let request = tokio_stream::wrappers::ReceiverStream::new(rx);
        let replies = match tokio::time::timeout_at(deadline, client.stream(request)).await {
            Err(_) => return Err(format!("node {target}: stream not accepted in time")),
            Ok(Err(status)) => return Err(format!("node {target}: {status}")),
            Ok(Ok(response)) => response.into_inner(),
        };
        let waiting = Arc::new(Mutex::new(HashMap::new()));
        let broken = Arc::new(AtomicBool::new(false));
        tasks.spawn(read_replies(
            replies,
            waiting.clone(),
            broken.clone(),
            target,
        ));
        Ok(LaneStream {
            tx,
            waiting,
            broken,
        })
    }

    fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    /// Sends batch `seq`; its callers hear the reply, or the failure, from the reader.
    async fn send(
        &self,
        seq: u64,
        batch: pb::RpcBatch,
        waiters: Vec<oneshot::Sender<Result<pb::GroupReply, LaneError>>>,
        deadline: Instant,
        slot: OwnedSemaphorePermit,
    ) {
        // Registered before it is sent, so the reply cannot come first. Checked for a break after
        // registering: the reader marks the stream broken before it fails what is waiting, so a
        // batch is failed exactly once, by whichever of the two removes it.
        lock(&self.waiting).insert(
            seq,
            Waiting {
                waiters,
                deadline,
                _slot: slot,
            },
        );
        let sent = !self.is_broken() && self.tx.send(batch).await.is_ok();
        if !sent {
            self.broken.store(true, Ordering::Release);
            if let Some(w) = lock(&self.waiting).remove(&seq) {
                fail(w.waiters, "raft stream closed");
            }
        }
    }
}

/// Hands each reply batch to the callers of the batch it answers, and fails batches whose
/// deadline passed; when the stream ends, fails everything still waiting.
async fn read_replies(
    mut replies: tonic::Streaming<pb::ReplyBatch>,
    waiting: Arc<Mutex<HashMap<u64, Waiting>>>,
    broken: Arc<AtomicBool>,
    target: u64,
) {
    let mut tick = tokio::time::interval(EXPIRY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let error = loop {
        tokio::select! {
            message = replies.message() => match message {
                Ok(Some(reply)) => {
                    let answered = lock(&waiting).remove(&reply.seq);
                    if let Some(w) = answered {
                        deliver(target, w.waiters, reply.replies);
                    }
                }
                Ok(None) => break format!("node {target}: raft stream ended"),
                Err(status) => break format!("node {target}: {status}"),
            },
            _ = tick.tick() => {
                let now = Instant::now();
                let expired: Vec<Waiting> = {
                    let mut w = lock(&waiting);
                    let due: Vec<u64> =
                        w.iter().filter(|(_, b)| b.deadline <= now).map(|(s, _)| *s).collect();
                    due.into_iter().filter_map(|s| w.remove(&s)).collect()
                };
                for w in expired {
                    fail(w.waiters, "no reply in time");
                }
            }
        }
    };
    tracing::debug!(node = target, error = %error, "raft stream closed");
    broken.store(true, Ordering::Release);
    let rest: Vec<Waiting> = lock(&waiting).drain().map(|(_, w)| w).collect();
    for w in rest {
        fail(w.waiters, &error);
    }
}

/// Hands each caller of a batch its reply, in order.
fn deliver(
    target: u64,
    waiters: Vec<oneshot::Sender<Result<pb::GroupReply, LaneError>>>,
    replies: Vec<pb::GroupReply>,
) {
    if replies.len() != waiters.len() {
        tracing::warn!(
            node = target,
            sent = waiters.len(),
            replies = replies.len(),
            "raft batch answered with the wrong number of replies"
        );
    }
    let mut replies = replies.into_iter();
    for waiter in waiters {
        let reply = replies
            .next()
            .ok_or_else(|| LaneError::Network("no reply in the batch".to_string()));
        let _ = waiter.send(reply);
    }
}

impl Peers {
    /// Sends one request outside Raft's own traffic (a forwarded write, the leader exchange) to
    /// node `target` at `addr` and waits at most `timeout` for its reply.
    pub async fn request(
        &self,
        target: u64,
        addr: &str,
        rpc: pb::GroupRpc,
        timeout: Duration,
    ) -> Result<pb::GroupReply, String> {
        let mut client = self.link(target, addr).map_err(|e| e.to_string())?.client;
        let batch = pb::RpcBatch {
            envelope: Some(self.identity.envelope(target)),
            rpcs: vec![rpc],
            seq: 0,
        };
        let reply = tokio::time::timeout(timeout, client.call(batch))
            .await
            .map_err(|_| format!("node {target}: no reply within {timeout:?}"))?
            .map_err(|s| format!("node {target}: {s}"))?
            .into_inner();
        reply
            .replies
            .into_iter()
            .next()
            .ok_or_else(|| format!("node {target}: empty reply"))
    }
}

/// The transport factory of one group.
#[derive(Clone)]
pub struct GrpcNetwork {
    group: GroupId,
    peers: Arc<Peers>,
}

impl GrpcNetwork {
    /// The transport of `group` over the node's shared peer channels.
    pub fn new(group: GroupId, peers: Arc<Peers>) -> GrpcNetwork {
        GrpcNetwork { group, peers }
    }
}

/// One group's connection to one peer.
pub struct GrpcPeer {
    group: GroupId,
    target: u64,
    link: Result<Link, String>,
    identity: Identity,
}

impl RaftNetworkFactory<ShardTC> for GrpcNetwork {
    type Network = GrpcPeer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> GrpcPeer {
        GrpcPeer {
            group: self.group,
            target,
            link: self
                .peers
                .link(target, self.peers.address(target, &node.addr))
                .map_err(|e| e.to_string()),
            identity: self.peers.identity,
        }
    }
}

fn unreachable(e: impl std::fmt::Display) -> Unreachable<ShardTC> {
    Unreachable::new(&io::Error::other(e.to_string()))
}

fn network(e: impl std::fmt::Display) -> RPCError<ShardTC> {
    RPCError::Network(NetworkError::new(&io::Error::other(e.to_string())))
}

impl GrpcPeer {
    fn link(&self) -> Result<&Link, Unreachable<ShardTC>> {
        self.link.as_ref().map_err(unreachable)
    }

    /// Queues one RPC on `lane` and waits for its reply, at most the option's soft TTL (the
    /// deadline the unbatched call had); running out of time counts as unreachable, like a
    /// failed call.
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        lane: Lane,
        kind: pb::RpcKind,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<ShardTC>> {
        let payload = encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let queue = self.link().map_err(RPCError::Unreachable)?.lane(lane);
        let ttl = option.soft_ttl();
        let deadline = Instant::now() + ttl;
        let (reply_tx, reply_rx) = oneshot::channel();
        let pending = Pending {
            rpc: pb::GroupRpc {
                group_id: self.group,
                kind: kind as i32,
                payload: payload.into(),
            },
            deadline,
            reply: reply_tx,
        };
        let exchange = async {
            queue
                .send(pending)
                .await
                .map_err(|_| LaneError::Unreachable("transport lane closed".to_string()))?;
            reply_rx
                .await
                .map_err(|_| LaneError::Unreachable("batch dropped".to_string()))?
        };
        let target = self.target;
        let reply = match tokio::time::timeout_at(deadline, exchange).await {
            Err(_) => {
                return Err(RPCError::Unreachable(unreachable(format!(
                    "node {target}: no reply within {ttl:?}"
                ))))
            }
            Ok(Err(LaneError::Unreachable(e))) => {
                return Err(RPCError::Unreachable(unreachable(format!(
                    "node {target}: {e}"
                ))))
            }
            Ok(Err(LaneError::Network(e))) => return Err(network(e)),
            Ok(Ok(reply)) => reply,
        };
        if !reply.error.is_empty() {
            return Err(network(reply.error));
        }
        decode(&reply.payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))
    }
}

impl RaftNetworkV2<ShardTC> for GrpcPeer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<ShardTC>, RPCError<ShardTC>> {
        let lane = if rpc.entries.is_empty() {
            Lane::Control
        } else {
            Lane::Data
        };
        self.call(lane, pb::RpcKind::AppendEntries, &rpc, &option)
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<VoteResponse<ShardTC>, RPCError<ShardTC>> {
        self.call(Lane::Control, pb::RpcKind::Vote, &rpc, &option)
            .await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<VoteResponse<ShardTC>, RPCError<ShardTC>> {
        self.call(Lane::Control, pb::RpcKind::PreVote, &rpc, &option)
            .await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<ShardTC>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<ShardTC>, RPCError<ShardTC>> {
        self.call(Lane::Control, pb::RpcKind::TransferLeader, &req, &option)
            .await
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<ShardTC>,
        snapshot: SnapshotOf<ShardTC, Vec<u8>>,
        cancel: impl std::future::Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<ShardTC>, StreamingError<ShardTC>> {
        let encode_err = |e: io::Error| StreamingError::Network(NetworkError::new(&e));
        let header = pb::SnapshotFrame {
            frame: Some(pb::snapshot_frame::Frame::Header(pb::SnapshotHeader {
                envelope: Some(self.identity.envelope(self.target)),
                group_id: self.group,
                vote: encode(&vote).map_err(encode_err)?.into(),
                meta: encode(&snapshot.meta).map_err(encode_err)?.into(),
            })),
        };
        let data = bytes::Bytes::from(snapshot.snapshot);
        let chunks: Vec<pb::SnapshotFrame> = (0..data.len())
            .step_by(SNAPSHOT_CHUNK)
            .map(|off| pb::SnapshotFrame {
                frame: Some(pb::snapshot_frame::Frame::Chunk(
                    data.slice(off..(off + SNAPSHOT_CHUNK).min(data.len())),
                )),
            })
            .collect();
        let frames = std::iter::once(header).chain(chunks);
        let mut client = self
            .link()
            .map_err(StreamingError::Unreachable)?
            .client
            .clone();
        let send = async move { client.install_snapshot(tokio_stream::iter(frames)).await };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            reply = send => {
                let reply = reply.map_err(|s| StreamingError::Unreachable(unreachable(s)))?.into_inner();
                if !reply.error.is_empty() {
                    return Err(StreamingError::Network(NetworkError::new(&io::Error::other(reply.error))));
                }
                decode(&reply.payload).map_err(|e| StreamingError::Network(NetworkError::new(&e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::future::join_all;
    use openraft::entry::RaftEntry;
    use openraft::type_config::alias::{EntryOf, LeaderIdOf, LogIdOf};
    use openraft::vote::RaftLeaderId;

    use super::*;
    use crate::cluster::LeaderBoard;
    use crate::raft::registry::GroupRegistry;
    use crate::raft::service::{serve_transport as serve, TransportService};

    fn vote_request() -> VoteRequest<ShardTC> {
        VoteRequest::new(<VoteOf<ShardTC>>::new(1, 1), None)
    }

    /// Node 2 of cluster `cluster_id` serving the transport on a loopback port, with no groups.
    async fn node_without_groups(cluster_id: u64) -> BasicNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr").to_string();
        let topology = crate::cluster::Topology::from_config(&Default::default(), "unused");
        let leaders = Arc::new(LeaderBoard::new(&topology, 1));
        let identity = Identity {
            cluster_id,
            node_id: 2,
        };
        let tasks = Tasks::new("test");
        let groups = Arc::new(GroupRegistry::new());
        let wal_dir = std::env::temp_dir().join(format!(
            "shardis-transport-{}-{cluster_id}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&wal_dir);
        let (wal, _) =
            super::super::wal::Wal::open(&wal_dir, super::super::wal::SyncPolicy::No, 1 << 20)
                .expect("a WAL for the service");
        let service = TransportService::new(identity, leaders, groups, wal, &tasks);
        tokio::spawn(serve(service, listener));
        BasicNode { addr }
    }

    /// The peer links of node 1 of cluster 7, not yet connected.
    fn node1_peers() -> Arc<Peers> {
        Peers::new(
            Identity {
                cluster_id: 7,
                node_id: 1,
            },
            HashMap::new(),
            &Tasks::new("test"),
        )
    }

    /// The links of `groups` groups of node 1 of cluster 7 to node 2 at `node`.
    async fn clients(peers: &Arc<Peers>, groups: u64, node: &BasicNode) -> Vec<GrpcPeer> {
        let mut clients = Vec::new();
        for group in 0..groups {
            let mut network = GrpcNetwork::new(group, peers.clone());
            clients.push(network.new_client(2, node).await);
        }
        clients
    }

    #[tokio::test]
    async fn rpcs_of_many_groups_share_one_batch_and_keep_their_own_replies() {
        let node = node_without_groups(7).await;
        let peers = node1_peers();
        let mut clients = clients(&peers, 20, &node).await;
        let option = RPCOption::new(Duration::from_secs(5));
        let results = join_all(
            clients
                .iter_mut()
                .map(|c| c.vote(vote_request(), option.clone())),
        )
        .await;
        // Every RPC reached the peer and got its own answer, in order: its group is unknown there.
        for (group, result) in results.iter().enumerate() {
            match result {
                Err(RPCError::Network(e)) => {
                    let expected = format!("no group {group} on this node");
                    assert!(e.to_string().contains(&expected), "{group}: {e}");
                }
                other => panic!("group {group}: {other:?}"),
            }
        }
        assert_eq!(peers.rpcs_sent(), 20);
        assert_eq!(
            peers.batches_sent(),
            1,
            "the 20 queued RPCs went as one batch"
        );
        // A heartbeat and an append take different lanes, hence different calls.
        let heartbeat = AppendEntriesRequest::<ShardTC> {
            vote: <VoteOf<ShardTC>>::new(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries: vec![],
        };
        let mut append = heartbeat.clone();
        let log_id = LogIdOf::<ShardTC>::new(LeaderIdOf::<ShardTC>::new(1, 1), 1);
        append.entries.push(EntryOf::<ShardTC>::new_blank(log_id));
        let (a, b) = clients.split_at_mut(1);
        let (hb, app) = tokio::join!(
            a[0].append_entries(heartbeat, option.clone()),
            b[0].append_entries(append, option.clone()),
        );
        assert!(matches!(hb, Err(RPCError::Network(_))), "{hb:?}");
        assert!(matches!(app, Err(RPCError::Network(_))), "{app:?}");
        assert_eq!((peers.rpcs_sent(), peers.batches_sent()), (22, 3));
    }

    #[tokio::test]
    async fn a_refused_stream_fails_every_rpc_of_its_batch_as_unreachable() {
        // The peer belongs to another cluster: it refuses the whole stream.
        let node = node_without_groups(8).await;
        let peers = node1_peers();
        let mut clients = clients(&peers, 5, &node).await;
        let option = RPCOption::new(Duration::from_secs(5));
        let results = join_all(
            clients
                .iter_mut()
                .map(|c| c.vote(vote_request(), option.clone())),
        )
        .await;
        for result in &results {
            match result {
                Err(RPCError::Unreachable(e)) => {
                    assert!(e.to_string().contains("cluster"), "{e}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((peers.rpcs_sent(), peers.batches_sent()), (5, 1));
        // The refusal broke the lane's stream; the next RPC opens a new one (and is refused
        // again), rather than waiting on the broken one.
        let again = clients[0]
            .vote(vote_request(), RPCOption::new(Duration::from_secs(5)))
            .await;
        match again {
            Err(RPCError::Unreachable(e)) => assert!(e.to_string().contains("cluster"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!((peers.rpcs_sent(), peers.batches_sent()), (6, 2));
    }

    #[tokio::test]
    async fn a_node_refuses_rpcs_meant_for_another_node() {
        // Node 2 answers at the address node 1 has for node 3 (a reused port, a stale config).
        let node = node_without_groups(7).await;
        let peers = node1_peers();
        let mut client = GrpcNetwork::new(0, peers.clone())
            .new_client(3, &node)
            .await;
        let result = client
            .vote(vote_request(), RPCOption::new(Duration::from_secs(5)))
            .await;
        match result {
            Err(RPCError::Unreachable(e)) => {
                assert!(e.to_string().contains("this is node 2"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_rpc_times_out_at_its_soft_ttl() {
        // A listener that never answers: the caller gives up at 3/4 of the hard TTL.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let node = BasicNode {
            addr: listener.local_addr().expect("local addr").to_string(),
        };
        let peers = node1_peers();
        let mut clients = clients(&peers, 1, &node).await;
        let started = Instant::now();
        let result = clients[0]
            .vote(vote_request(), RPCOption::new(Duration::from_millis(200)))
            .await;
        let waited = started.elapsed();
        assert!(
            matches!(result, Err(RPCError::Unreachable(_))),
            "{result:?}"
        );
        assert!(
            waited >= Duration::from_millis(140) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        drop(listener);
    }
}

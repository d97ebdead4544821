//! A damaged snapshot file replaced, at start-up, by a healthy replica's copy.
//!
//! A group's log is purged up to its snapshot, so when the snapshot file fails its checksums the
//! node cannot rebuild the group from its own disk. A single node can only refuse to start (the
//! error names the file). A replica of a group with other voters asks them, one after the other,
//! for their snapshot file of the group (`FETCH_SNAPSHOT`, in chunks), checks the copy whole and
//! puts it in place, then opens the group as usual; the damaged file is kept beside it.
//!
//! Why this is safe: every snapshot holds committed entries only, and Raft's committed prefix is
//! the same on every replica, so a peer's snapshot at index `Y` is what this node's own would
//! have been at `Y`. It must cover what this node purged (`Y` ≥ its purge point), else entries
//! would be missing between the two. Where `Y` passes this node's own log, openraft purges the
//! log up to it at start; where this node's log holds entries up to `Y` that were never
//! committed, the leader's consistency check truncates them later, as for any follower. The
//! node's vote and its log after the purge point are untouched, so it votes and acknowledges
//! exactly as it would have with its own snapshot.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use proto::raft as pb;
use serde::{Deserialize, Serialize};

use super::transport::Peers;
use super::GroupId;
use crate::codec::{decode, encode};

/// What a node asks a peer for: bytes of its snapshot file of the group from `offset`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChunkRequest {
    pub offset: u64,
    pub max_len: u32,
}

/// What the peer answers: the file's length, an id of the file's version (so that a file
/// replaced by a newer snapshot between two chunks is noticed), and the bytes.
#[derive(Debug, Serialize, Deserialize)]
pub struct Chunk {
    pub total: u64,
    pub version: u32,
    pub bytes: Vec<u8>,
}

/// Bytes asked for per request.
const CHUNK_BYTES: u32 = 4 << 20;
/// How long one chunk may take to arrive.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node keeps asking its peers (they may be starting too) before it gives up.
const PATIENCE: Duration = Duration::from_secs(60);
/// Times a fetch starts over because the peer's file changed under it, per attempt.
const RESTARTS: usize = 3;

/// The peer's side: one chunk of the snapshot file at `path`. The file is opened once per
/// request, so a snapshot renamed over it meanwhile does not mix into the chunk; the version is
/// the checksum of the file's head (which holds its last log id).
pub fn read_chunk(path: &Path, req: &ChunkRequest) -> io::Result<Chunk> {
    let mut file = File::open(path)?;
    let total = file.metadata()?.len();
    let mut header = [0u8; super::state_machine::FILE_HEADER_LEN];
    file.read_exact(&mut header)?;
    let version = super::state_machine::file_version(&header)?;
    let offset = req.offset.min(total);
    file.seek(SeekFrom::Start(offset))?;
    let len = (total - offset).min(u64::from(req.max_len.min(CHUNK_BYTES))) as usize;
    let mut bytes = vec![0u8; len];
    file.read_exact(&mut bytes)?;
    Ok(Chunk {
        total,
        version,
        bytes,
    })
}

/// The asking side: a whole, checked snapshot file of `group` covering at least `min_index`,
/// from the first of `sources` (node id, Raft address) that has one, asking round after round
/// for up to [`PATIENCE`].
pub async fn fetch(
    peers: &Peers,
    group: GroupId,
    sources: &[(u64, String)],
    min_index: u64,
) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + PATIENCE;
    let mut last_error = String::from("no peer holds a replica of the group");
    loop {
        for (id, addr) in sources {
            let fetched = fetch_from(peers, group, *id, addr).await.and_then(|bytes| {
                match super::state_machine::verify_file(&bytes) {
                    Ok(index) if index >= min_index => Ok(bytes),
                    Ok(index) => Err(format!(
                        "its snapshot ends at index {index}, before this node's log starts \
                         ({min_index})"
                    )),
                    Err(e) => Err(format!("its copy is no good either: {e}")),
                }
            });
            match fetched {
                Ok(bytes) => {
                    tracing::info!(group, from = id, bytes = bytes.len(), "fetched a snapshot");
                    return Ok(bytes);
                }
                Err(e) => {
                    tracing::warn!(group, from = id, error = %e, "cannot fetch a snapshot");
                    last_error = format!("node {id}: {e}");
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "no healthy snapshot of group {group} from its other replicas within {}s; last: \
                 {last_error}",
                PATIENCE.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One peer's snapshot file, chunk by chunk, started over if it changes meanwhile.
async fn fetch_from(peers: &Peers, group: GroupId, id: u64, addr: &str) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    let mut version = None;
    let mut restarts = 0;
    loop {
        let request = ChunkRequest {
            offset: out.len() as u64,
            max_len: CHUNK_BYTES,
        };
        let rpc = pb::GroupRpc {
            group_id: group,
            kind: pb::RpcKind::FetchSnapshot as i32,
            payload: encode(&request).map_err(|e| e.to_string())?.into(),
        };
        let reply = peers.request(id, addr, rpc, CHUNK_TIMEOUT).await?;
        if !reply.error.is_empty() {
            return Err(reply.error);
        }
        let chunk: Chunk = decode(&reply.payload).map_err(|e| e.to_string())?;
        if version.is_some_and(|v| v != chunk.version) || chunk.total < out.len() as u64 {
            // A newer snapshot replaced the file: start over on it.
            restarts += 1;
            if restarts > RESTARTS {
                return Err("its snapshot kept changing while it was fetched".into());
            }
            out.clear();
            version = None;
            continue;
        }
        version = Some(chunk.version);
        if chunk.bytes.is_empty() && (out.len() as u64) < chunk.total {
            return Err("it sent an empty chunk before the end of the file".into());
        }
        if out.is_empty() {
            out.reserve(usize::try_from(chunk.total).map_err(|e| e.to_string())?);
        }
        out.extend_from_slice(&chunk.bytes);
        if out.len() as u64 >= chunk.total {
            return Ok(out);
        }
    }
}

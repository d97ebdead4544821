//! Generated gRPC types and service stubs of the Shardis node-to-node transport (`raft.proto`).

#![allow(clippy::all, missing_docs)]

/// Version 1 of the Raft transport.
pub mod raft {
    tonic::include_proto!("shardis.raft.v1");
}

/// Version of the transport: the encoding of the opaque Raft payloads carried in
/// [`raft::GroupRpc`] and the envelope's rules (2: streams, and the envelope names its target
/// node; 3: shard commands travel as their argument vectors; 4: they may be transactions,
/// `shardis:exec`, which a version-3 node cannot parse). Nodes refuse calls with another
/// version.
pub const WIRE_VERSION: u32 = 4;

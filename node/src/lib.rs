//! Shardis: a Redis-compatible cache node whose keyspace is split into shard actors by Redis
//! Cluster hash slot.
//!
//! The modules in layers, each using only those below it (no module imports one above it):
//!
//! 1. foundations: [`protocol`] (RESP frames, the request parser), [`slot`] (hash slots),
//!    [`clock`], [`glob`], [`long_double`], [`codec`], [`config`], [`tasks`] (task sets),
//!    [`fd_limit`] (the open-file limit and `maxclients`), [`limits`] (client buffer limits),
//!    [`faults`] (injection for tests);
//! 2. [`keyspace`]: one shard's data, expiry index, snapshots;
//! 3. [`commands`]: the keyspace commands by family: parsed, applied to a keyspace, logged;
//! 4. [`scripting`] (Lua scripts run against a scratch copy of their keys, their writes kept
//!    as effects) and [`shard`]: the shard actor, applying batches and committed entries in
//!    order;
//! 5. [`cluster`] (members, placement, leaders) and [`raft`] (a Raft group per shard over one
//!    WAL; the only module that imports openraft);
//! 6. [`session`] (one connection's state) and [`server`] (what connections share, and the
//!    commands the node answers itself);
//! 7. [`dispatch`] (the registry of every command; a batch planned, run on the shards, answered
//!    in order), [`connection`] (the socket loop), [`node`] (builds a node, owns its tasks,
//!    shuts it down).

pub mod clock;
pub mod cluster;
pub mod codec;
pub mod commands;
pub mod config;
pub mod connection;
pub mod dispatch;
pub mod faults;
pub mod fd_limit;
pub mod glob;
pub mod headroom;
pub mod keyspace;
pub mod limits;
pub mod long_double;
pub mod node;
pub mod protocol;
pub mod raft;
pub mod scripting;
pub mod server;
pub mod session;
pub mod shard;
pub mod slot;
pub mod tasks;

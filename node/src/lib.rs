//! Shardis: a Redis-compatible cache node whose keyspace is split into shard actors by Redis
//! Cluster hash slot.
//!
//! Layout: [`protocol`] (RESP frames and the request parser), [`connection`] (one task per client,
//! batching), [`commands`] (parsing and applying commands, by family), [`shard`] (shard actors and
//! their keyspaces), [`slot`] (hash slots), [`config`], [`server`] (accept loop, shared state),
//! [`node`] (builds a node, owns its tasks, shuts it down), [`tasks`] (task sets by layer).

pub mod clock;
pub mod cluster;
pub mod codec;
pub mod commands;
pub mod config;
pub mod connection;
pub mod dispatch;
pub mod glob;
pub mod keyspace;
pub mod long_double;
pub mod node;
pub mod protocol;
pub mod raft;
pub mod server;
pub mod session;
pub mod shard;
pub mod slot;
pub mod tasks;

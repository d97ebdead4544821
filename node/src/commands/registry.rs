//! Command entries: every command Shardis serves is one [`Command`], declared once, in its
//! family's file, as Dragonfly's command families register theirs. The keyspace families
//! (`strings.rs`, `keys.rs`) are here, below the shards and the log; the node's own families
//! (`server/commands.rs`, `server/info.rs`, `server/cluster.rs`) sit above the node's state,
//! and `dispatch/registry.rs` joins them all into the registry requests are looked up in.
//!
//! An entry names the command as redis's command table does (`set`, `object|encoding`), which
//! links it to its [`CommandSpec`](super::table::CommandSpec) (arity, flags, key specs, ACL
//! categories), and says how its requests are routed and run ([`Routing`]): parsed into a
//! [`ShardCommand`] and sent to one shard, split over several, sent to every shard the node
//! leads — or answered by the node itself, by a handler of type `H` (the node's families name
//! it; a keyspace family, which has none, leaves it [`NoHandler`]).

use super::args::Argv;
use super::blocking_pop::ParseBlocking;
use super::{Merge, ShardCommand};
use crate::protocol::Frame;

/// Parses a shard command's arguments; the name is the table's (`object|encoding`).
pub type Parse = fn(&'static str, &Argv) -> Result<ShardCommand, Frame>;

/// The handler type of a family whose commands all run in shards: there is no such handler.
#[derive(Clone, Copy, Debug)]
pub enum NoHandler {}

/// How a command's parts combine when its keys lie in several shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Integers added up (DEL, EXISTS, TOUCH).
    Sum,
    /// `+OK` unless a part failed (MSET).
    Ok,
    /// Each part's array elements put back at their keys' positions (MGET).
    ByPosition,
}

/// How a command's requests are routed and run.
#[derive(Clone)]
pub enum Routing<H = NoHandler> {
    /// All its keys in one slot (`-CROSSSLOT` otherwise): the slot's shard.
    Slot(Parse),
    /// A random write (SPOP): as [`Routing::Slot`], but the leader first picks with a read and
    /// logs the effect of its pick (see [`ShardCommand::effect_read`]).
    Effect(Parse),
    /// A blocking pop (BLPOP …): all its keys in one slot; the slot's leader runs it as a read
    /// and a pop, waiting in between while its keys hold nothing (see `blocking.rs`).
    Blocking(ParseBlocking),
    /// Keys of several slots allowed: one part per shard (the command with that shard's keys
    /// and their arguments), combined. Served only where the node can serve every part.
    Spread(Parse, Combine),
    /// The shard owning the slot its argument names (CLUSTER COUNTKEYSINSLOT); any replica
    /// answers from its own data, as on Redis Cluster.
    SlotArgument(Parse),
    /// Every shard this node leads, merged (KEYS, DBSIZE, FLUSHALL).
    Leading(Parse, Merge),
    /// SCAN: a typed page from shard after shard, from the cursor's slot.
    Scan,
    /// RANDOMKEY: a typed sample (size, key) from every shard this node leads.
    RandomKey,
    /// INFO: the node's sections with every led shard's typed counters.
    Info,
    /// CLUSTER FAILOVER: this node becomes the preferred leader of the shards it follows.
    Failover,
    /// EXEC: the connection's queued transaction, as one command of its slot's shard.
    Exec,
    /// WATCH: the keys' versions, read from their shard, kept by the connection.
    Watch,
    /// EVAL and its forms: run by the leader of the keys' shard, effects logged.
    Script,
    /// FUNCTION LOAD / DELETE / FLUSH / RESTORE: a change of the function libraries, made in
    /// the metadata group.
    Functions,
    /// Answered by the node without the keyspace (connection and server commands).
    Node(H),
}

impl<H> Routing<H> {
    /// The parser of a command that runs in shards.
    pub fn parser(&self) -> Option<Parse> {
        match self {
            Routing::Slot(p)
            | Routing::Effect(p)
            | Routing::Spread(p, _)
            | Routing::SlotArgument(p)
            | Routing::Leading(p, _) => Some(*p),
            Routing::Blocking(_)
            | Routing::Scan
            | Routing::RandomKey
            | Routing::Info
            | Routing::Failover
            | Routing::Exec
            | Routing::Watch
            | Routing::Script
            | Routing::Functions
            | Routing::Node(_) => None,
        }
    }
}

/// One command: its table name and its routing.
#[derive(Clone)]
pub struct Command<H = NoHandler> {
    /// The command table's name: lower case, `parent|sub` for a subcommand.
    pub name: &'static str,
    /// How its requests are routed and run.
    pub routing: Routing<H>,
}

impl<H> Command<H> {
    /// A command whose keys all lie in one slot.
    pub const fn slot(name: &'static str, parse: Parse) -> Command<H> {
        Command {
            name,
            routing: Routing::Slot(parse),
        }
    }

    /// A random write whose effect the leader decides (see [`Routing::Effect`]).
    pub const fn effect(name: &'static str, parse: Parse) -> Command<H> {
        Command {
            name,
            routing: Routing::Effect(parse),
        }
    }

    /// A blocking pop (see [`Routing::Blocking`]).
    pub const fn blocking(name: &'static str, parse: ParseBlocking) -> Command<H> {
        Command {
            name,
            routing: Routing::Blocking(parse),
        }
    }

    /// A command whose keys may lie in several shards.
    pub const fn spread(name: &'static str, parse: Parse, combine: Combine) -> Command<H> {
        Command {
            name,
            routing: Routing::Spread(parse, combine),
        }
    }

    /// A command the node answers itself.
    pub const fn node(name: &'static str, handler: H) -> Command<H> {
        Command {
            name,
            routing: Routing::Node(handler),
        }
    }
}

impl Command {
    /// This keyspace command as an entry of a registry whose node commands take handlers of
    /// type `H`.
    pub fn widen<H>(&self) -> Command<H> {
        let routing = match &self.routing {
            Routing::Slot(p) => Routing::Slot(*p),
            Routing::Effect(p) => Routing::Effect(*p),
            Routing::Blocking(p) => Routing::Blocking(*p),
            Routing::Spread(p, c) => Routing::Spread(*p, *c),
            Routing::SlotArgument(p) => Routing::SlotArgument(*p),
            Routing::Leading(p, m) => Routing::Leading(*p, m.clone()),
            Routing::Scan => Routing::Scan,
            Routing::RandomKey => Routing::RandomKey,
            Routing::Info => Routing::Info,
            Routing::Failover => Routing::Failover,
            Routing::Exec => Routing::Exec,
            Routing::Watch => Routing::Watch,
            Routing::Script => Routing::Script,
            Routing::Functions => Routing::Functions,
            Routing::Node(never) => match *never {},
        };
        Command {
            name: self.name,
            routing,
        }
    }
}

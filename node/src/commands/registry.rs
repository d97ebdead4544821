//! The command registry: every command Shardis serves is one [`Command`] entry, declared once,
//! in its family's file (`strings.rs`, `keys.rs`, `server.rs`, `cluster.rs`, `info.rs`), as
//! Dragonfly's command families register theirs.
//!
//! An entry names the command as redis's command table does (`set`, `object|encoding`), which
//! links it to its [`CommandSpec`] (arity, flags, key specs, ACL categories), and says how its
//! requests are routed and run ([`Routing`]): parsed into a [`ShardCommand`] and sent to one
//! shard, split over several, sent to every shard the node leads — or answered by the node
//! itself. Adding a command is its family's code plus one entry; the tests below fail when a
//! command of the table has no entry, or an entry has no spec.

use std::sync::Arc;

use super::args::Argv;
use super::table::{self, CommandSpec};
use super::{Merge, ShardCommand};
use crate::protocol::Frame;
use crate::server::ServerState;
use crate::session::Session;

/// Parses a shard command's arguments; the name is the table's (`object|encoding`).
pub type Parse = fn(&'static str, &Argv) -> Result<ShardCommand, Frame>;

/// Runs a command the node answers itself. `None`: no reply at all (SHUTDOWN).
pub type Handler = fn(&Argv, &mut Session, &Arc<ServerState>) -> Option<Frame>;

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
pub enum Routing {
    /// All its keys in one slot (`-CROSSSLOT` otherwise): the slot's shard.
    Slot(Parse),
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
    /// Answered by the node without the keyspace (connection and server commands).
    Node(Handler),
}

impl Routing {
    /// The parser of a command that runs in shards.
    pub fn parser(&self) -> Option<Parse> {
        match self {
            Routing::Slot(p)
            | Routing::Spread(p, _)
            | Routing::SlotArgument(p)
            | Routing::Leading(p, _) => Some(*p),
            Routing::Scan
            | Routing::RandomKey
            | Routing::Info
            | Routing::Failover
            | Routing::Node(_) => None,
        }
    }
}

/// One command: its table name and its routing.
pub struct Command {
    /// The command table's name: lower case, `parent|sub` for a subcommand.
    pub name: &'static str,
    /// How its requests are routed and run.
    pub routing: Routing,
}

impl Command {
    /// A command whose keys all lie in one slot.
    pub const fn slot(name: &'static str, parse: Parse) -> Command {
        Command {
            name,
            routing: Routing::Slot(parse),
        }
    }

    /// A command whose keys may lie in several shards.
    pub const fn spread(name: &'static str, parse: Parse, combine: Combine) -> Command {
        Command {
            name,
            routing: Routing::Spread(parse, combine),
        }
    }

    /// A command the node answers itself.
    pub const fn node(name: &'static str, handler: Handler) -> Command {
        Command {
            name,
            routing: Routing::Node(handler),
        }
    }
}

/// Every family's commands.
fn families() -> [&'static [Command]; 5] {
    [
        super::strings::COMMANDS,
        super::keys::COMMANDS,
        super::server::COMMANDS,
        super::cluster::COMMANDS,
        super::info::COMMANDS,
    ]
}

/// Every registered command.
pub fn all() -> impl Iterator<Item = &'static Command> {
    families().into_iter().flatten()
}

/// The entry of a command by its table name.
pub fn find(name: &str) -> Option<&'static Command> {
    static INDEX: std::sync::LazyLock<ahash::HashMap<&'static str, &'static Command>> =
        std::sync::LazyLock::new(|| all().map(|c| (c.name, c)).collect());
    INDEX.get(name).copied()
}

/// Every spec of the command table, subcommands included.
pub fn specs() -> impl Iterator<Item = &'static CommandSpec> {
    table::COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Container commands (CLIENT, CONFIG, OBJECT, CLUSTER) are served by their subcommands:
    /// they need one (arity -2), so the bare name only answers redis's arity error. COMMAND,
    /// which also answers alone, is not one.
    fn is_container(spec: &CommandSpec) -> bool {
        !spec.subcommands.is_empty() && spec.arity <= -2
    }

    #[test]
    fn every_command_of_the_table_has_an_entry() {
        let missing: Vec<&str> = specs()
            .filter(|s| !is_container(s) && find(s.name).is_none())
            .map(|s| s.name)
            .collect();
        assert!(missing.is_empty(), "no registry entry: {missing:?}");
    }

    #[test]
    fn every_entry_has_a_spec_and_is_declared_once() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert!(seen.insert(c.name), "{} declared twice", c.name);
            let spec = specs().find(|s| s.name == c.name);
            assert!(spec.is_some(), "{} is not in the command table", c.name);
            assert!(!spec.is_some_and(is_container), "{} is a container", c.name);
        }
    }

    #[test]
    fn spread_commands_take_keys_at_a_fixed_step() {
        // Splitting takes each key with the `step - 1` arguments after it.
        for c in all() {
            if let Routing::Spread(..) = c.routing {
                let spec = specs().find(|s| s.name == c.name).expect("spec");
                assert_eq!(spec.first_key, 1, "{}", c.name);
                assert_eq!(spec.last_key, -1, "{}", c.name);
                assert!(spec.step >= 1, "{}", c.name);
            }
        }
    }
}

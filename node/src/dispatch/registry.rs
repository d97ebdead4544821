//! The registry requests are looked up in: every family's entries, the keyspace families'
//! (`commands/strings.rs`, `commands/keys.rs`) and the node's (`server/commands.rs`,
//! `server/info.rs`, `server/cluster.rs`), by table name. Adding a family is one line in
//! [`families`]; the tests below fail when a command of redis's table has no entry, or an
//! entry has no spec.

use std::sync::LazyLock;

use crate::commands::table::{self, CommandSpec};
use crate::commands::{self, registry::Command};
use crate::server::Handler;

/// A registry entry: a command and, for the node's own commands, its handler.
pub type Entry = Command<Handler>;

/// Every family's commands.
fn families() -> Vec<Entry> {
    let keyspace = commands::keyspace_commands().map(Command::widen);
    let node = [
        crate::server::commands::COMMANDS,
        crate::server::cluster::COMMANDS,
        crate::server::info::COMMANDS,
        crate::server::transactions::COMMANDS,
        crate::server::scripts::COMMANDS,
        crate::server::functions::COMMANDS,
    ];
    keyspace
        .chain(node.into_iter().flatten().cloned())
        .collect()
}

/// Every registered command.
pub fn all() -> &'static [Entry] {
    static ALL: LazyLock<Vec<Entry>> = LazyLock::new(families);
    &ALL
}

/// The entry of a command by its table name.
pub fn find(name: &str) -> Option<&'static Entry> {
    static INDEX: LazyLock<ahash::HashMap<&'static str, &'static Entry>> =
        LazyLock::new(|| all().iter().map(|c| (c.name, c)).collect());
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
    use crate::commands::registry::Routing;

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

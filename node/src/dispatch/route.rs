//! Where each request goes: its registry entry decides (one shard, split over several, every
//! led shard, a node step or the node's handler), CROSSSLOT is decided before the arguments
//! are parsed, as in Redis Cluster, and multi-key commands are cut into one part per shard.

use bytes::Bytes;

use super::registry;
use crate::commands::args::{self, Argv};
use crate::commands::blocking::Blocking;
use crate::commands::registry::{Combine, Parse, Routing};
use crate::commands::table::{self, CommandSpec};
use crate::commands::{errors, keys, unknown_command, Merge, ShardCommand};
use crate::protocol::Frame;
use crate::server::Handler;
use crate::slot::{key_slot, ShardMap};

/// Where a request goes.
#[derive(Debug)]
pub enum Route {
    /// Answered without the keyspace.
    Reply(Frame),
    /// Answered by the node (connection and server commands).
    Local(Handler),
    /// One shard.
    Shard(usize, ShardCommand),
    /// A random write on one shard, whose effect the leader decides (SPOP).
    Effect(usize, ShardCommand),
    /// A blocking pop on one shard, run by its leader (BLPOP …).
    Blocking(usize, Blocking),
    /// Keys of several slots (in one or more shards), one part per shard, then merged. Served
    /// only where the node can serve every part itself; otherwise `-CROSSSLOT`.
    Split(Vec<(usize, ShardCommand)>, Merge),
    /// Every shard, then merged.
    All(ShardCommand, Merge),
    /// SCAN: shard after shard from the cursor's slot, after everything queued before it.
    Scan(keys::ScanArgs),
    /// RANDOMKEY: a sample from every shard this node leads, after everything queued before it.
    RandomKey,
    /// INFO with these sections: every led shard's counters, after everything queued before it.
    Info(Vec<String>),
    /// CLUSTER FAILOVER [FORCE|TAKEOVER]: this node becomes the preferred leader of the shards
    /// it follows (see [`crate::server::cluster::failover`]).
    Failover,
    /// EXEC: the connection's transaction (see `transaction.rs`).
    Exec,
    /// WATCH these keys (all in one slot).
    Watch(Vec<Bytes>),
    /// A script (EVAL …) on the leader of its keys' shard.
    Script(crate::scripting::ScriptCall),
    /// A change of the function libraries (FUNCTION LOAD …), in the metadata group.
    Functions,
}

/// Decides where a request goes (`spec` from [`crate::commands::resolve`]), as its registry
/// entry says.
pub fn route(spec: &'static CommandSpec, argv: &Argv, shards: &ShardMap) -> Route {
    let name = spec.name;
    let Some(command) = registry::find(name) else {
        // Every command of the table has an entry (a test checks it); this is a container
        // command, which `resolve` answers before.
        return Route::Reply(unknown_command(argv));
    };
    let routing = &command.routing;
    let spread = matches!(routing, Routing::Spread(..));
    // Several keys by the legacy range, or by the key specs: a count argument (SINTERCARD's,
    // ZUNIONSTORE's numkeys), a range, or more than one spec.
    let many_keys = (spec.first_key > 0 && spec.last_key != spec.first_key)
        || (spec.first_key == 0 && !spec.key_specs.is_empty())
        || spec.key_specs.len() > 1
        || spec.key_specs.iter().any(|k| match k.find_keys {
            table::FindKeys::Keynum { .. } => true,
            table::FindKeys::Range { last_key, .. } => last_key != 0,
            table::FindKeys::Unknown => false,
        });
    if !spread && many_keys {
        // CROSSSLOT is decided before the arguments are parsed, as in Redis Cluster.
        if let Some(e) = check_same_slot(spec, argv) {
            return Route::Reply(e);
        }
    }
    let parse = match routing {
        Routing::Node(handler) => return Route::Local(*handler),
        Routing::Failover => {
            return match argv.get(2) {
                None => Route::Failover,
                Some(o) if args::is(o, "force") || args::is(o, "takeover") => Route::Failover,
                Some(_) => Route::Reply(errors::syntax()),
            }
        }
        Routing::Info => {
            let sections = argv[1..]
                .iter()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .collect();
            return Route::Info(sections);
        }
        Routing::RandomKey => return Route::RandomKey,
        Routing::Exec => return Route::Exec,
        Routing::Functions => return Route::Functions,
        Routing::Watch => return Route::Watch(argv[1..].to_vec()),
        Routing::Script => {
            return match crate::scripting::ScriptCall::parse(name, argv) {
                Ok(call) => Route::Script(call),
                Err(e) => Route::Reply(e),
            }
        }
        Routing::Blocking(parse) => {
            return match parse(name, argv) {
                Ok(b) => {
                    let shard = b
                        .keys
                        .first()
                        .map_or(0, |k| shards.shard_of_slot(key_slot(k)));
                    Route::Blocking(shard, b)
                }
                Err(e) => Route::Reply(e),
            }
        }
        Routing::Scan => {
            return match keys::parse_scan_request(argv) {
                Ok(scan) => Route::Scan(scan),
                Err(e) => Route::Reply(e),
            }
        }
        Routing::Slot(p)
        | Routing::Effect(p)
        | Routing::Spread(p, _)
        | Routing::SlotArgument(p)
        | Routing::Leading(p, _) => *p,
    };
    let cmd = match parse(name, argv) {
        Ok(cmd) => cmd,
        Err(e) => return Route::Reply(e),
    };
    let shard_of = |k: &Bytes| shards.shard_of_slot(key_slot(k));
    match (routing, cmd) {
        (Routing::Leading(_, merge), cmd) => Route::All(cmd, merge.clone()),
        (Routing::Effect(_), cmd) => {
            let shard = cmd.first_key().map_or(0, |k| shard_of(&k));
            Route::Effect(shard, cmd)
        }
        (Routing::Spread(_, combine), cmd) => split(spec, parse, *combine, argv, cmd, shards),
        (Routing::SlotArgument(_), ShardCommand::Key(k)) => match k.slot_arg() {
            Some(slot) => Route::Shard(shards.shard_of_slot(slot), ShardCommand::Key(k)),
            None => Route::Reply(Frame::error("ERR Invalid slot")),
        },
        (_, cmd) => {
            let shard = cmd.first_key().map_or(0, |k| shard_of(&k));
            Route::Shard(shard, cmd)
        }
    }
}

/// CROSSSLOT for commands that need all their keys in one slot.
fn check_same_slot(spec: &CommandSpec, argv: &Argv) -> Option<Frame> {
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
    let positions = table::key_positions(spec, &refs).ok()?;
    let mut slots = positions
        .iter()
        .filter_map(|&i| argv.get(i))
        .map(|k| key_slot(k));
    let first = slots.next()?;
    slots.any(|s| s != first).then(errors::cross_slot)
}

/// Splits a command whose keys may lie in several shards (MGET, MSET, DEL, EXISTS, …) into one
/// part per shard: the command with that shard's keys, each with the `step - 1` arguments after
/// it, parsed like the whole. One shard and one slot: the command as it is.
fn split(
    spec: &CommandSpec,
    parse: Parse,
    combine: Combine,
    argv: &Argv,
    cmd: ShardCommand,
    shards: &ShardMap,
) -> Route {
    let step = usize::try_from(spec.step).unwrap_or(1).max(1);
    // Key positions grouped by shard, in first-seen order.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut slots = Vec::new();
    for at in (1..argv.len()).step_by(step) {
        let slot = key_slot(&argv[at]);
        slots.push(slot);
        let shard = shards.shard_of_slot(slot);
        match groups.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, v)) => v.push(at),
            None => groups.push((shard, vec![at])),
        }
    }
    let multi_slot = slots.windows(2).any(|w| w[0] != w[1]);
    if groups.len() <= 1 && !multi_slot {
        return Route::Shard(groups.first().map_or(0, |g| g.0), cmd);
    }
    let mut parts = Vec::with_capacity(groups.len());
    for (shard, positions) in &groups {
        let mut part: Argv = Vec::with_capacity(1 + positions.len() * step);
        part.push(argv[0].clone());
        for &at in positions {
            part.extend(argv[at..at + step].iter().cloned());
        }
        match parse(spec.name, &part) {
            Ok(c) => parts.push((*shard, c)),
            Err(e) => return Route::Reply(e),
        }
    }
    let merge = match combine {
        Combine::Sum => Merge::Sum,
        Combine::Ok => Merge::Ok,
        Combine::ByPosition => Merge::MGet(
            groups
                .iter()
                .map(|(_, positions)| positions.iter().map(|at| (at - 1) / step).collect())
                .collect(),
        ),
    };
    Route::Split(parts, merge)
}

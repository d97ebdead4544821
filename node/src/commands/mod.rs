//! Commands, grouped by family, and how one request becomes work for the shards.
//!
//! Every command is one entry of the [`registry`], declared in its family's file: `strings`,
//! `keys`, `server` (connection and server commands), `cluster`, `info`. A request goes through
//! [`resolve`] (looked up in the command [`table`]: unknown command, arity), is checked for
//! authentication by the connection, and then [`route`] does what its entry says: parse it and
//! send it to the shard that owns its key, split it over several shards, send it to every
//! shard this node leads — or hand it to the node's own handler (PING, CLIENT, CONFIG, …).
//! Shard commands are logged as their argument vectors ([`log_form`]).

pub mod args;
pub mod cluster;
pub mod errors;
pub mod info;
pub mod keys;
pub mod log_form;
pub mod registry;
pub mod server;
pub mod strings;
pub mod table;
// Generated whole by scripts/gen_command_table.py; rustfmt must leave it as the script wrote it.
#[rustfmt::skip]
mod table_data;

use bytes::Bytes;

use crate::keyspace::Keyspace;
use crate::protocol::Frame;
use crate::slot::{key_slot, ShardMap};
use args::Argv;
use keys::KeyCommand;
use registry::{Combine, Routing};
use strings::StringCommand;
use table::CommandSpec;

/// What a shard needs besides the command to apply it deterministically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApplyCtx {
    /// The batch timestamp, Unix milliseconds: the only clock a command may read.
    pub now: u64,
    /// Largest string a command may build (proto-max-bulk-len).
    pub max_bulk_len: u64,
}

/// A command that runs inside one shard, against its keyspace. It is logged and sent to other
/// nodes as its argument vector ([`log_form`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ShardCommand {
    /// A string command.
    String(StringCommand),
    /// A generic key command.
    Key(KeyCommand),
}

impl ShardCommand {
    /// Applies the command to `ks` and returns its reply.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        match self {
            ShardCommand::String(c) => c.apply(ks, ctx),
            ShardCommand::Key(c) => c.apply(ks, ctx),
        }
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        match self {
            ShardCommand::String(c) => c.is_read_only(),
            ShardCommand::Key(c) => c.is_read_only(),
        }
    }

    /// True for commands any replica answers from its own data, leader or not (CLUSTER
    /// COUNTKEYSINSLOT / GETKEYSINSLOT, as on Redis Cluster replicas).
    pub fn reads_any_replica(&self) -> bool {
        matches!(self, ShardCommand::Key(k) if k.slot_arg().is_some())
    }

    /// The first key the command names, if any (for MOVED replies).
    pub fn first_key(&self) -> Option<Bytes> {
        match self {
            ShardCommand::String(c) => c.keys().first().map(|k| (*k).clone()),
            ShardCommand::Key(c) => c.keys().first().map(|k| (*k).clone()),
        }
    }

    /// Calls `f` on every byte string the command holds, in a fixed order.
    fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            ShardCommand::String(c) => c.for_each_bytes(f),
            ShardCommand::Key(c) => c.for_each_bytes(f),
        }
    }

    /// Gives a batch's commands their own copies of their arguments. Parsed arguments are slices
    /// of the connection's read buffer; commands kept for longer (in the Raft log until the next
    /// snapshot) must not pin whole read buffers in memory. All the copies share ONE buffer: one
    /// allocation (and one free, when the log drops the entry) per batch, not one per argument.
    pub fn detach_all(cmds: &mut [ShardCommand]) {
        let mut total = 0;
        cmds.iter_mut()
            .for_each(|c| c.for_each_bytes(&mut |b| total += b.len()));
        let mut buf = bytes::BytesMut::with_capacity(total);
        cmds.iter_mut()
            .for_each(|c| c.for_each_bytes(&mut |b| buf.extend_from_slice(b)));
        let buf = buf.freeze();
        let mut at = 0;
        cmds.iter_mut().for_each(|c| {
            c.for_each_bytes(&mut |b| {
                let len = b.len();
                *b = buf.slice(at..at + len);
                at += len;
            })
        });
    }
}

/// How the replies of a command's parts combine into its reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Merge {
    /// Integers added up (DEL, EXISTS, TOUCH, DBSIZE).
    Sum,
    /// `+OK` unless a part failed (MSET, FLUSHALL).
    Ok,
    /// MGET: part `i` answered the keys at these positions.
    MGet(Vec<Vec<usize>>),
    /// Arrays concatenated (KEYS).
    Concat,
}

/// Where a request goes.
#[derive(Debug)]
pub enum Route {
    /// Answered without the keyspace.
    Reply(Frame),
    /// Answered by the node (connection and server commands).
    Local(registry::Handler),
    /// One shard.
    Shard(usize, ShardCommand),
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
    /// it follows (see [`cluster::failover`]).
    Failover,
}

/// The reply to a command name that is not in the table.
pub fn unknown_command(argv: &Argv) -> Frame {
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(&errors::quote_arg(a, room));
        args.push_str("' ");
    }
    Frame::error_owned(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        errors::quote_arg(&argv[0], 128),
        args
    ))
}

/// Finds the spec of a request: the command, or its subcommand for container commands.
/// Errors are the replies for unknown commands and subcommands and for wrong arity.
pub fn resolve(argv: &Argv) -> Result<&'static CommandSpec, Frame> {
    let Some(spec) = table::lookup(&argv[0]) else {
        return Err(unknown_command(argv));
    };
    if !spec.subcommands.is_empty() && argv.len() >= 2 {
        return match table::lookup_subcommand(spec, &argv[1]) {
            Some(sub) if table::arity_ok(sub, argv.len()) => Ok(sub),
            Some(sub) => Err(errors::wrong_arity(sub.name)),
            None => Err(Frame::error_owned(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                errors::quote_arg(&argv[1], 128),
                String::from_utf8_lossy(&argv[0]).to_uppercase()
            ))),
        };
    }
    if !table::arity_ok(spec, argv.len()) {
        return Err(errors::wrong_arity(spec.name));
    }
    Ok(spec)
}

/// Decides where a request goes (`spec` from [`resolve`]), as its registry entry says.
pub fn route(spec: &'static CommandSpec, argv: &Argv, shards: &ShardMap) -> Route {
    let name = spec.name;
    let Some(command) = registry::find(name) else {
        // Every command of the table has an entry (a test checks it); this is a container
        // command, which `resolve` answers before.
        return Route::Reply(unknown_command(argv));
    };
    let routing = &command.routing;
    let spread = matches!(routing, Routing::Spread(..));
    if !spread && spec.first_key > 0 && spec.last_key != spec.first_key {
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
        Routing::Scan => {
            return match keys::parse_scan_request(argv) {
                Ok(scan) => Route::Scan(scan),
                Err(e) => Route::Reply(e),
            }
        }
        Routing::Slot(p)
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

/// Parses a command that runs in a shard (`name` as [`resolve`] found it); `None` for the
/// commands the node answers itself.
pub fn parse_shard_command(name: &'static str, argv: &Argv) -> Option<Result<ShardCommand, Frame>> {
    let parse = registry::find(name)?.routing.parser()?;
    Some(parse(name, argv))
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
    parse: registry::Parse,
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

/// Combines part replies (in part order) into one reply.
pub fn merge(merge: &Merge, parts: Vec<Frame>) -> Frame {
    if let Some(err) = parts.iter().find(|f| f.is_error()) {
        return err.clone();
    }
    match merge {
        Merge::Sum => Frame::Integer(
            parts
                .iter()
                .map(|f| if let Frame::Integer(n) = f { *n } else { 0 })
                .sum(),
        ),
        Merge::Ok => Frame::ok(),
        Merge::MGet(positions) => {
            let total = positions.iter().map(|p| p.len()).sum();
            let mut out = vec![Frame::Null; total];
            for (part, idx) in parts.into_iter().zip(positions) {
                if let Frame::Array(items) = part {
                    for (item, &i) in items.into_iter().zip(idx) {
                        out[i] = item;
                    }
                }
            }
            Frame::Array(out)
        }
        Merge::Concat => Frame::Array(
            parts
                .into_iter()
                .flat_map(|f| {
                    if let Frame::Array(v) = f {
                        v
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `words` as command `name` (lower case, as the command table spells it).
    fn parse(name: &'static str, words: &[&str]) -> ShardCommand {
        let argv: Argv = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        StringCommand::parse(name, &argv)
            .map(ShardCommand::String)
            .or_else(|_| KeyCommand::parse(name, &argv).map(ShardCommand::Key))
            .expect("a valid command")
    }

    #[test]
    fn detach_all_copies_every_argument_into_one_buffer() {
        // Arguments sliced out of one "read buffer", as the parser makes them.
        let wire = Bytes::from_static(b"key1value1key2\x00binary\xffvalue");
        let set = |k: std::ops::Range<usize>, v: std::ops::Range<usize>| {
            let argv: Argv = vec![Bytes::from_static(b"SET"), wire.slice(k), wire.slice(v)];
            ShardCommand::String(StringCommand::parse("set", &argv).expect("SET"))
        };
        let mut cmds = vec![
            set(0..4, 4..10),
            parse("del", &["DEL", "a", "bb", "ccc"]),
            set(10..17, 17..27),
            parse("incr", &["INCR", "counter"]),
        ];
        let before = cmds.clone();
        ShardCommand::detach_all(&mut cmds);
        assert_eq!(cmds, before, "same commands, same arguments");
        let mut pointers = Vec::new();
        for c in &mut cmds {
            c.for_each_bytes(&mut |b| pointers.push((b.as_ptr() as usize, b.len())));
        }
        let wire_range = wire.as_ptr() as usize..wire.as_ptr() as usize + wire.len();
        assert!(
            pointers.iter().all(|(p, _)| !wire_range.contains(p)),
            "nothing still points into the read buffer"
        );
        // One buffer: each argument starts where the previous one ended.
        for pair in pointers.windows(2) {
            assert_eq!(pair[0].0 + pair[0].1, pair[1].0);
        }
    }
}

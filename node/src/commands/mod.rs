//! Commands, grouped by family, and how one request becomes work for the shards.
//!
//! A request goes through [`route`]: it is looked up in the command [`table`] (unknown command,
//! arity), checked for authentication, parsed by its family (`strings`, `keys`), and sent to the
//! shard that owns its key — or split over several shards, or sent to all of them, or answered by
//! the connection itself (`server` commands such as PING, CLIENT, CONFIG).

pub mod args;
pub mod cluster;
pub mod errors;
pub mod info;
pub mod keys;
pub mod log_form;
pub mod server;
pub mod strings;
pub mod table;

use bytes::Bytes;

use crate::protocol::Frame;
use crate::shard::keyspace::Keyspace;
use crate::slot::{key_slot, ShardMap};
use args::Argv;
use keys::KeyCommand;
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
    /// One of the parts' random keys, weighted by shard size (RANDOMKEY).
    RandomKey,
    /// INFO with these sections, from every shard's counters.
    Info(Vec<String>),
}

/// Where a request goes.
#[derive(Debug)]
pub enum Route {
    /// Answered without the keyspace.
    Reply(Frame),
    /// Handled by the connection (connection and server commands).
    Local(&'static CommandSpec),
    /// One shard.
    Shard(usize, ShardCommand),
    /// Keys of several slots (in one or more shards), one part per shard, then merged. Served
    /// only where the node can serve every part itself; otherwise `-CROSSSLOT`.
    Split(Vec<(usize, ShardCommand)>, Merge),
    /// Every shard, then merged.
    All(ShardCommand, Merge),
    /// SCAN: shard after shard from the cursor's slot, after everything queued before it.
    Scan(keys::ScanArgs),
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

fn is_string_command(name: &str) -> bool {
    matches!(
        name,
        "get"
            | "set"
            | "setnx"
            | "setex"
            | "psetex"
            | "getset"
            | "getdel"
            | "getex"
            | "mget"
            | "mset"
            | "msetnx"
            | "incr"
            | "decr"
            | "incrby"
            | "decrby"
            | "incrbyfloat"
            | "append"
            | "strlen"
            | "getrange"
            | "substr"
            | "setrange"
    )
}

/// Commands whose keys may lie in different shards: split per shard and gathered.
fn may_span_shards(name: &str) -> bool {
    matches!(
        name,
        "mget" | "mset" | "del" | "unlink" | "exists" | "touch"
    )
}

/// Decides where a request goes (`spec` from [`resolve`]).
pub fn route(spec: &'static CommandSpec, argv: &Argv, shards: &ShardMap) -> Route {
    let name = spec.name;
    if spec.first_key > 0 && spec.last_key != spec.first_key {
        // CROSSSLOT is decided before the arguments are parsed, as in Redis Cluster.
        if let Some(e) = check_same_slot(name, spec, argv) {
            return Route::Reply(e);
        }
    }
    match name {
        "cluster|failover" => {
            return match argv.get(2) {
                None => Route::Failover,
                Some(o) if args::is(o, "force") || args::is(o, "takeover") => Route::Failover,
                Some(_) => Route::Reply(errors::syntax()),
            }
        }
        "info" => {
            let sections = argv[1..]
                .iter()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .collect();
            return Route::All(ShardCommand::Key(KeyCommand::Stats), Merge::Info(sections));
        }
        _ => {}
    }
    let Some(parsed) = parse_shard_command(name, argv) else {
        return Route::Local(spec);
    };
    let cmd = match parsed {
        Ok(cmd) => cmd,
        Err(e) => return Route::Reply(e),
    };
    place(name, cmd, shards)
}

/// Parses a command that runs in a shard (`name` as [`resolve`] found it); `None` for the
/// commands the connection answers itself.
pub fn parse_shard_command(name: &'static str, argv: &Argv) -> Option<Result<ShardCommand, Frame>> {
    if is_string_command(name) {
        return Some(StringCommand::parse(name, argv).map(ShardCommand::String));
    }
    match name {
        "keys"
        | "randomkey"
        | "dbsize"
        | "flushdb"
        | "flushall"
        | "scan"
        | "object|encoding"
        | "del"
        | "unlink"
        | "exists"
        | "touch"
        | "type"
        | "expire"
        | "pexpire"
        | "expireat"
        | "pexpireat"
        | "ttl"
        | "pttl"
        | "expiretime"
        | "pexpiretime"
        | "persist"
        | "rename"
        | "renamenx"
        | "copy"
        | "cluster|countkeysinslot"
        | "cluster|getkeysinslot" => Some(KeyCommand::parse(name, argv).map(ShardCommand::Key)),
        _ => None,
    }
}

/// CROSSSLOT for commands that need all their keys in one slot.
fn check_same_slot(name: &str, spec: &CommandSpec, argv: &Argv) -> Option<Frame> {
    if may_span_shards(name) || spec.last_key == spec.first_key {
        return None;
    }
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
    let positions = table::key_positions(spec, &refs).ok()?;
    let mut slots = positions
        .iter()
        .filter_map(|&i| argv.get(i))
        .map(|k| key_slot(k));
    let first = slots.next()?;
    slots.any(|s| s != first).then(errors::cross_slot)
}

/// Sends a parsed command to its shard(s).
fn place(name: &str, cmd: ShardCommand, shards: &ShardMap) -> Route {
    let shard_of = |k: &Bytes| shards.shard_of_slot(key_slot(k));
    match cmd {
        ShardCommand::Key(KeyCommand::Keys(_))
        | ShardCommand::Key(KeyCommand::DbSize)
        | ShardCommand::Key(KeyCommand::Flush)
        | ShardCommand::Key(KeyCommand::RandomKey) => {
            let merge = match &cmd {
                ShardCommand::Key(KeyCommand::Keys(_)) => Merge::Concat,
                ShardCommand::Key(KeyCommand::DbSize) => Merge::Sum,
                ShardCommand::Key(KeyCommand::Flush) => Merge::Ok,
                _ => Merge::RandomKey,
            };
            Route::All(cmd, merge)
        }
        ShardCommand::Key(KeyCommand::Scan(scan)) => Route::Scan(scan),
        cmd if may_span_shards(name) => split(cmd, shards),
        cmd => {
            let shard = match &cmd {
                ShardCommand::String(c) => c.keys().first().map(|k| shard_of(k)),
                ShardCommand::Key(c) => match c.slot_arg() {
                    Some(slot) => Some(shards.shard_of_slot(slot)),
                    None => c.keys().first().map(|k| shard_of(k)),
                },
            };
            Route::Shard(shard.unwrap_or(0), cmd)
        }
    }
}

/// Splits a multi-key command whose keys may lie in several shards.
fn split(cmd: ShardCommand, shards: &ShardMap) -> Route {
    let shard_of = |k: &Bytes| shards.shard_of_slot(key_slot(k));
    // Group positions by shard, in first-seen order.
    let keys: Vec<Bytes> = match &cmd {
        ShardCommand::String(c) => c.keys().into_iter().cloned().collect(),
        ShardCommand::Key(c) => c.keys().into_iter().cloned().collect(),
    };
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let s = shard_of(k);
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push(i),
            None => groups.push((s, vec![i])),
        }
    }
    let multi_slot = keys.windows(2).any(|w| key_slot(&w[0]) != key_slot(&w[1]));
    if groups.len() <= 1 && !multi_slot {
        return Route::Shard(groups.first().map_or(0, |g| g.0), cmd);
    }
    let pick = |idx: &[usize]| -> Vec<Bytes> { idx.iter().map(|&i| keys[i].clone()).collect() };
    let (parts, merge) = match &cmd {
        ShardCommand::String(StringCommand::MGet(_)) => (
            groups
                .iter()
                .map(|(s, idx)| (*s, ShardCommand::String(StringCommand::MGet(pick(idx)))))
                .collect(),
            Merge::MGet(groups.iter().map(|(_, idx)| idx.clone()).collect()),
        ),
        ShardCommand::String(StringCommand::MSet(pairs)) => (
            groups
                .iter()
                .map(|(s, idx)| {
                    let part = idx.iter().map(|&i| pairs[i].clone()).collect();
                    (*s, ShardCommand::String(StringCommand::MSet(part)))
                })
                .collect(),
            Merge::Ok,
        ),
        ShardCommand::Key(k) => {
            let make = |ks: Vec<Bytes>| match k {
                KeyCommand::Del(_) => KeyCommand::Del(ks),
                KeyCommand::Exists(_) => KeyCommand::Exists(ks),
                _ => KeyCommand::Touch(ks),
            };
            (
                groups
                    .iter()
                    .map(|(s, idx)| (*s, ShardCommand::Key(make(pick(idx)))))
                    .collect(),
                Merge::Sum,
            )
        }
        _ => return Route::Reply(errors::cross_slot()),
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
        Merge::RandomKey => {
            use rand::Rng;
            let candidates: Vec<(i64, Frame)> = parts
                .into_iter()
                .filter_map(|f| match f {
                    Frame::Array(mut v) if v.len() == 2 => {
                        let key = v.pop()?;
                        let Frame::Integer(n) = v.pop()? else {
                            return None;
                        };
                        (key != Frame::Null && n > 0).then_some((n, key))
                    }
                    _ => None,
                })
                .collect();
            let total: i64 = candidates.iter().map(|c| c.0).sum();
            if total == 0 {
                return Frame::Null;
            }
            let mut pick = rand::rng().random_range(0..total);
            for (n, key) in candidates {
                if pick < n {
                    return key;
                }
                pick -= n;
            }
            Frame::Null
        }
        Merge::Info(_) => Frame::Null,
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

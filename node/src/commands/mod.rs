//! The keyspace commands, grouped by family: what runs inside a shard, is logged, and is
//! replicated. The node's own commands (connection, server, INFO, CLUSTER) are in `server/`;
//! routing requests to either is `dispatch/`'s.
//!
//! Every command is one entry of the [`registry`], declared in its family's file: `strings`,
//! `keys`. A request is resolved here ([`resolve`]: looked up in the command [`table`], unknown
//! command, arity), parsed by its family into a [`ShardCommand`], applied by the shard to its
//! keyspace, and logged as its argument vector ([`log_form`]); parts of a multi-shard command
//! are combined by [`merge`].

pub mod args;
pub mod blocking;
pub mod blocking_pop;
pub mod element_scan;
pub mod errors;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod log_form;
pub mod random_pick;
pub mod registry;
pub mod reply_budget;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod table;
pub mod transaction;
pub mod zsets;

use bytes::Bytes;

use crate::keyspace::Keyspace;
use crate::protocol::Frame;
use args::Argv;
use hashes::HashCommand;
use keys::KeyCommand;
use lists::ListCommand;
use sets::SetCommand;
use sort::SortCommand;
use strings::StringCommand;
use table::CommandSpec;
use transaction::ExecCommand;
use zsets::ZSetCommand;

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
    /// A hash command.
    Hash(HashCommand),
    /// A set command.
    Set(SetCommand),
    /// A sorted set command.
    ZSet(ZSetCommand),
    /// A list command.
    List(ListCommand),
    /// SORT / SORT_RO.
    Sort(SortCommand),
    /// A transaction: EXEC's queued commands, applied together or not at all.
    Exec(Box<ExecCommand>),
}

/// What a random write (SPOP) does once the leader has read its pick.
#[derive(Clone, Debug, PartialEq)]
pub enum EffectStep {
    /// Nothing to write: this is the reply (no key, nothing to pop, an error).
    Reply(Frame),
    /// Log and apply this effect; its reply is the command's, unless it answers
    /// [`sets::CONFLICT`] (the pick no longer holds: pick again).
    Write(ShardCommand),
}

impl ShardCommand {
    /// Applies the command to `ks` and returns its reply.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        match self {
            ShardCommand::String(c) => c.apply(ks, ctx),
            ShardCommand::Key(c) => c.apply(ks, ctx),
            ShardCommand::Hash(c) => c.apply(ks, ctx),
            ShardCommand::Set(c) => c.apply(ks, ctx),
            ShardCommand::ZSet(c) => c.apply(ks, ctx),
            ShardCommand::List(c) => c.apply(ks, ctx),
            ShardCommand::Sort(c) => c.apply(ks, ctx),
            ShardCommand::Exec(c) => c.apply(ks, ctx),
        }
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        match self {
            ShardCommand::String(c) => c.is_read_only(),
            ShardCommand::Key(c) => c.is_read_only(),
            ShardCommand::Hash(c) => c.is_read_only(),
            ShardCommand::Set(c) => c.is_read_only(),
            ShardCommand::ZSet(c) => c.is_read_only(),
            ShardCommand::List(c) => c.is_read_only(),
            ShardCommand::Sort(c) => c.is_read_only(),
            ShardCommand::Exec(c) => c.is_read_only(),
        }
    }

    /// For a random write (SPOP): the read by which the leader picks what it does.
    pub fn effect_read(&self) -> Option<ShardCommand> {
        match self {
            ShardCommand::Set(c) => c.effect_read(),
            _ => None,
        }
    }

    /// For a random write: what to log once `picked` (the reply of [`Self::effect_read`]) is
    /// known, or the final reply.
    pub fn effect_write(&self, picked: Frame) -> EffectStep {
        match self {
            ShardCommand::Set(c) => c.effect_write(picked),
            _ => EffectStep::Reply(Frame::error("ERR not an effect command")),
        }
    }

    /// True for commands any replica answers from its own data, leader or not (CLUSTER
    /// COUNTKEYSINSLOT / GETKEYSINSLOT, as on Redis Cluster replicas).
    pub fn reads_any_replica(&self) -> bool {
        matches!(self, ShardCommand::Key(k) if k.slot_arg().is_some())
    }

    /// The first key the command names, if any (for MOVED replies).
    pub fn first_key(&self) -> Option<Bytes> {
        self.keys().first().map(|k| (*k).clone())
    }

    /// The keys the command names, in order (none for whole-keyspace commands).
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            ShardCommand::String(c) => c.keys(),
            ShardCommand::Key(c) => c.keys(),
            ShardCommand::Hash(c) => vec![c.key()],
            ShardCommand::Set(c) => c.keys(),
            ShardCommand::ZSet(c) => c.keys(),
            ShardCommand::List(c) => c.keys(),
            ShardCommand::Sort(c) => c.keys(),
            ShardCommand::Exec(c) => c.keys(),
        }
    }

    /// Calls `f` on every byte string the command holds, in a fixed order.
    fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            ShardCommand::String(c) => c.for_each_bytes(f),
            ShardCommand::Key(c) => c.for_each_bytes(f),
            ShardCommand::Hash(c) => c.for_each_bytes(f),
            ShardCommand::Set(c) => c.for_each_bytes(f),
            ShardCommand::ZSet(c) => c.for_each_bytes(f),
            ShardCommand::List(c) => c.for_each_bytes(f),
            ShardCommand::Sort(c) => c.for_each_bytes(f),
            ShardCommand::Exec(c) => c.for_each_bytes(f),
        }
    }

    /// Gives a batch's commands their own copies of their arguments. Parsed arguments are slices
    /// of the connection's read buffer; commands kept for longer (in the Raft log until the next
    /// snapshot) must not pin whole read buffers in memory. All the copies share ONE buffer: one
    /// allocation (and one free, when the log drops the entry) per batch, not one per argument.
    ///
    /// An argument of [`DETACH_MAX`] bytes or more is left where it is: the read buffer grew for
    /// it, so it pins an allocation about its own size, and copying it would only double what a
    /// large value costs while its entry is in the log.
    ///
    /// Returns the bytes of all the arguments (what the batch may add to the keyspace, at most
    /// about).
    pub fn detach_all(cmds: &mut [ShardCommand]) -> u64 {
        let small = |b: &Bytes| b.len() < DETACH_MAX;
        let mut total = 0;
        let mut all = 0u64;
        cmds.iter_mut().for_each(|c| {
            c.for_each_bytes(&mut |b| {
                all += b.len() as u64;
                if small(b) {
                    total += b.len()
                }
            })
        });
        let mut buf = bytes::BytesMut::with_capacity(total);
        cmds.iter_mut().for_each(|c| {
            c.for_each_bytes(&mut |b| {
                if small(b) {
                    buf.extend_from_slice(b)
                }
            })
        });
        let buf = buf.freeze();
        let mut at = 0;
        cmds.iter_mut().for_each(|c| {
            c.for_each_bytes(&mut |b| {
                if small(b) {
                    let len = b.len();
                    *b = buf.slice(at..at + len);
                    at += len;
                }
            })
        });
        all
    }
}

/// Range replies (LRANGE, ZRANGE without scores) of this many elements or more leave the shard
/// already encoded ([`Frame::bulk_array`]): one buffer, not a frame and an allocation each.
pub const ENCODED_RANGE: usize = 32;

/// Arguments this long or longer stay in the read buffer when a batch is detached (see
/// [`ShardCommand::detach_all`]).
pub const DETACH_MAX: usize = 64 * 1024;

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

/// The keyspace families' commands: every command that runs in a shard.
pub fn keyspace_commands() -> impl Iterator<Item = &'static registry::Command> {
    [
        strings::COMMANDS,
        keys::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        lists::COMMANDS,
        blocking::COMMANDS,
        sort::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// The entry of a shard command by its table name (how the log's argument vectors are parsed
/// back).
pub fn find_keyspace(name: &str) -> Option<&'static registry::Command> {
    static INDEX: std::sync::LazyLock<ahash::HashMap<&'static str, &'static registry::Command>> =
        std::sync::LazyLock::new(|| keyspace_commands().map(|c| (c.name, c)).collect());
    INDEX.get(name).copied()
}

/// Parses a command that runs in a shard (`name` as [`resolve`] found it); `None` for the
/// commands the node answers itself.
pub fn parse_shard_command(name: &'static str, argv: &Argv) -> Option<Result<ShardCommand, Frame>> {
    let parse = find_keyspace(name)?.routing.parser()?;
    Some(parse(name, argv))
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

    #[test]
    fn a_large_argument_is_not_copied_again() {
        let big = Bytes::from(vec![b'v'; DETACH_MAX]);
        let small = Bytes::from_static(b"small-key");
        let argv: Argv = vec![Bytes::from_static(b"SET"), small.clone(), big.clone()];
        let mut cmds = vec![ShardCommand::String(
            StringCommand::parse("set", &argv).expect("SET"),
        )];
        ShardCommand::detach_all(&mut cmds);
        let mut pointers = Vec::new();
        cmds[0].for_each_bytes(&mut |b| pointers.push(b.as_ptr()));
        assert_ne!(pointers[0], small.as_ptr(), "the small key is copied");
        assert_eq!(
            pointers[1],
            big.as_ptr(),
            "the large value stays where it is"
        );
    }
}

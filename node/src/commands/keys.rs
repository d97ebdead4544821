//! Generic key commands: DEL, EXISTS, TYPE, TOUCH, the EXPIRE family, TTL family, PERSIST,
//! RENAME, COPY, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL, OBJECT ENCODING.

use bytes::Bytes;

use super::args::{self, from_int, word, Argv, CommandName};
use super::errors;
use super::registry::{Combine, Command, Routing};
use super::{ApplyCtx, Merge, ShardCommand};
use crate::glob;
use crate::keyspace::access;
use crate::keyspace::{Keyspace, ScanCursor};
use crate::protocol::Frame;

/// Active expiry proposed by the shard leader: the keys whose deadline has passed.
pub const EXPIRE_DUE: &str = "shardis:expire-due";
/// The name eviction entries were logged under by earlier releases (see
/// [`KeyCommand::Evict`]); like [`EXPIRE_DUE`], no client can send it.
pub const EVICT: &str = "shardis:evict";
/// The name eviction entries are logged under (see [`KeyCommand::EvictUnchanged`]): each key
/// followed by its version, in decimal.
pub const EVICT_UNCHANGED: &str = "shardis:evict-unchanged";

/// The generic key family's commands.
pub static COMMANDS: &[Command] = &[
    Command::spread("del", parse, Combine::Sum),
    Command::spread("unlink", parse, Combine::Sum),
    Command::spread("exists", parse, Combine::Sum),
    Command::spread("touch", parse, Combine::Sum),
    Command::slot("type", parse),
    Command::slot("expire", parse),
    Command::slot("pexpire", parse),
    Command::slot("expireat", parse),
    Command::slot("pexpireat", parse),
    Command::slot("ttl", parse),
    Command::slot("pttl", parse),
    Command::slot("expiretime", parse),
    Command::slot("pexpiretime", parse),
    Command::slot("persist", parse),
    Command::slot("rename", parse),
    Command::slot("renamenx", parse),
    Command::slot("copy", parse),
    Command::slot("object|encoding", parse),
    Command::slot("object|freq", parse),
    Command::slot("object|idletime", parse),
    Command::slot("memory|usage", parse),
    Command {
        name: "keys",
        routing: Routing::Leading(parse, Merge::Concat),
    },
    Command {
        name: "dbsize",
        routing: Routing::Leading(parse, Merge::Sum),
    },
    Command {
        name: "flushdb",
        routing: Routing::Leading(parse, Merge::Ok),
    },
    Command {
        name: "flushall",
        routing: Routing::Leading(parse, Merge::Ok),
    },
    Command {
        name: "randomkey",
        routing: Routing::RandomKey,
    },
    Command {
        name: "scan",
        routing: Routing::Scan,
    },
    // CLUSTER subcommands, but they read the keyspace: key commands, logged like the others.
    Command {
        name: "cluster|countkeysinslot",
        routing: Routing::SlotArgument(parse),
    },
    Command {
        name: "cluster|getkeysinslot",
        routing: Routing::SlotArgument(parse),
    },
];

/// Parses a key command into a shard command (also CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT).
pub fn parse(name: &'static str, argv: &Argv) -> Result<ShardCommand, Frame> {
    KeyCommand::parse(name, argv).map(ShardCommand::Key)
}

/// Conditions of EXPIRE and friends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// SCAN's options.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanArgs {
    /// Where to start.
    pub cursor: ScanCursor,
    /// MATCH pattern.
    pub pattern: Option<Bytes>,
    /// COUNT (entries visited per call).
    pub count: usize,
    /// TYPE filter.
    pub type_name: Option<Bytes>,
}

/// A key command, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyCommand {
    /// DEL / UNLINK (the keys of one shard).
    Del(Vec<Bytes>),
    /// EXISTS (the keys of one shard).
    Exists(Vec<Bytes>),
    /// TOUCH (the keys of one shard).
    Touch(Vec<Bytes>),
    /// TYPE key.
    Type(Bytes),
    /// EXPIRE family: key, deadline argument in ms (relative or absolute), flags, command name.
    Expire {
        /// Key.
        key: Bytes,
        /// Milliseconds (already scaled from seconds).
        ms: i64,
        /// True for EXPIREAT/PEXPIREAT.
        absolute: bool,
        /// NX/XX/GT/LT.
        flags: ExpireFlags,
        /// Command name for errors.
        name: CommandName,
    },
    /// TTL, PTTL, EXPIRETIME, PEXPIRETIME.
    Ttl {
        /// Key.
        key: Bytes,
        /// Milliseconds instead of seconds.
        ms: bool,
        /// Absolute deadline instead of time left.
        absolute: bool,
    },
    /// PERSIST key.
    Persist(Bytes),
    /// RENAME / RENAMENX.
    Rename {
        /// Source.
        src: Bytes,
        /// Destination.
        dst: Bytes,
        /// RENAMENX.
        nx: bool,
    },
    /// COPY src dst [REPLACE].
    Copy {
        /// Source.
        src: Bytes,
        /// Destination.
        dst: Bytes,
        /// REPLACE given.
        replace: bool,
    },
    /// KEYS pattern (every shard).
    Keys(Bytes),
    /// DBSIZE (every shard).
    DbSize,
    /// FLUSHDB / FLUSHALL (every shard).
    Flush,
    /// OBJECT ENCODING key.
    ObjectEncoding(Bytes),
    /// OBJECT FREQ key: the key's access count under an LFU policy, decayed to now, without
    /// touching it (redis's error under any other policy).
    ObjectFreq(Bytes),
    /// OBJECT IDLETIME key: seconds since the key was last read or written (the access clock the
    /// LRU policies use), without touching it (redis's error under an LFU policy).
    ObjectIdleTime(Bytes),
    /// MEMORY USAGE key [SAMPLES n]: the bytes the key and its value take, counted exactly (no
    /// sampling: the sizes are kept as the value changes), without touching it.
    MemoryUsage(Bytes),
    /// Active expiry, proposed by the shard leader: removes those keys whose deadline is at or
    /// before the entry's timestamp (a key written again meanwhile stays). Answers the count.
    ExpireDue(Vec<Bytes>),
    /// Eviction as earlier releases logged it: removes those keys whatever happened to them
    /// since they were picked. Read from old logs only. Answers the count.
    Evict(Vec<Bytes>),
    /// Eviction, proposed by the shard leader past `maxmemory`: removes those keys (the ones
    /// its policy picked) that still have the version they had when picked. Answers the count.
    EvictUnchanged(Vec<(Bytes, u32)>),
    /// The read of a blocking pop: which of its keys first holds a value to pop (see
    /// `blocking.rs`). Never sent by a client.
    FirstReady {
        /// The keys, in order.
        keys: Vec<Bytes>,
        /// The type wanted (`list`, `zset`).
        wanted: &'static str,
        /// A key of another type met first answers WRONGTYPE (else it is passed over).
        strict: bool,
    },
    /// CLUSTER COUNTKEYSINSLOT slot.
    CountKeysInSlot(u16),
    /// CLUSTER GETKEYSINSLOT slot count.
    GetKeysInSlot {
        /// The slot.
        slot: u16,
        /// Most keys returned.
        count: usize,
    },
}

fn parse_expire_flags(opts: &[Bytes]) -> Result<ExpireFlags, Frame> {
    let mut f = ExpireFlags::default();
    for opt in opts {
        if args::is(opt, "nx") {
            f.nx = true;
        } else if args::is(opt, "xx") {
            f.xx = true;
        } else if args::is(opt, "gt") {
            f.gt = true;
        } else if args::is(opt, "lt") {
            f.lt = true;
        } else {
            return Err(Frame::error_owned(format!(
                "ERR Unsupported option {}",
                errors::quote_arg(opt, usize::MAX)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Frame::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(Frame::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// Parses a SCAN cursor as redis does (`strtoul`: optional sign, decimal digits, an empty string
/// is 0), or `ERR invalid cursor`.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Frame> {
    let invalid = || Frame::error("ERR invalid cursor");
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if !digits.iter().all(u8::is_ascii_digit) || (digits.is_empty() && arg.len() == 1) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// Parses SCAN's options after the cursor.
fn parse_scan(argv: &Argv, cursor_at: usize) -> Result<ScanArgs, Frame> {
    let cursor = ScanCursor::decode(parse_cursor(&argv[cursor_at])?);
    let mut out = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        type_name: None,
    };
    let mut i = cursor_at + 1;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if args::is(&argv[i], "count") && has_value {
            let n = args::int(&argv[i + 1])?;
            if n < 1 {
                return Err(errors::syntax());
            }
            out.count = n as usize;
        } else if args::is(&argv[i], "match") && has_value {
            let p = &argv[i + 1];
            // Like redis, `*` alone means no filter.
            out.pattern = (p.as_ref() != b"*").then(|| p.clone());
        } else if args::is(&argv[i], "type") && has_value {
            out.type_name = Some(argv[i + 1].clone());
        } else {
            return Err(errors::syntax());
        }
        i += 2;
    }
    Ok(out)
}

impl KeyCommand {
    /// Parses a key command; `name` is the lowercase (full) command name, arity already checked.
    pub fn parse(name: &'static str, argv: &Argv) -> Result<KeyCommand, Frame> {
        let key = || argv[1].clone();
        Ok(match name {
            "del" | "unlink" => KeyCommand::Del(argv[1..].to_vec()),
            "exists" => KeyCommand::Exists(argv[1..].to_vec()),
            "touch" => KeyCommand::Touch(argv[1..].to_vec()),
            "type" => KeyCommand::Type(key()),
            "expire" | "pexpire" | "expireat" | "pexpireat" => {
                let flags = parse_expire_flags(&argv[3..])?;
                let when = args::int(&argv[2])?;
                let seconds = name == "expire" || name == "expireat";
                let ms = if seconds {
                    when.checked_mul(1000)
                        .ok_or_else(|| errors::invalid_expire(name))?
                } else {
                    when
                };
                KeyCommand::Expire {
                    key: key(),
                    ms,
                    absolute: name.ends_with("at"),
                    flags,
                    name: CommandName(name),
                }
            }
            "ttl" | "pttl" | "expiretime" | "pexpiretime" => KeyCommand::Ttl {
                key: key(),
                ms: name.starts_with('p'),
                absolute: name.ends_with("time"),
            },
            "persist" => KeyCommand::Persist(key()),
            "rename" | "renamenx" => KeyCommand::Rename {
                src: key(),
                dst: argv[2].clone(),
                nx: name == "renamenx",
            },
            "copy" => {
                let mut replace = false;
                let mut i = 3;
                while i < argv.len() {
                    if args::is(&argv[i], "replace") {
                        replace = true;
                    } else if args::is(&argv[i], "db") && i + 1 < argv.len() {
                        let db = args::int(&argv[i + 1])?;
                        if db != 0 {
                            return Err(Frame::error(
                                "ERR Copying to another database is not allowed in cluster mode",
                            ));
                        }
                        i += 1;
                    } else {
                        return Err(errors::syntax());
                    }
                    i += 1;
                }
                KeyCommand::Copy {
                    src: key(),
                    dst: argv[2].clone(),
                    replace,
                }
            }
            "keys" => KeyCommand::Keys(key()),
            "dbsize" => KeyCommand::DbSize,
            "flushdb" | "flushall" => {
                if argv.len() > 2 {
                    return Err(errors::syntax());
                }
                if let Some(mode) = argv.get(1) {
                    if !args::is(mode, "sync") && !args::is(mode, "async") {
                        return Err(errors::syntax());
                    }
                }
                KeyCommand::Flush
            }
            "object|encoding" => KeyCommand::ObjectEncoding(argv[2].clone()),
            "object|freq" => KeyCommand::ObjectFreq(argv[2].clone()),
            "object|idletime" => KeyCommand::ObjectIdleTime(argv[2].clone()),
            "memory|usage" => {
                // Redis's options: SAMPLES <non-negative count>, any number of times.
                let mut rest = argv[3..].iter();
                while let Some(option) = rest.next() {
                    match (option.eq_ignore_ascii_case(b"samples"), rest.next()) {
                        (true, Some(n)) if args::int(n)? >= 0 => {}
                        _ => return Err(errors::syntax()),
                    }
                }
                KeyCommand::MemoryUsage(argv[2].clone())
            }
            "cluster|countkeysinslot" => match args::int(&argv[2])? {
                slot @ 0..=16383 => KeyCommand::CountKeysInSlot(slot as u16),
                _ => return Err(Frame::error("ERR Invalid slot")),
            },
            "cluster|getkeysinslot" => {
                let slot = args::int(&argv[2])?;
                let count = args::int(&argv[3])?;
                if !(0..16384).contains(&slot) || count < 0 {
                    return Err(Frame::error("ERR Invalid slot or number of keys"));
                }
                KeyCommand::GetKeysInSlot {
                    slot: slot as u16,
                    count: usize::try_from(count).unwrap_or(usize::MAX),
                }
            }
            _ => return Err(Frame::error("ERR unknown key command")),
        })
    }

    /// The keys this command names, in order (none for whole-keyspace commands).
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            KeyCommand::Del(keys)
            | KeyCommand::Exists(keys)
            | KeyCommand::Touch(keys)
            | KeyCommand::FirstReady { keys, .. } => keys.iter().collect(),
            KeyCommand::Type(k)
            | KeyCommand::Persist(k)
            | KeyCommand::ObjectEncoding(k)
            | KeyCommand::ObjectFreq(k)
            | KeyCommand::ObjectIdleTime(k)
            | KeyCommand::MemoryUsage(k)
            | KeyCommand::Expire { key: k, .. }
            | KeyCommand::Ttl { key: k, .. } => vec![k],
            KeyCommand::Rename { src, dst, .. } | KeyCommand::Copy { src, dst, .. } => {
                vec![src, dst]
            }
            _ => Vec::new(),
        }
    }

    /// Visits every byte string the command holds (see [`super::ShardCommand::detach_all`]).
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            KeyCommand::Del(keys)
            | KeyCommand::Exists(keys)
            | KeyCommand::Touch(keys)
            | KeyCommand::FirstReady { keys, .. }
            | KeyCommand::ExpireDue(keys)
            | KeyCommand::Evict(keys) => keys.iter_mut().for_each(f),
            KeyCommand::EvictUnchanged(victims) => victims.iter_mut().for_each(|(k, _)| f(k)),
            KeyCommand::Type(k)
            | KeyCommand::Persist(k)
            | KeyCommand::ObjectEncoding(k)
            | KeyCommand::ObjectFreq(k)
            | KeyCommand::ObjectIdleTime(k)
            | KeyCommand::MemoryUsage(k)
            | KeyCommand::Keys(k)
            | KeyCommand::Expire { key: k, .. }
            | KeyCommand::Ttl { key: k, .. } => f(k),
            KeyCommand::Rename { src, dst, .. } | KeyCommand::Copy { src, dst, .. } => {
                f(src);
                f(dst);
            }
            KeyCommand::DbSize
            | KeyCommand::Flush
            | KeyCommand::CountKeysInSlot(_)
            | KeyCommand::GetKeysInSlot { .. } => {}
        }
    }

    /// The command as an argument vector that parses back to it (the form the log keeps, see
    /// `log_form.rs`). The node's own commands (active expiry, INFO counters) get names no
    /// client can send.
    pub fn to_argv(&self) -> Argv {
        let with_keys = |name: &'static str, keys: &[Bytes]| -> Argv {
            std::iter::once(word(name))
                .chain(keys.iter().cloned())
                .collect()
        };
        let key = |name: &'static str, k: &Bytes| vec![word(name), k.clone()];
        match self {
            KeyCommand::Del(keys) => with_keys("del", keys),
            KeyCommand::Exists(keys) => with_keys("exists", keys),
            KeyCommand::Touch(keys) => with_keys("touch", keys),
            KeyCommand::Type(k) => key("type", k),
            KeyCommand::Expire {
                key: k,
                ms,
                absolute: _,
                flags,
                name,
            } => {
                let seconds = name.0 == "expire" || name.0 == "expireat";
                let when = if seconds { ms / 1000 } else { *ms };
                let mut argv = vec![word(name.0), k.clone(), from_int(when)];
                for (on, w) in [
                    (flags.nx, "nx"),
                    (flags.xx, "xx"),
                    (flags.gt, "gt"),
                    (flags.lt, "lt"),
                ] {
                    if on {
                        argv.push(word(w));
                    }
                }
                argv
            }
            KeyCommand::Ttl {
                key: k,
                ms,
                absolute,
            } => {
                let name = match (ms, absolute) {
                    (false, false) => "ttl",
                    (true, false) => "pttl",
                    (false, true) => "expiretime",
                    (true, true) => "pexpiretime",
                };
                key(name, k)
            }
            KeyCommand::Persist(k) => key("persist", k),
            KeyCommand::Rename { src, dst, nx } => {
                let name = if *nx { "renamenx" } else { "rename" };
                vec![word(name), src.clone(), dst.clone()]
            }
            KeyCommand::Copy { src, dst, replace } => {
                let mut argv = vec![word("copy"), src.clone(), dst.clone()];
                if *replace {
                    argv.push(word("replace"));
                }
                argv
            }
            KeyCommand::Keys(pattern) => key("keys", pattern),
            KeyCommand::DbSize => vec![word("dbsize")],
            KeyCommand::Flush => vec![word("flushall")],
            KeyCommand::ObjectEncoding(k) => vec![word("object"), word("encoding"), k.clone()],
            KeyCommand::ObjectFreq(k) => vec![word("object"), word("freq"), k.clone()],
            KeyCommand::ObjectIdleTime(k) => vec![word("object"), word("idletime"), k.clone()],
            KeyCommand::MemoryUsage(k) => vec![word("memory"), word("usage"), k.clone()],
            KeyCommand::FirstReady {
                keys,
                wanted,
                strict,
            } => probe_argv(keys, wanted, *strict),
            KeyCommand::ExpireDue(keys) => with_keys(EXPIRE_DUE, keys),
            KeyCommand::Evict(keys) => with_keys(EVICT, keys),
            KeyCommand::EvictUnchanged(victims) => std::iter::once(word(EVICT_UNCHANGED))
                .chain(
                    victims
                        .iter()
                        .flat_map(|(k, v)| [k.clone(), from_int(i64::from(*v))]),
                )
                .collect(),
            KeyCommand::CountKeysInSlot(slot) => vec![
                word("cluster"),
                word("countkeysinslot"),
                from_int(i64::from(*slot)),
            ],
            KeyCommand::GetKeysInSlot { slot, count } => vec![
                word("cluster"),
                word("getkeysinslot"),
                from_int(i64::from(*slot)),
                from_int(i64::try_from(*count).unwrap_or(i64::MAX)),
            ],
        }
    }

    /// The slot a slot command (CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT) is about. Like a Redis
    /// Cluster node, any replica answers those from its own data.
    pub fn slot_arg(&self) -> Option<u16> {
        match self {
            KeyCommand::CountKeysInSlot(slot) | KeyCommand::GetKeysInSlot { slot, .. } => {
                Some(*slot)
            }
            _ => None,
        }
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        !matches!(
            self,
            KeyCommand::Del(_)
                | KeyCommand::ExpireDue(_)
                | KeyCommand::Evict(_)
                | KeyCommand::EvictUnchanged(_)
                | KeyCommand::Expire { .. }
                | KeyCommand::Persist(_)
                | KeyCommand::Rename { .. }
                | KeyCommand::Copy { .. }
                | KeyCommand::Flush
        )
    }

    /// Runs the command against `ks`.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        let now = ctx.now;
        match self {
            KeyCommand::Del(keys) => {
                let mut n = 0;
                for k in keys {
                    ks.purge_if_expired(k, now);
                    n += i64::from(ks.remove(k).is_some());
                }
                Frame::Integer(n)
            }
            KeyCommand::Exists(keys) | KeyCommand::Touch(keys) => {
                Frame::Integer(keys.iter().filter(|k| ks.contains(k, now)).count() as i64)
            }
            KeyCommand::Type(k) => Frame::simple(ks.peek(k, now).map_or("none", |e| e.type_name())),
            KeyCommand::FirstReady {
                keys,
                wanted,
                strict,
            } => first_ready(ks, now, keys, wanted, *strict),
            KeyCommand::Expire {
                key,
                ms,
                absolute,
                flags,
                name,
            } => apply_expire(ks, now, key, *ms, *absolute, *flags, name.0),
            KeyCommand::Ttl { key, ms, absolute } => {
                let Some(entry) = ks.peek(key, now) else {
                    return Frame::Integer(-2);
                };
                let Some(at) = entry.expires_at() else {
                    return Frame::Integer(-1);
                };
                let value = if *absolute {
                    at as i64
                } else {
                    at.saturating_sub(now) as i64
                };
                Frame::Integer(if *ms { value } else { (value + 500) / 1000 })
            }
            KeyCommand::Persist(key) => {
                ks.purge_if_expired(key, now);
                let has_ttl = ks.peek(key, now).is_some_and(|e| e.expires_at().is_some());
                if has_ttl {
                    ks.set_expiry(key, 0);
                }
                Frame::Integer(i64::from(has_ttl))
            }
            KeyCommand::Rename { src, dst, nx } => {
                ks.purge_if_expired(src, now);
                ks.purge_if_expired(dst, now);
                if !ks.contains(src, now) {
                    return Frame::error("ERR no such key");
                }
                if src == dst {
                    return if *nx { Frame::Integer(0) } else { Frame::ok() };
                }
                if *nx && ks.contains(dst, now) {
                    return Frame::Integer(0);
                }
                if !ks.rename(src, dst) {
                    return Frame::error("ERR no such key");
                }
                if *nx {
                    Frame::Integer(1)
                } else {
                    Frame::ok()
                }
            }
            KeyCommand::Copy { src, dst, replace } => {
                if src == dst {
                    return Frame::error("ERR source and destination objects are the same");
                }
                ks.purge_if_expired(dst, now);
                let Some((value, deadline)) = ks
                    .peek(src, now)
                    .map(|e| (ks.value_of(e), e.expires_at().unwrap_or(0)))
                else {
                    return Frame::Integer(0);
                };
                if !replace && ks.contains(dst, now) {
                    return Frame::Integer(0);
                }
                ks.insert(dst, value, deadline);
                Frame::Integer(1)
            }
            KeyCommand::Keys(pattern) => {
                let all = pattern.as_ref() == b"*";
                Frame::Array(
                    ks.live_keys(now)
                        .filter(|e| all || glob::matches(pattern, e.key(), false))
                        .map(|e| Frame::bulk_from(e.key()))
                        .collect(),
                )
            }
            KeyCommand::DbSize => Frame::Integer(ks.len() as i64),
            KeyCommand::Flush => {
                ks.clear();
                Frame::ok()
            }
            KeyCommand::ObjectEncoding(key) => match ks.peek(key, now) {
                Some(e) => Frame::bulk_from(e.encoding().as_bytes()),
                None => Frame::Null,
            },
            KeyCommand::ObjectFreq(key) => match ks.peek(key, now) {
                Some(e) if access::lfu() => Frame::Integer(i64::from(ks.frequency(e))),
                Some(_) => Frame::error(
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                     Please note that when switching between policies at runtime LRU and LFU \
                     data will take some time to adjust.",
                ),
                None => Frame::Null,
            },
            KeyCommand::ObjectIdleTime(key) => match ks.peek(key, now) {
                Some(_) if access::lfu() => Frame::error(
                    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please \
                     note that when switching between policies at runtime LRU and LFU data \
                     will take some time to adjust.",
                ),
                Some(e) => Frame::Integer(i64::from(ks.idle_seconds(e))),
                None => Frame::Null,
            },
            KeyCommand::MemoryUsage(key) => ks
                .memory_usage(key, now)
                .map_or(Frame::Null, |bytes| Frame::Integer(bytes as i64)),
            KeyCommand::ExpireDue(keys) => Frame::Integer(ks.remove_expired(keys, now) as i64),
            KeyCommand::Evict(keys) => Frame::Integer(ks.evict(keys) as i64),
            KeyCommand::EvictUnchanged(victims) => {
                Frame::Integer(ks.evict_unchanged(victims) as i64)
            }
            KeyCommand::CountKeysInSlot(slot) => Frame::Integer(ks.count_in_slot(*slot) as i64),
            KeyCommand::GetKeysInSlot { slot, count } => Frame::Array(
                ks.keys_in_slot(*slot, *count)
                    .map(Frame::bulk_from)
                    .collect(),
            ),
        }
    }
}

/// Parses a SCAN request (arity already checked).
pub fn parse_scan_request(argv: &Argv) -> Result<ScanArgs, Frame> {
    parse_scan(argv, 1)
}

/// One shard's page of a SCAN: the keys it visited that match, and where the next call starts
/// (the start of the next shard's slots once this one is done; 0 after the last slot).
pub fn scan_page(ks: &Keyspace, scan: &ScanArgs, now: u64) -> ScanPage {
    let mut keys = Vec::new();
    let next = ks.scan(scan.cursor, scan.count, now, |e| {
        let type_ok = scan
            .type_name
            .as_ref()
            .is_none_or(|t| t.eq_ignore_ascii_case(e.type_name().as_bytes()));
        let match_ok = scan
            .pattern
            .as_ref()
            .is_none_or(|p| glob::matches(p, e.key(), false));
        if type_ok && match_ok {
            keys.push(Bytes::copy_from_slice(e.key()));
        }
    });
    let (_, last) = ks.slot_range();
    let next = match next {
        Some(c) => c.encode(),
        None if last == crate::slot::SLOT_COUNT - 1 => 0,
        None => ScanCursor {
            slot: last + 1,
            pos: 0,
        }
        .encode(),
    };
    ScanPage { next, keys }
}

/// SCAN's reply from a page.
pub fn scan_reply(page: ScanPage) -> Frame {
    Frame::Array(vec![
        Frame::bulk_from(page.next.to_string().as_bytes()),
        Frame::Array(page.keys.into_iter().map(Frame::Bulk).collect()),
    ])
}

/// RANDOMKEY from the shards' samples: one of their keys, each shard weighted by its size, so
/// that every key is about as likely as in one keyspace.
pub fn random_key_of(samples: &[RandomKey]) -> Frame {
    use rand::Rng;
    let candidates: Vec<(u64, &Bytes)> = samples
        .iter()
        .filter_map(|s| s.key.as_ref().map(|k| (s.keys, k)))
        .filter(|(n, _)| *n > 0)
        .collect();
    let total: u64 = candidates.iter().map(|c| c.0).sum();
    if total == 0 {
        return Frame::Null;
    }
    let mut pick = rand::rng().random_range(0..total);
    for (n, key) in candidates {
        if pick < n {
            return Frame::Bulk(key.clone());
        }
        pick -= n;
    }
    Frame::Null
}

fn apply_expire(
    ks: &mut Keyspace,
    now: u64,
    key: &[u8],
    ms: i64,
    absolute: bool,
    flags: ExpireFlags,
    name: &str,
) -> Frame {
    let when = if absolute {
        ms
    } else {
        match ms.checked_add(now as i64) {
            Some(w) => w,
            None => return errors::invalid_expire(name),
        }
    };
    ks.purge_if_expired(key, now);
    let Some(entry) = ks.peek(key, now) else {
        return Frame::Integer(0);
    };
    let current = entry.expires_at().map(|t| t as i64);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| when <= c))
        || (flags.lt && current.is_some_and(|c| when >= c));
    if refused {
        return Frame::Integer(0);
    }
    if when <= now as i64 {
        ks.remove(key);
    } else {
        ks.set_expiry(key, when as u64);
    }
    Frame::Integer(1)
}

/// One shard's part of RANDOMKEY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RandomKey {
    /// The shard's size, which weighs its key against the other shards'.
    pub keys: u64,
    /// One of its live keys, if any.
    pub key: Option<Bytes>,
}

/// One shard's page of a SCAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanPage {
    /// The client cursor to continue from (0: the scan is complete).
    pub next: u64,
    /// The keys of this page.
    pub keys: Vec<Bytes>,
}

/// The name of a blocking pop's probe as an argument vector ([`KeyCommand::FirstReady`]: a
/// read, never logged; the form exists so that every shard command has one).
pub const FIRST_READY: &str = "blocking:first-ready";

/// The probe's answer: the position in `keys` of the first key holding a value of type
/// `wanted` (a collection that exists is never empty), or -1; with `strict`, a key of another
/// type met first answers WRONGTYPE.
pub fn first_ready(ks: &Keyspace, now: u64, keys: &[Bytes], wanted: &str, strict: bool) -> Frame {
    for (i, key) in keys.iter().enumerate() {
        let Some(entry) = ks.peek(key, now) else {
            continue;
        };
        if entry.type_name() == wanted {
            return Frame::Integer(i as i64);
        }
        if strict {
            return errors::wrong_type();
        }
    }
    Frame::Integer(-1)
}

/// The probe as an argument vector: [`FIRST_READY`], the type, `strict` or `lax`, the keys.
pub fn probe_argv(keys: &[Bytes], wanted: &str, strict: bool) -> Argv {
    let mut argv = vec![
        word(FIRST_READY),
        Bytes::copy_from_slice(wanted.as_bytes()),
        word(if strict { "strict" } else { "lax" }),
    ];
    argv.extend(keys.iter().cloned());
    argv
}

/// Reads a probe's argument vector back.
pub fn probe_from_argv(argv: &Argv) -> Result<KeyCommand, String> {
    let wanted = match argv.get(1).map(|w| w.as_ref()) {
        Some(b"list") => "list",
        Some(b"zset") => "zset",
        other => return Err(format!("{FIRST_READY}: unknown type {other:?}")),
    };
    let strict = match argv.get(2).map(|w| w.as_ref()) {
        Some(b"strict") => true,
        Some(b"lax") => false,
        other => return Err(format!("{FIRST_READY}: unknown mode {other:?}")),
    };
    Ok(KeyCommand::FirstReady {
        keys: argv[3..].to_vec(),
        wanted,
        strict,
    })
}

/// Reads an eviction's argument vector back (see [`EVICT_UNCHANGED`]).
pub fn evict_unchanged_from_argv(argv: &Argv) -> Result<KeyCommand, String> {
    let pairs = argv.get(1..).unwrap_or_default();
    if pairs.len() % 2 != 0 {
        return Err(format!("{EVICT_UNCHANGED}: a key without its version"));
    }
    pairs
        .chunks_exact(2)
        .map(|pair| {
            std::str::from_utf8(&pair[1])
                .ok()
                .and_then(|v| v.parse::<u32>().ok())
                .map(|version| (pair[0].clone(), version))
                .ok_or_else(|| format!("{EVICT_UNCHANGED}: a version that is not a number"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(KeyCommand::EvictUnchanged)
}

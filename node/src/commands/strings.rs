//! String commands: GET, SET and its variants, MGET/MSET, counters, ranges.
//!
//! Each command is parsed once from its arguments (errors in the arguments are answered before
//! the command reaches a shard) and applied by the shard that owns its key, with the batch's
//! timestamp in [`ApplyCtx`].

use bytes::Bytes;

use super::args::{self, from_int, word, Argv, CommandName};
use super::errors;
use super::registry::{Combine, Command};
use super::{ApplyCtx, ShardCommand};
use crate::keyspace::{Keyspace, Value};
use crate::long_double::{LongDouble, Number};
use crate::protocol::Frame;

/// When a SET-like write happens at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    Always,
    /// Only if the key does not exist (NX).
    IfAbsent,
    /// Only if the key exists (XX).
    IfPresent,
}

/// What a write does to the key's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryChange {
    /// Leave it as it is (KEEPTTL, or GETEX without options).
    Keep,
    /// Remove it (plain SET, GETEX PERSIST).
    Clear,
    /// This many milliseconds after the batch timestamp (EX, PX).
    In(i64),
    /// At this Unix time in milliseconds (EXAT, PXAT).
    At(i64),
}

impl ExpiryChange {
    /// The absolute deadline at `now` (0 = none, `None` = keep), or the invalid-expire error.
    fn deadline(self, now: u64, old: u64, name: &str) -> Result<u64, Frame> {
        match self {
            ExpiryChange::Keep => Ok(old),
            ExpiryChange::Clear => Ok(0),
            ExpiryChange::In(ms) => (now as i64)
                .checked_add(ms)
                .filter(|&t| t > 0)
                .map(|t| t as u64)
                .ok_or_else(|| errors::invalid_expire(name)),
            ExpiryChange::At(ms) => Ok(ms as u64),
        }
    }
}

/// How a SET-like command answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetReply {
    /// `+OK`, or nil when the condition failed (SET, SETEX, PSETEX).
    Ok,
    /// `:1` written, `:0` not (SETNX).
    Flag,
    /// The old value or nil (SET … GET, GETSET).
    Old,
}

/// SET and the commands that are SET with fixed options.
#[derive(Clone, Debug, PartialEq)]
pub struct Set {
    /// Command name, for error texts.
    pub name: CommandName,
    /// Key.
    pub key: Bytes,
    /// New value.
    pub value: Bytes,
    /// NX/XX.
    pub condition: Condition,
    /// Deadline change.
    pub expiry: ExpiryChange,
    /// Reply form.
    pub reply: SetReply,
}

/// A string command, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum StringCommand {
    /// GET key.
    Get(Bytes),
    /// SET and friends.
    Set(Set),
    /// GETDEL key.
    GetDel(Bytes),
    /// GETEX key [EX|PX|EXAT|PXAT|PERSIST].
    GetEx(Bytes, ExpiryChange),
    /// MGET (the keys of one shard).
    MGet(Vec<Bytes>),
    /// MSET (the pairs of one shard).
    MSet(Vec<(Bytes, Bytes)>),
    /// MSETNX (all keys in one slot).
    MSetNx(Vec<(Bytes, Bytes)>),
    /// INCR, DECR, INCRBY, DECRBY.
    IncrBy(Bytes, i64),
    /// INCRBYFLOAT: the increment in redis's 80-bit `long double`, and as the client wrote it
    /// (the text is what the log keeps: it parses back to exactly the same increment).
    IncrByFloat(Bytes, LongDouble, Bytes),
    /// APPEND key value.
    Append(Bytes, Bytes),
    /// STRLEN key.
    StrLen(Bytes),
    /// GETRANGE / SUBSTR key start end.
    GetRange(Bytes, i64, i64),
    /// SETRANGE key offset value.
    SetRange(Bytes, i64, Bytes),
}

/// The string family's commands.
pub static COMMANDS: &[Command] = &[
    Command::slot("get", parse),
    Command::slot("set", parse),
    Command::slot("setnx", parse),
    Command::slot("setex", parse),
    Command::slot("psetex", parse),
    Command::slot("getset", parse),
    Command::slot("getdel", parse),
    Command::slot("getex", parse),
    Command::spread("mget", parse, Combine::ByPosition),
    Command::spread("mset", parse, Combine::Ok),
    Command::slot("msetnx", parse),
    Command::slot("incr", parse),
    Command::slot("decr", parse),
    Command::slot("incrby", parse),
    Command::slot("decrby", parse),
    Command::slot("incrbyfloat", parse),
    Command::slot("append", parse),
    Command::slot("strlen", parse),
    Command::slot("getrange", parse),
    Command::slot("substr", parse),
    Command::slot("setrange", parse),
];

/// Parses a string command into a shard command.
fn parse(name: &'static str, argv: &Argv) -> Result<ShardCommand, Frame> {
    StringCommand::parse(name, argv).map(ShardCommand::String)
}

/// Which options `parse_set_options` accepts.
#[derive(PartialEq, Eq)]
enum OptionSet {
    Set,
    GetEx,
}

/// Parses SET's (or GETEX's) options from `opts` exactly as redis's
/// `parseExtendedStringArgumentsOrReply`: each option excludes the ones it conflicts with (but not
/// itself: `EX 1 EX 2` takes the last), anything else is a syntax error.
fn parse_set_options(
    name: &'static str,
    opts: &[Bytes],
    kind: OptionSet,
) -> Result<(Condition, bool, ExpiryChange), Frame> {
    let mut condition = Condition::Always;
    let mut get = false;
    let mut expiry = if kind == OptionSet::Set {
        ExpiryChange::Clear
    } else {
        ExpiryChange::Keep
    };
    let (mut keepttl, mut persist) = (false, false);
    let mut unit: Option<&'static str> = None;
    let mut expire_arg: Option<&Bytes> = None;
    let mut j = 0;
    while j < opts.len() {
        let opt = &opts[j];
        let next = opts.get(j + 1);
        let is_set = kind == OptionSet::Set;
        let has_ttl_opt = |u: &Option<&'static str>, except: &str| u.is_some_and(|x| x != except);
        if args::is(opt, "nx") && condition != Condition::IfPresent && is_set {
            condition = Condition::IfAbsent;
        } else if args::is(opt, "xx") && condition != Condition::IfAbsent && is_set {
            condition = Condition::IfPresent;
        } else if args::is(opt, "get") && is_set {
            get = true;
        } else if args::is(opt, "keepttl") && !persist && unit.is_none() && is_set {
            keepttl = true;
        } else if args::is(opt, "persist") && !is_set && unit.is_none() && !keepttl {
            persist = true;
        } else if let Some(u) = ["ex", "px", "exat", "pxat"]
            .into_iter()
            .find(|u| args::is(opt, u))
        {
            if keepttl || persist || has_ttl_opt(&unit, u) || next.is_none() {
                return Err(errors::syntax());
            }
            unit = Some(u);
            expire_arg = next;
            j += 1;
        } else {
            return Err(errors::syntax());
        }
        j += 1;
    }
    if let (Some(u), Some(arg)) = (unit, expire_arg) {
        let v = args::int(arg)?;
        let seconds = u == "ex" || u == "exat";
        if v <= 0 || (seconds && v > i64::MAX / 1000) {
            return Err(errors::invalid_expire(name));
        }
        let ms = if seconds { v * 1000 } else { v };
        expiry = if u == "ex" || u == "px" {
            ExpiryChange::In(ms)
        } else {
            ExpiryChange::At(ms)
        };
    } else if keepttl {
        expiry = ExpiryChange::Keep;
    } else if persist {
        expiry = ExpiryChange::Clear;
    }
    Ok((condition, get, expiry))
}

impl StringCommand {
    /// Parses a string command; `name` is the lowercase command name (arity already checked).
    pub fn parse(name: &'static str, argv: &Argv) -> Result<StringCommand, Frame> {
        let key = || argv[1].clone();
        Ok(match name {
            "get" => StringCommand::Get(key()),
            "set" => {
                let (condition, get, expiry) = parse_set_options(name, &argv[3..], OptionSet::Set)?;
                StringCommand::Set(Set {
                    name: CommandName(name),
                    key: key(),
                    value: argv[2].clone(),
                    condition,
                    expiry,
                    reply: if get { SetReply::Old } else { SetReply::Ok },
                })
            }
            "setnx" => StringCommand::Set(Set {
                name: CommandName(name),
                key: key(),
                value: argv[2].clone(),
                condition: Condition::IfAbsent,
                expiry: ExpiryChange::Clear,
                reply: SetReply::Flag,
            }),
            "setex" | "psetex" => {
                let v = args::int(&argv[2])?;
                let seconds = name == "setex";
                if v <= 0 || (seconds && v > i64::MAX / 1000) {
                    return Err(errors::invalid_expire(name));
                }
                StringCommand::Set(Set {
                    name: CommandName(name),
                    key: key(),
                    value: argv[3].clone(),
                    condition: Condition::Always,
                    expiry: ExpiryChange::In(if seconds { v * 1000 } else { v }),
                    reply: SetReply::Ok,
                })
            }
            "getset" => StringCommand::Set(Set {
                name: CommandName(name),
                key: key(),
                value: argv[2].clone(),
                condition: Condition::Always,
                expiry: ExpiryChange::Clear,
                reply: SetReply::Old,
            }),
            "getdel" => StringCommand::GetDel(key()),
            "getex" => {
                let (_, _, expiry) = parse_set_options(name, &argv[2..], OptionSet::GetEx)?;
                StringCommand::GetEx(key(), expiry)
            }
            "mget" => StringCommand::MGet(argv[1..].to_vec()),
            "mset" | "msetnx" => {
                if argv.len().is_multiple_of(2) {
                    return Err(errors::wrong_arity(name));
                }
                let pairs = argv[1..]
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                if name == "mset" {
                    StringCommand::MSet(pairs)
                } else {
                    StringCommand::MSetNx(pairs)
                }
            }
            "incr" => StringCommand::IncrBy(key(), 1),
            "decr" => StringCommand::IncrBy(key(), -1),
            "incrby" => StringCommand::IncrBy(key(), args::int(&argv[2])?),
            "decrby" => {
                let by = args::int(&argv[2])?;
                if by == i64::MIN {
                    return Err(Frame::error("ERR decrement would overflow"));
                }
                StringCommand::IncrBy(key(), -by)
            }
            "incrbyfloat" => match LongDouble::parse(&argv[2]) {
                Some(Number::Finite(by)) => StringCommand::IncrByFloat(key(), by, argv[2].clone()),
                Some(Number::Infinite) => {
                    return Err(Frame::error("ERR increment would produce NaN or Infinity"))
                }
                None => return Err(errors::not_float()),
            },
            "append" => StringCommand::Append(key(), argv[2].clone()),
            "strlen" => StringCommand::StrLen(key()),
            "getrange" | "substr" => {
                StringCommand::GetRange(key(), args::int(&argv[2])?, args::int(&argv[3])?)
            }
            "setrange" => {
                let offset = args::int(&argv[2])?;
                if offset < 0 {
                    return Err(Frame::error("ERR offset is out of range"));
                }
                StringCommand::SetRange(key(), offset, argv[3].clone())
            }
            _ => return Err(Frame::error("ERR unknown string command")),
        })
    }

    /// The keys this command touches, in order.
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            StringCommand::MGet(keys) => keys.iter().collect(),
            StringCommand::MSet(pairs) | StringCommand::MSetNx(pairs) => {
                pairs.iter().map(|(k, _)| k).collect()
            }
            StringCommand::Get(k)
            | StringCommand::GetDel(k)
            | StringCommand::GetEx(k, _)
            | StringCommand::IncrBy(k, _)
            | StringCommand::IncrByFloat(k, _, _)
            | StringCommand::Append(k, _)
            | StringCommand::StrLen(k)
            | StringCommand::GetRange(k, _, _)
            | StringCommand::SetRange(k, _, _) => vec![k],
            StringCommand::Set(s) => vec![&s.key],
        }
    }

    /// Visits every byte string the command holds (see [`super::ShardCommand::detach_all`]).
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            StringCommand::Set(s) => {
                f(&mut s.key);
                f(&mut s.value);
            }
            StringCommand::MGet(keys) => keys.iter_mut().for_each(f),
            StringCommand::MSet(pairs) | StringCommand::MSetNx(pairs) => {
                for (k, v) in pairs {
                    f(k);
                    f(v);
                }
            }
            StringCommand::Append(k, v)
            | StringCommand::SetRange(k, _, v)
            | StringCommand::IncrByFloat(k, _, v) => {
                f(k);
                f(v);
            }
            StringCommand::Get(k)
            | StringCommand::GetDel(k)
            | StringCommand::GetEx(k, _)
            | StringCommand::IncrBy(k, _)
            | StringCommand::StrLen(k)
            | StringCommand::GetRange(k, _, _) => f(k),
        }
    }

    /// The command as an argument vector that parses back to it (the form the log keeps, see
    /// [`super::log_form`]).
    pub fn to_argv(&self) -> Argv {
        let key = |name: &'static str, k: &Bytes| vec![word(name), k.clone()];
        let with_pairs = |name: &'static str, pairs: &[(Bytes, Bytes)]| {
            let mut argv = Vec::with_capacity(1 + 2 * pairs.len());
            argv.push(word(name));
            for (k, v) in pairs {
                argv.push(k.clone());
                argv.push(v.clone());
            }
            argv
        };
        match self {
            StringCommand::Get(k) => key("get", k),
            StringCommand::Set(set) => set_argv(set),
            StringCommand::GetDel(k) => key("getdel", k),
            StringCommand::GetEx(k, expiry) => {
                let mut argv = key("getex", k);
                match expiry {
                    ExpiryChange::Keep => {}
                    ExpiryChange::Clear => argv.push(word("persist")),
                    ExpiryChange::In(ms) => argv.extend([word("px"), from_int(*ms)]),
                    ExpiryChange::At(ms) => argv.extend([word("pxat"), from_int(*ms)]),
                }
                argv
            }
            StringCommand::MGet(keys) => std::iter::once(word("mget"))
                .chain(keys.iter().cloned())
                .collect(),
            StringCommand::MSet(pairs) => with_pairs("mset", pairs),
            StringCommand::MSetNx(pairs) => with_pairs("msetnx", pairs),
            StringCommand::IncrBy(k, by) => vec![word("incrby"), k.clone(), from_int(*by)],
            StringCommand::IncrByFloat(k, _, text) => {
                vec![word("incrbyfloat"), k.clone(), text.clone()]
            }
            StringCommand::Append(k, v) => vec![word("append"), k.clone(), v.clone()],
            StringCommand::StrLen(k) => key("strlen", k),
            StringCommand::GetRange(k, start, end) => {
                vec![
                    word("getrange"),
                    k.clone(),
                    from_int(*start),
                    from_int(*end),
                ]
            }
            StringCommand::SetRange(k, offset, v) => {
                vec![word("setrange"), k.clone(), from_int(*offset), v.clone()]
            }
        }
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            StringCommand::Get(_)
                | StringCommand::MGet(_)
                | StringCommand::StrLen(_)
                | StringCommand::GetRange(_, _, _)
        )
    }

    /// Runs the command against `ks`.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        let now = ctx.now;
        match self {
            StringCommand::Get(key) => match ks.get_str(key, now) {
                Ok(Some(e)) => Frame::Bulk(e.to_bytes()),
                Ok(None) => Frame::Null,
                Err(e) => e.into(),
            },
            StringCommand::Set(set) => apply_set(ks, ctx, set),
            StringCommand::GetDel(key) => {
                ks.purge_if_expired(key, now);
                if let Err(e) = ks.peek_str(key, now) {
                    return e.into();
                }
                match ks.remove(key) {
                    Some(e) => Frame::Bulk(e.to_bytes()),
                    None => Frame::Null,
                }
            }
            StringCommand::GetEx(key, change) => {
                ks.purge_if_expired(key, now);
                let entry = match ks.get_str(key, now) {
                    Ok(Some(entry)) => entry,
                    Ok(None) => return Frame::Null,
                    Err(e) => return e.into(),
                };
                let old = entry.expires_at().unwrap_or(0);
                let reply = Frame::Bulk(entry.to_bytes());
                match change.deadline(now, old, "getex") {
                    Err(e) => e,
                    Ok(at) if at != 0 && at <= now => {
                        ks.remove(key);
                        reply
                    }
                    Ok(at) => {
                        ks.set_expiry(key, at);
                        reply
                    }
                }
            }
            StringCommand::MGet(keys) => Frame::Array(
                keys.iter()
                    .map(|k| match ks.get(k, now) {
                        Some(e) if e.is_string() => Frame::Bulk(e.to_bytes()),
                        _ => Frame::Null,
                    })
                    .collect(),
            ),
            StringCommand::MSet(pairs) => {
                for (k, v) in pairs {
                    ks.overwrite(k, Value::from_shared(v), 0, now);
                }
                Frame::ok()
            }
            StringCommand::MSetNx(pairs) => {
                if pairs.iter().any(|(k, _)| ks.contains(k, now)) {
                    return Frame::Integer(0);
                }
                for (k, v) in pairs {
                    ks.overwrite(k, Value::from_shared(v), 0, now);
                }
                Frame::Integer(1)
            }
            StringCommand::IncrBy(key, by) => apply_incr(ks, now, key, *by),
            StringCommand::IncrByFloat(key, by, _) => apply_incr_float(ks, now, key, by),
            StringCommand::Append(key, tail) => {
                ks.purge_if_expired(key, now);
                let entry = match ks.peek_str(key, now) {
                    Ok(entry) => entry,
                    Err(e) => return e.into(),
                };
                let Some(entry) = entry else {
                    if tail.len() as u64 > ctx.max_bulk_len {
                        return errors::too_big();
                    }
                    ks.insert(key, Value::from_bytes(tail), 0);
                    return Frame::Integer(tail.len() as i64);
                };
                let total = entry.len() + tail.len();
                if total as u64 > ctx.max_bulk_len {
                    return errors::too_big();
                }
                let mut data = Vec::with_capacity(total);
                data.extend_from_slice(&entry.to_bytes());
                data.extend_from_slice(tail);
                ks.replace_value(key, Value::Raw(Bytes::from(data)));
                Frame::Integer(total as i64)
            }
            StringCommand::StrLen(key) => match ks.get_str(key, now) {
                Ok(found) => Frame::Integer(found.map_or(0, |e| e.len() as i64)),
                Err(e) => e.into(),
            },
            StringCommand::GetRange(key, start, end) => {
                let entry = match ks.get_str(key, now) {
                    Ok(Some(entry)) => entry,
                    Ok(None) => return Frame::Bulk(Bytes::new()),
                    Err(e) => return e.into(),
                };
                let data = entry.to_bytes();
                Frame::Bulk(range_of(&data, *start, *end))
            }
            StringCommand::SetRange(key, offset, patch) => {
                apply_setrange(ks, ctx, key, *offset as usize, patch)
            }
        }
    }
}

/// SET and the commands that are SET with fixed options, each in its own form (so that the name
/// its error texts quote survives the log).
fn set_argv(set: &Set) -> Argv {
    let Set {
        name,
        key,
        value,
        condition,
        expiry,
        reply,
    } = set;
    match (name.0, expiry) {
        ("setnx" | "getset", _) => vec![word(name.0), key.clone(), value.clone()],
        ("setex", ExpiryChange::In(ms)) => {
            vec![
                word("setex"),
                key.clone(),
                from_int(ms / 1000),
                value.clone(),
            ]
        }
        ("psetex", ExpiryChange::In(ms)) => {
            vec![word("psetex"), key.clone(), from_int(*ms), value.clone()]
        }
        _ => {
            let mut argv = vec![word("set"), key.clone(), value.clone()];
            match condition {
                Condition::Always => {}
                Condition::IfAbsent => argv.push(word("nx")),
                Condition::IfPresent => argv.push(word("xx")),
            }
            match expiry {
                ExpiryChange::Clear => {}
                ExpiryChange::Keep => argv.push(word("keepttl")),
                ExpiryChange::In(ms) => argv.extend([word("px"), from_int(*ms)]),
                ExpiryChange::At(ms) => argv.extend([word("pxat"), from_int(*ms)]),
            }
            if *reply == SetReply::Old {
                argv.push(word("get"));
            }
            argv
        }
    }
}

/// GETRANGE's index rules: negative indexes count from the end, both ends inclusive and clamped.
fn range_of(data: &Bytes, start: i64, end: i64) -> Bytes {
    let len = data.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Bytes::new();
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Bytes::new();
    }
    data.slice(start as usize..=end as usize)
}

fn apply_set(ks: &mut Keyspace, ctx: &ApplyCtx, set: &Set) -> Frame {
    let now = ctx.now;
    // Only NX/XX, GET and KEEPTTL look at the old entry: a plain SET replaces it unseen, with
    // one map lookup.
    let reads_old = set.condition != Condition::Always
        || set.reply == SetReply::Old
        || set.expiry == ExpiryChange::Keep;
    let (found, old_deadline, old_value) = match reads_old {
        true => {
            ks.purge_if_expired(&set.key, now);
            match ks.peek(&set.key, now) {
                // SET … GET (and GETSET) read the old value as GET does, before anything else.
                Some(e) if !e.is_string() && set.reply == SetReply::Old => {
                    return errors::wrong_type()
                }
                Some(e) => (
                    true,
                    e.expires_at().unwrap_or(0),
                    (set.reply == SetReply::Old).then(|| e.to_bytes()),
                ),
                None => (false, 0, None),
            }
        }
        false => (false, 0, None),
    };
    let old_reply = || old_value.clone().map_or(Frame::Null, Frame::Bulk);
    let blocked = match set.condition {
        Condition::Always => false,
        Condition::IfAbsent => found,
        Condition::IfPresent => !found,
    };
    if blocked {
        return match set.reply {
            SetReply::Ok => Frame::Null,
            SetReply::Flag => Frame::Integer(0),
            SetReply::Old => old_reply(),
        };
    }
    let deadline = match set.expiry.deadline(now, old_deadline, set.name.0) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let reply = match set.reply {
        SetReply::Ok => Frame::ok(),
        SetReply::Flag => Frame::Integer(1),
        SetReply::Old => old_reply(),
    };
    if deadline != 0 && deadline <= now {
        // Already expired (EXAT/PXAT in the past): the write deletes the key.
        ks.purge_if_expired(&set.key, now);
        ks.remove(&set.key);
    } else {
        ks.overwrite(&set.key, Value::from_shared(&set.value), deadline, now);
    }
    reply
}

fn apply_incr(ks: &mut Keyspace, now: u64, key: &[u8], by: i64) -> Frame {
    ks.purge_if_expired(key, now);
    let entry = match ks.peek_str(key, now) {
        Ok(entry) => entry,
        Err(e) => return e.into(),
    };
    let Some(entry) = entry else {
        ks.insert(key, Value::Int(by), 0);
        return Frame::Integer(by);
    };
    let current = match entry.as_int() {
        Some(n) => n,
        None => match crate::protocol::parse::parse_i64(&entry.to_bytes()) {
            Some(n) => n,
            None => return errors::not_integer(),
        },
    };
    match current.checked_add(by) {
        Some(n) => {
            ks.replace_value(key, Value::Int(n));
            Frame::Integer(n)
        }
        None => Frame::error("ERR increment or decrement would overflow"),
    }
}

fn apply_incr_float(ks: &mut Keyspace, now: u64, key: &[u8], by: &LongDouble) -> Frame {
    ks.purge_if_expired(key, now);
    let current = match ks.peek_str(key, now) {
        Err(e) => return e.into(),
        Ok(None) => LongDouble::zero(),
        Ok(Some(entry)) => match LongDouble::parse(&entry.to_bytes()) {
            Some(Number::Finite(v)) => v,
            Some(Number::Infinite) => {
                return Frame::error("ERR increment would produce NaN or Infinity")
            }
            None => return errors::not_float(),
        },
    };
    let Number::Finite(result) = current.add(by) else {
        return Frame::error("ERR increment would produce NaN or Infinity");
    };
    let text = result.to_human();
    let value = Value::from_bytes(text.as_bytes());
    if !ks.replace_value(key, value.clone()) {
        ks.insert(key, value, 0);
    }
    Frame::Bulk(Bytes::from(text))
}

fn apply_setrange(
    ks: &mut Keyspace,
    ctx: &ApplyCtx,
    key: &[u8],
    offset: usize,
    patch: &[u8],
) -> Frame {
    let too_big = (offset as u64).saturating_add(patch.len() as u64) > ctx.max_bulk_len;
    ks.purge_if_expired(key, ctx.now);
    let entry = match ks.peek_str(key, ctx.now) {
        Ok(entry) => entry,
        Err(e) => return e.into(),
    };
    let Some(entry) = entry else {
        if patch.is_empty() {
            return Frame::Integer(0);
        }
        if too_big {
            return errors::too_big();
        }
        let mut data = vec![0u8; offset + patch.len()];
        data[offset..].copy_from_slice(patch);
        let len = data.len();
        ks.insert(key, Value::Raw(Bytes::from(data)), 0);
        return Frame::Integer(len as i64);
    };
    let old_len = entry.len();
    if patch.is_empty() {
        return Frame::Integer(old_len as i64);
    }
    if too_big {
        return errors::too_big();
    }
    let mut data = entry.to_bytes().to_vec();
    let end = offset + patch.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[offset..end].copy_from_slice(patch);
    let len = data.len();
    ks.replace_value(key, Value::Raw(Bytes::from(data)));
    Frame::Integer(len as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ks: &mut Keyspace, now: u64, args: &[&str]) -> Frame {
        let argv: Argv = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let name: &'static str = crate::commands::table::lookup(args[0].as_bytes())
            .map(|s| s.name)
            .unwrap_or("?");
        match StringCommand::parse(name, &argv) {
            Ok(cmd) => cmd.apply(
                ks,
                &ApplyCtx {
                    now,
                    max_bulk_len: 512 << 20,
                },
            ),
            Err(e) => e,
        }
    }

    #[test]
    fn set_options() {
        let mut ks = Keyspace::new(0, 16383);
        assert_eq!(
            run(&mut ks, 1000, &["set", "k", "v", "nx", "xx"]),
            errors::syntax()
        );
        assert_eq!(
            run(&mut ks, 1000, &["set", "k", "v", "ex", "0"]),
            errors::invalid_expire("set")
        );
        assert_eq!(
            run(&mut ks, 1000, &["set", "k", "v", "px", "100", "nx"]),
            Frame::ok()
        );
        assert_eq!(run(&mut ks, 1050, &["set", "k", "w", "nx"]), Frame::Null);
        assert_eq!(
            run(&mut ks, 1100, &["set", "k", "w", "nx", "get"]),
            Frame::Null
        );
        assert_eq!(
            run(&mut ks, 1100, &["get", "k"]),
            Frame::Bulk(Bytes::from("w"))
        );
        assert_eq!(
            run(&mut ks, 1100, &["set", "k", "x", "get", "keepttl"]),
            Frame::Bulk(Bytes::from("w"))
        );
    }

    #[test]
    fn ranges() {
        let data = Bytes::from("This is a string");
        assert_eq!(range_of(&data, 0, 3), Bytes::from("This"));
        assert_eq!(range_of(&data, -3, -1), Bytes::from("ing"));
        assert_eq!(range_of(&data, 0, -1), data);
        assert_eq!(range_of(&data, 10, 100), Bytes::from("string"));
        assert_eq!(range_of(&data, -1, -5), Bytes::new());
    }

    #[test]
    fn counters() {
        let mut ks = Keyspace::new(0, 16383);
        assert_eq!(
            run(&mut ks, 1, &["incrby", "n", "9223372036854775807"]),
            Frame::Integer(i64::MAX)
        );
        assert_eq!(
            run(&mut ks, 1, &["incr", "n"]),
            Frame::error("ERR increment or decrement would overflow")
        );
        assert_eq!(run(&mut ks, 1, &["set", "f", "10.5"]), Frame::ok());
        assert_eq!(
            run(&mut ks, 1, &["incrbyfloat", "f", "0.1"]),
            Frame::Bulk(Bytes::from("10.6"))
        );
        assert_eq!(
            run(&mut ks, 1, &["incrbyfloat", "f", "abc"]),
            errors::not_float()
        );
    }
}

//! Hash commands: HSET and its relatives, reads of fields, counters in fields, HRANDFIELD and
//! HSCAN.
//!
//! A hash is stored by the keyspace (packed in its key's entry while small, a table beside the
//! map once large, see `keyspace/hash.rs`); the commands only read it through
//! [`Keyspace::hash`] and change it through [`Keyspace::update_hash`], which answer WRONGTYPE
//! for a key of another type. HRANDFIELD is a read: only the leader answers it, so its random
//! picks need no log entry.

use std::borrow::Cow;

use bytes::Bytes;

use super::args::{self, from_int, word, Argv};
use super::element_scan::{self, ElementScan};
use super::errors;
use super::random_pick;
use super::registry::Command;
use super::reply_budget;
use super::{ApplyCtx, ShardCommand};
use crate::keyspace::hash::{FieldValue, HashView};
use crate::keyspace::Keyspace;
use crate::long_double::{LongDouble, Number};
use crate::protocol::Frame;

/// A hash command, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum HashCommand {
    /// HSET / HMSET key field value [field value …].
    Set {
        /// Key.
        key: Bytes,
        /// Fields and values, in order (a later value of a field wins).
        pairs: Vec<(Bytes, Bytes)>,
        /// HMSET: answers `+OK` instead of the number of new fields.
        hmset: bool,
    },
    /// HSETNX key field value.
    SetNx(Bytes, Bytes, Bytes),
    /// HGET key field.
    Get(Bytes, Bytes),
    /// HMGET key field [field …].
    MGet(Bytes, Vec<Bytes>),
    /// HDEL key field [field …].
    Del(Bytes, Vec<Bytes>),
    /// HEXISTS key field.
    Exists(Bytes, Bytes),
    /// HLEN key.
    Len(Bytes),
    /// HKEYS key.
    Keys(Bytes),
    /// HVALS key.
    Vals(Bytes),
    /// HGETALL key.
    GetAll(Bytes),
    /// HINCRBY key field increment.
    IncrBy(Bytes, Bytes, i64),
    /// HINCRBYFLOAT key field increment: the increment, and its text as the client wrote it
    /// (what the log keeps; it parses back to the same increment).
    IncrByFloat(Bytes, Bytes, LongDouble, Bytes),
    /// HSTRLEN key field.
    StrLen(Bytes, Bytes),
    /// HRANDFIELD key [count [WITHVALUES]].
    RandField {
        /// Key.
        key: Bytes,
        /// The count, if given (negative: picks may repeat).
        count: Option<i64>,
        /// WITHVALUES.
        with_values: bool,
    },
    /// HSCAN key cursor [MATCH pattern] [COUNT count].
    Scan(Bytes, ElementScan),
}

/// The hash family's commands.
pub static COMMANDS: &[Command] = &[
    Command::slot("hset", parse),
    Command::slot("hmset", parse),
    Command::slot("hsetnx", parse),
    Command::slot("hget", parse),
    Command::slot("hmget", parse),
    Command::slot("hdel", parse),
    Command::slot("hexists", parse),
    Command::slot("hlen", parse),
    Command::slot("hkeys", parse),
    Command::slot("hvals", parse),
    Command::slot("hgetall", parse),
    Command::slot("hincrby", parse),
    Command::slot("hincrbyfloat", parse),
    Command::slot("hstrlen", parse),
    Command::slot("hrandfield", parse),
    Command::slot("hscan", parse),
];

fn parse(name: &'static str, argv: &Argv) -> Result<ShardCommand, Frame> {
    HashCommand::parse(name, argv).map(ShardCommand::Hash)
}

impl HashCommand {
    /// Parses a hash command; `name` is the table's name (arity already checked).
    pub fn parse(name: &'static str, argv: &Argv) -> Result<HashCommand, Frame> {
        let key = || argv[1].clone();
        Ok(match name {
            "hset" | "hmset" => {
                if !argv.len().is_multiple_of(2) {
                    return Err(errors::wrong_arity(name));
                }
                let pairs = argv[2..]
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                HashCommand::Set {
                    key: key(),
                    pairs,
                    hmset: name == "hmset",
                }
            }
            "hsetnx" => HashCommand::SetNx(key(), argv[2].clone(), argv[3].clone()),
            "hget" => HashCommand::Get(key(), argv[2].clone()),
            "hmget" => HashCommand::MGet(key(), argv[2..].to_vec()),
            "hdel" => HashCommand::Del(key(), argv[2..].to_vec()),
            "hexists" => HashCommand::Exists(key(), argv[2].clone()),
            "hlen" => HashCommand::Len(key()),
            "hkeys" => HashCommand::Keys(key()),
            "hvals" => HashCommand::Vals(key()),
            "hgetall" => HashCommand::GetAll(key()),
            "hincrby" => HashCommand::IncrBy(key(), argv[2].clone(), args::int(&argv[3])?),
            "hincrbyfloat" => match LongDouble::parse(&argv[3]) {
                Some(Number::Finite(by)) => {
                    HashCommand::IncrByFloat(key(), argv[2].clone(), by, argv[3].clone())
                }
                Some(Number::Infinite) => return Err(Frame::error("ERR value is NaN or Infinity")),
                None => return Err(errors::not_float()),
            },
            "hstrlen" => HashCommand::StrLen(key(), argv[2].clone()),
            "hrandfield" => parse_randfield(argv)?,
            "hscan" => HashCommand::Scan(key(), ElementScan::parse(argv, 2)?),
            _ => return Err(Frame::error("ERR unknown hash command")),
        })
    }

    /// The key.
    pub fn key(&self) -> &Bytes {
        match self {
            HashCommand::Set { key, .. } | HashCommand::RandField { key, .. } => key,
            HashCommand::SetNx(k, _, _)
            | HashCommand::Get(k, _)
            | HashCommand::MGet(k, _)
            | HashCommand::Del(k, _)
            | HashCommand::Exists(k, _)
            | HashCommand::Len(k)
            | HashCommand::Keys(k)
            | HashCommand::Vals(k)
            | HashCommand::GetAll(k)
            | HashCommand::IncrBy(k, _, _)
            | HashCommand::IncrByFloat(k, _, _, _)
            | HashCommand::StrLen(k, _)
            | HashCommand::Scan(k, _) => k,
        }
    }

    /// Visits every byte string the command holds (see [`ShardCommand::detach_all`]).
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            HashCommand::Set { key, pairs, .. } => {
                f(key);
                for (a, b) in pairs {
                    f(a);
                    f(b);
                }
            }
            HashCommand::SetNx(k, a, b) | HashCommand::IncrByFloat(k, a, _, b) => {
                f(k);
                f(a);
                f(b);
            }
            HashCommand::Get(k, a)
            | HashCommand::Exists(k, a)
            | HashCommand::IncrBy(k, a, _)
            | HashCommand::StrLen(k, a) => {
                f(k);
                f(a);
            }
            HashCommand::MGet(k, fields) | HashCommand::Del(k, fields) => {
                f(k);
                fields.iter_mut().for_each(f);
            }
            HashCommand::Scan(k, scan) => {
                f(k);
                if let Some(p) = &mut scan.pattern {
                    f(p);
                }
            }
            HashCommand::Len(k)
            | HashCommand::Keys(k)
            | HashCommand::Vals(k)
            | HashCommand::GetAll(k)
            | HashCommand::RandField { key: k, .. } => f(k),
        }
    }

    /// The command as an argument vector that parses back to it (see [`super::log_form`]).
    pub fn to_argv(&self) -> Argv {
        let with = |name: &'static str, k: &Bytes, rest: &[Bytes]| {
            let mut argv = Vec::with_capacity(2 + rest.len());
            argv.push(word(name));
            argv.push(k.clone());
            argv.extend_from_slice(rest);
            argv
        };
        match self {
            HashCommand::Set { key, pairs, hmset } => {
                let name = if *hmset { "hmset" } else { "hset" };
                let flat: Vec<Bytes> = pairs
                    .iter()
                    .flat_map(|(a, b)| [a.clone(), b.clone()])
                    .collect();
                with(name, key, &flat)
            }
            HashCommand::SetNx(k, a, b) => with("hsetnx", k, &[a.clone(), b.clone()]),
            HashCommand::Get(k, a) => with("hget", k, std::slice::from_ref(a)),
            HashCommand::MGet(k, fields) => with("hmget", k, fields),
            HashCommand::Del(k, fields) => with("hdel", k, fields),
            HashCommand::Exists(k, a) => with("hexists", k, std::slice::from_ref(a)),
            HashCommand::Len(k) => with("hlen", k, &[]),
            HashCommand::Keys(k) => with("hkeys", k, &[]),
            HashCommand::Vals(k) => with("hvals", k, &[]),
            HashCommand::GetAll(k) => with("hgetall", k, &[]),
            HashCommand::IncrBy(k, a, by) => with("hincrby", k, &[a.clone(), from_int(*by)]),
            HashCommand::IncrByFloat(k, a, _, text) => {
                with("hincrbyfloat", k, &[a.clone(), text.clone()])
            }
            HashCommand::StrLen(k, a) => with("hstrlen", k, std::slice::from_ref(a)),
            HashCommand::RandField {
                key,
                count,
                with_values,
            } => {
                let mut rest = Vec::new();
                if let Some(n) = count {
                    rest.push(from_int(*n));
                    if *with_values {
                        rest.push(word("withvalues"));
                    }
                }
                with("hrandfield", key, &rest)
            }
            HashCommand::Scan(k, scan) => with("hscan", k, &scan.to_args()),
        }
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        !matches!(
            self,
            HashCommand::Set { .. }
                | HashCommand::SetNx(..)
                | HashCommand::Del(..)
                | HashCommand::IncrBy(..)
                | HashCommand::IncrByFloat(..)
        )
    }

    /// Runs the command against `ks`.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        let now = ctx.now;
        let result = match self {
            HashCommand::Set { key, pairs, hmset } => ks
                .update_hash(key, now, true, |h| {
                    pairs.iter().filter(|(f, v)| h.set(f, v)).count()
                })
                .map(|added| match hmset {
                    true => Frame::ok(),
                    false => Frame::Integer(added.unwrap_or(0) as i64),
                }),
            HashCommand::SetNx(key, field, value) => ks
                .update_hash(key, now, true, |h| {
                    h.view().get(field).is_none() && h.set(field, value)
                })
                .map(|set| Frame::Integer(i64::from(set == Some(true)))),
            HashCommand::Del(key, fields) => ks
                .update_hash(key, now, false, |h| {
                    fields.iter().filter(|f| h.remove(f)).count()
                })
                .map(|n| Frame::Integer(n.unwrap_or(0) as i64)),
            HashCommand::IncrBy(key, field, by) => ks
                .update_hash(key, now, true, |h| incr_by(h, field, *by))
                .map(|r| r.unwrap_or(Frame::Null)),
            HashCommand::IncrByFloat(key, field, by, _) => ks
                .update_hash(key, now, true, |h| incr_by_float(h, field, by))
                .map(|r| r.unwrap_or(Frame::Null)),
            read => ks.hash(read.key(), now).map(|hash| read.answer(hash, ctx)),
        };
        result.unwrap_or_else(Frame::from)
    }

    /// The reply of a read, from the hash (`None`: no such key).
    fn answer(&self, hash: Option<HashView<'_>>, _ctx: &ApplyCtx) -> Frame {
        let bulk = |b: Cow<'_, [u8]>| Frame::bulk_from(&b);
        let field = |f: &[u8]| hash.and_then(|h| h.get(f)).map_or(Frame::Null, bulk);
        if let (HashCommand::Keys(_) | HashCommand::Vals(_) | HashCommand::GetAll(_), Some(h)) =
            (self, hash)
        {
            if let Err(e) = reply_budget::check(h.bytes()) {
                return e;
            }
        }
        match self {
            HashCommand::Get(_, f) => field(f),
            HashCommand::MGet(_, fields) => Frame::Array(fields.iter().map(|f| field(f)).collect()),
            HashCommand::Exists(_, f) => {
                Frame::Integer(i64::from(hash.is_some_and(|h| h.get(f).is_some())))
            }
            HashCommand::Len(_) => Frame::Integer(hash.map_or(0, |h| h.len()) as i64),
            HashCommand::StrLen(_, f) => {
                Frame::Integer(hash.and_then(|h| h.get(f)).map_or(0, |v| v.len()) as i64)
            }
            HashCommand::Keys(_) => Frame::Array(
                hash.into_iter()
                    .flat_map(|h| h.pairs())
                    .map(|(f, _)| bulk(f))
                    .collect(),
            ),
            HashCommand::Vals(_) => Frame::Array(
                hash.into_iter()
                    .flat_map(|h| h.pairs())
                    .map(|(_, v)| bulk(v))
                    .collect(),
            ),
            HashCommand::GetAll(_) => Frame::Map(
                hash.into_iter()
                    .flat_map(|h| h.pairs())
                    .map(|(f, v)| (bulk(f), bulk(v)))
                    .collect(),
            ),
            HashCommand::RandField {
                count, with_values, ..
            } => random_fields(hash, *count, *with_values),
            HashCommand::Scan(_, scan) => {
                let Some(hash) = hash else {
                    return element_scan::reply(0, Vec::new());
                };
                let mut found = Vec::new();
                let next = hash.scan(scan.cursor, scan.count, |f, v| {
                    if scan.matches(&f) {
                        found.push(bulk(f));
                        found.push(bulk(v));
                    }
                });
                element_scan::reply(next, found)
            }
            HashCommand::Set { .. }
            | HashCommand::SetNx(..)
            | HashCommand::Del(..)
            | HashCommand::IncrBy(..)
            | HashCommand::IncrByFloat(..) => Frame::error("ERR not a read"),
        }
    }
}

/// HRANDFIELD's arguments: a count in `-LONG_MAX..=LONG_MAX`, then WITHVALUES only.
fn parse_randfield(argv: &Argv) -> Result<HashCommand, Frame> {
    let mut cmd = HashCommand::RandField {
        key: argv[1].clone(),
        count: None,
        with_values: false,
    };
    let HashCommand::RandField {
        count, with_values, ..
    } = &mut cmd
    else {
        unreachable!("built just above");
    };
    if argv.len() > 4 || (argv.len() == 4 && !args::is(&argv[3], "withvalues")) {
        return Err(errors::syntax());
    }
    if let Some(arg) = argv.get(2) {
        let n = random_pick::ranged_count(arg)?;
        *with_values = argv.len() == 4;
        random_pick::check_negative(n, *with_values)?;
        *count = Some(n);
    }
    Ok(cmd)
}

/// HRANDFIELD's reply.
fn random_fields(hash: Option<HashView<'_>>, count: Option<i64>, with_values: bool) -> Frame {
    let len = hash.map_or(0, |h| h.len());
    let Some(count) = count else {
        return match hash.filter(|_| len > 0) {
            Some(h) => h
                .pair_at(random_pick::one(len))
                .map_or(Frame::Null, |(f, _)| Frame::bulk_from(&f)),
            None => Frame::Null,
        };
    };
    let Some(hash) = hash.filter(|_| len > 0 && count != 0) else {
        return Frame::Array(Vec::new());
    };
    if let Err(e) = random_pick::check_reply(count, len, hash.bytes()) {
        return e;
    }
    let picks = random_pick::positions(len, count);
    // Packed hashes are walked once for all picks rather than once per pick.
    let pairs: Vec<FieldValue<'_>> = match hash {
        HashView::Packed(_) => {
            let all: Vec<_> = hash.pairs().collect();
            picks.iter().map(|&i| all[i].clone()).collect()
        }
        HashView::Table(_) => picks.iter().filter_map(|&i| hash.pair_at(i)).collect(),
    };
    // A negative count repeats fields: the reply may be many times the hash.
    let lens = pairs
        .iter()
        .flat_map(|(f, v)| [f.len(), if with_values { v.len() } else { 0 }]);
    if let Err(e) = reply_budget::check_elements(lens) {
        return e;
    }
    if with_values {
        Frame::Pairs(
            pairs
                .into_iter()
                .map(|(f, v)| (Frame::bulk_from(&f), Frame::bulk_from(&v)))
                .collect(),
        )
    } else {
        Frame::Array(
            pairs
                .into_iter()
                .map(|(f, _)| Frame::bulk_from(&f))
                .collect(),
        )
    }
}

/// HINCRBY on the hash being changed.
fn incr_by(h: &mut crate::keyspace::hash::Hash, field: &[u8], by: i64) -> Frame {
    let current = match h.view().get(field) {
        None => 0,
        Some(v) => match crate::protocol::parse::parse_i64(&v) {
            Some(n) => n,
            None => return Frame::error("ERR hash value is not an integer"),
        },
    };
    match current.checked_add(by) {
        Some(n) => {
            h.set(field, itoa::Buffer::new().format(n).as_bytes());
            Frame::Integer(n)
        }
        None => Frame::error("ERR increment or decrement would overflow"),
    }
}

/// HINCRBYFLOAT on the hash being changed, in redis's `long double` arithmetic.
fn incr_by_float(h: &mut crate::keyspace::hash::Hash, field: &[u8], by: &LongDouble) -> Frame {
    let current = match h.view().get(field) {
        None => LongDouble::zero(),
        Some(v) => match LongDouble::parse(&v) {
            Some(Number::Finite(n)) => n,
            Some(Number::Infinite) => {
                return Frame::error("ERR increment would produce NaN or Infinity")
            }
            None => return Frame::error("ERR hash value is not a float"),
        },
    };
    let Number::Finite(result) = current.add(by) else {
        return Frame::error("ERR increment would produce NaN or Infinity");
    };
    let text = result.to_human();
    h.set(field, text.as_bytes());
    Frame::Bulk(Bytes::from(text))
}

//! Set commands: membership, the algebra (SINTER, SUNION, SDIFF and their STORE forms,
//! SINTERCARD), random members (SRANDMEMBER, SPOP), SMOVE and SSCAN.
//!
//! A set is stored by the keyspace (an intset packed in its key's entry, or a table beside the
//! map, see `keyspace/set.rs`) and read through [`Keyspace::set`], changed through
//! [`Keyspace::update_set`]; both answer WRONGTYPE for a key of another type.
//!
//! SPOP is random, and every replica must pop the same members. So it is never logged as
//! itself: the leader picks the members first, with a read (SRANDMEMBER's distinct pick), and
//! logs the effect — `spop:effect key count m1 m2 …` — which every replica applies alike. The
//! effect holds only if every picked member is still there when it applies; otherwise (another
//! client changed the set in between) it changes nothing and answers [`CONFLICT`], and the
//! node picks again (see `dispatch::execute::run_effect`).

use std::borrow::Cow;

use bytes::Bytes;

use super::args::{self, from_int, word, Argv};
use super::element_scan::{self, ElementScan};
use super::errors;
use super::random_pick;
use super::registry::Command;
use super::reply_budget;
use super::{ApplyCtx, EffectStep, ShardCommand};
use crate::keyspace::set::{Set, SetView};
use crate::keyspace::{Keyspace, WrongType};
use crate::protocol::Frame;

/// The logged name of SPOP's effect: a colon, which no redis command has, so no client can
/// send it.
pub const SPOP_EFFECT: &str = "spop:effect";

/// The reply of an effect whose pick no longer holds: never sent to a client (the node picks
/// again).
pub const CONFLICT: &str = "SHARDIS-CONFLICT the picked members changed";

/// SINTER, SUNION or SDIFF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algebra {
    /// Members in every set.
    Inter,
    /// Members in any set.
    Union,
    /// Members of the first set in none of the others.
    Diff,
}

/// A set command, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum SetCommand {
    /// SADD key member [member …].
    Add(Bytes, Vec<Bytes>),
    /// SREM key member [member …].
    Rem(Bytes, Vec<Bytes>),
    /// SMEMBERS key.
    Members(Bytes),
    /// SISMEMBER key member.
    IsMember(Bytes, Bytes),
    /// SMISMEMBER key member [member …].
    MIsMember(Bytes, Vec<Bytes>),
    /// SCARD key.
    Card(Bytes),
    /// SRANDMEMBER key [count].
    RandMember(Bytes, Option<i64>),
    /// SPOP key [count], as a client sends it: resolved by the leader into a [`SetCommand::PopEffect`].
    Pop(Bytes, Option<i64>),
    /// The effect of an SPOP: these members removed (if all are still there), answered as SPOP
    /// with or without a count answers.
    PopEffect(Bytes, Option<i64>, Vec<Bytes>),
    /// SMOVE source destination member.
    Move(Bytes, Bytes, Bytes),
    /// SINTER / SUNION / SDIFF key [key …], or their STORE forms with a destination.
    Algebra(Algebra, Option<Bytes>, Vec<Bytes>),
    /// SINTERCARD numkeys key [key …] [LIMIT limit] (0 = no limit).
    InterCard(Vec<Bytes>, u64),
    /// SSCAN key cursor [MATCH pattern] [COUNT count].
    Scan(Bytes, ElementScan),
}

/// The set family's commands.
pub static COMMANDS: &[Command] = &[
    Command::slot("sadd", parse),
    Command::slot("srem", parse),
    Command::slot("smembers", parse),
    Command::slot("sismember", parse),
    Command::slot("smismember", parse),
    Command::slot("scard", parse),
    Command::effect("spop", parse),
    Command::slot("srandmember", parse),
    Command::slot("smove", parse),
    Command::slot("sinter", parse),
    Command::slot("sinterstore", parse),
    Command::slot("sunion", parse),
    Command::slot("sunionstore", parse),
    Command::slot("sdiff", parse),
    Command::slot("sdiffstore", parse),
    Command::slot("sintercard", parse),
    Command::slot("sscan", parse),
];

fn parse(name: &'static str, argv: &Argv) -> Result<ShardCommand, Frame> {
    SetCommand::parse(name, argv).map(ShardCommand::Set)
}

impl SetCommand {
    /// Parses a set command; `name` is the table's name (arity already checked).
    pub fn parse(name: &'static str, argv: &Argv) -> Result<SetCommand, Frame> {
        let key = || argv[1].clone();
        let rest = |from: usize| argv[from..].to_vec();
        Ok(match name {
            "sadd" => SetCommand::Add(key(), rest(2)),
            "srem" => SetCommand::Rem(key(), rest(2)),
            "smembers" => SetCommand::Members(key()),
            "sismember" => SetCommand::IsMember(key(), argv[2].clone()),
            "smismember" => SetCommand::MIsMember(key(), rest(2)),
            "scard" => SetCommand::Card(key()),
            "srandmember" => {
                if argv.len() > 3 {
                    return Err(errors::syntax());
                }
                let count = argv
                    .get(2)
                    .map(|c| random_pick::ranged_count(c))
                    .transpose()?;
                if let Some(n) = count {
                    random_pick::check_negative(n, false)?;
                }
                SetCommand::RandMember(key(), count)
            }
            "spop" => {
                if argv.len() > 3 {
                    return Err(errors::syntax());
                }
                let count = match argv.get(2) {
                    None => None,
                    Some(c) => match crate::protocol::parse::parse_i64(c) {
                        Some(n) if n >= 0 => Some(n),
                        _ => {
                            return Err(Frame::error("ERR value is out of range, must be positive"))
                        }
                    },
                };
                SetCommand::Pop(key(), count)
            }
            "smove" => SetCommand::Move(key(), argv[2].clone(), argv[3].clone()),
            "sinter" => SetCommand::Algebra(Algebra::Inter, None, rest(1)),
            "sunion" => SetCommand::Algebra(Algebra::Union, None, rest(1)),
            "sdiff" => SetCommand::Algebra(Algebra::Diff, None, rest(1)),
            "sinterstore" => SetCommand::Algebra(Algebra::Inter, Some(key()), rest(2)),
            "sunionstore" => SetCommand::Algebra(Algebra::Union, Some(key()), rest(2)),
            "sdiffstore" => SetCommand::Algebra(Algebra::Diff, Some(key()), rest(2)),
            "sintercard" => parse_intercard(argv)?,
            "sscan" => SetCommand::Scan(key(), ElementScan::parse(argv, 2)?),
            _ => return Err(Frame::error("ERR unknown set command")),
        })
    }

    /// Parses a logged SPOP effect (`spop:effect key count|- member …`).
    pub fn parse_effect(argv: &Argv) -> Result<SetCommand, String> {
        if argv.len() < 3 {
            return Err(format!("{SPOP_EFFECT} without a key and a count"));
        }
        let count = match argv[2].as_ref() {
            b"-" => None,
            n => Some(
                crate::protocol::parse::parse_i64(n)
                    .ok_or_else(|| format!("{SPOP_EFFECT}: a bad count"))?,
            ),
        };
        Ok(SetCommand::PopEffect(
            argv[1].clone(),
            count,
            argv[3..].to_vec(),
        ))
    }

    /// The keys, in order (destination first).
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            SetCommand::Add(k, _)
            | SetCommand::Rem(k, _)
            | SetCommand::Members(k)
            | SetCommand::IsMember(k, _)
            | SetCommand::MIsMember(k, _)
            | SetCommand::Card(k)
            | SetCommand::RandMember(k, _)
            | SetCommand::Pop(k, _)
            | SetCommand::PopEffect(k, _, _)
            | SetCommand::Scan(k, _) => vec![k],
            SetCommand::Move(a, b, _) => vec![a, b],
            SetCommand::Algebra(_, dst, keys) => dst.iter().chain(keys).collect(),
            SetCommand::InterCard(keys, _) => keys.iter().collect(),
        }
    }

    /// Visits every byte string the command holds (see [`ShardCommand::detach_all`]).
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            SetCommand::Add(k, v)
            | SetCommand::Rem(k, v)
            | SetCommand::MIsMember(k, v)
            | SetCommand::PopEffect(k, _, v) => {
                f(k);
                v.iter_mut().for_each(f);
            }
            SetCommand::Members(k)
            | SetCommand::Card(k)
            | SetCommand::RandMember(k, _)
            | SetCommand::Pop(k, _) => f(k),
            SetCommand::IsMember(k, m) => {
                f(k);
                f(m);
            }
            SetCommand::Move(a, b, m) => {
                f(a);
                f(b);
                f(m);
            }
            SetCommand::Algebra(_, dst, keys) => {
                if let Some(d) = dst {
                    f(d);
                }
                keys.iter_mut().for_each(f);
            }
            SetCommand::InterCard(keys, _) => keys.iter_mut().for_each(f),
            SetCommand::Scan(k, scan) => {
                f(k);
                if let Some(p) = &mut scan.pattern {
                    f(p);
                }
            }
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
        let count = |c: &Option<i64>| c.map(from_int);
        match self {
            SetCommand::Add(k, v) => with("sadd", k, v),
            SetCommand::Rem(k, v) => with("srem", k, v),
            SetCommand::Members(k) => with("smembers", k, &[]),
            SetCommand::IsMember(k, m) => with("sismember", k, std::slice::from_ref(m)),
            SetCommand::MIsMember(k, v) => with("smismember", k, v),
            SetCommand::Card(k) => with("scard", k, &[]),
            SetCommand::RandMember(k, c) => with("srandmember", k, &Vec::from_iter(count(c))),
            SetCommand::Pop(k, c) => with("spop", k, &Vec::from_iter(count(c))),
            SetCommand::PopEffect(k, c, members) => {
                let mut rest = vec![count(c).unwrap_or_else(|| word("-"))];
                rest.extend_from_slice(members);
                with(SPOP_EFFECT, k, &rest)
            }
            SetCommand::Move(a, b, m) => with("smove", a, &[b.clone(), m.clone()]),
            SetCommand::Algebra(op, dst, keys) => {
                let name = match (op, dst.is_some()) {
                    (Algebra::Inter, false) => "sinter",
                    (Algebra::Union, false) => "sunion",
                    (Algebra::Diff, false) => "sdiff",
                    (Algebra::Inter, true) => "sinterstore",
                    (Algebra::Union, true) => "sunionstore",
                    (Algebra::Diff, true) => "sdiffstore",
                };
                std::iter::once(word(name))
                    .chain(dst.iter().cloned())
                    .chain(keys.iter().cloned())
                    .collect()
            }
            SetCommand::InterCard(keys, limit) => {
                let mut argv = vec![word("sintercard"), from_int(keys.len() as i64)];
                argv.extend(keys.iter().cloned());
                if *limit > 0 {
                    argv.extend([word("limit"), from_int(*limit as i64)]);
                }
                argv
            }
            SetCommand::Scan(k, scan) => with("sscan", k, &scan.to_args()),
        }
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        match self {
            SetCommand::Add(..)
            | SetCommand::Rem(..)
            | SetCommand::Pop(..)
            | SetCommand::PopEffect(..)
            | SetCommand::Move(..) => false,
            SetCommand::Algebra(_, dst, _) => dst.is_none(),
            _ => true,
        }
    }

    /// For SPOP: the read that picks the members (SRANDMEMBER's pick: distinct members, or one).
    pub fn effect_read(&self) -> Option<ShardCommand> {
        match self {
            SetCommand::Pop(k, count) => {
                Some(ShardCommand::Set(SetCommand::RandMember(k.clone(), *count)))
            }
            _ => None,
        }
    }

    /// For SPOP: the logged effect of the members `picked` (the read's reply), or the final
    /// reply when there is nothing to pop (no key, a count of 0, an error).
    pub fn effect_write(&self, picked: Frame) -> EffectStep {
        let SetCommand::Pop(key, count) = self else {
            return EffectStep::Reply(Frame::error("ERR not an effect command"));
        };
        let members = match picked {
            Frame::Bulk(m) => vec![m],
            Frame::Array(items) | Frame::Set(items) if !items.is_empty() => items
                .into_iter()
                .filter_map(|f| {
                    if let Frame::Bulk(m) = f {
                        Some(m)
                    } else {
                        None
                    }
                })
                .collect(),
            Frame::Array(_) | Frame::Set(_) => return EffectStep::Reply(Frame::Set(Vec::new())),
            other => return EffectStep::Reply(other),
        };
        EffectStep::Write(ShardCommand::Set(SetCommand::PopEffect(
            key.clone(),
            *count,
            members,
        )))
    }

    /// Runs the command against `ks`.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        self.run(ks, ctx.now).unwrap_or_else(Frame::from)
    }

    fn run(&self, ks: &mut Keyspace, now: u64) -> Result<Frame, WrongType> {
        let bulk = |m: Cow<'_, [u8]>| Frame::bulk_from(&m);
        Ok(match self {
            SetCommand::Add(key, members) => {
                let added = ks.update_set(key, now, true, |s| {
                    members.iter().filter(|m| s.add(m)).count()
                })?;
                Frame::Integer(added.unwrap_or(0) as i64)
            }
            SetCommand::Rem(key, members) => {
                let removed = ks.update_set(key, now, false, |s| {
                    members.iter().filter(|m| s.remove(m)).count()
                })?;
                Frame::Integer(removed.unwrap_or(0) as i64)
            }
            SetCommand::Members(key) => match ks.set(key, now)? {
                Some(s) => match reply_budget::check(s.bytes()) {
                    Ok(()) => Frame::Set(s.members().map(bulk).collect()),
                    Err(e) => e,
                },
                None => Frame::Set(Vec::new()),
            },
            SetCommand::IsMember(key, m) => {
                Frame::Integer(i64::from(ks.set(key, now)?.is_some_and(|s| s.contains(m))))
            }
            SetCommand::MIsMember(key, members) => {
                let set = ks.set(key, now)?;
                Frame::Array(
                    members
                        .iter()
                        .map(|m| Frame::Integer(i64::from(set.is_some_and(|s| s.contains(m)))))
                        .collect(),
                )
            }
            SetCommand::Card(key) => {
                Frame::Integer(ks.set(key, now)?.map_or(0, |s| s.len()) as i64)
            }
            SetCommand::RandMember(key, count) => random_members(ks.set(key, now)?, *count),
            SetCommand::Pop(..) => Frame::error("ERR SPOP is applied as its effect"),
            SetCommand::PopEffect(key, count, members) => {
                let popped = ks.update_set(key, now, false, |s| {
                    if !members.iter().all(|m| s.view().contains(m)) {
                        return false;
                    }
                    members.iter().for_each(|m| {
                        s.remove(m);
                    });
                    true
                })?;
                match (popped, count) {
                    (Some(true), None) => Frame::Bulk(members[0].clone()),
                    (Some(true), Some(_)) => {
                        Frame::Set(members.iter().cloned().map(Frame::Bulk).collect())
                    }
                    _ => Frame::error(CONFLICT),
                }
            }
            SetCommand::Move(src, dst, member) => apply_move(ks, now, src, dst, member)?,
            SetCommand::Algebra(op, dst, keys) => {
                // The result is copied out of the inputs: at most all of them.
                let mut inputs = 0;
                for k in keys {
                    inputs += ks.peek_set(k, now)?.map_or(0, |s| s.bytes());
                }
                if let Err(e) = reply_budget::check(inputs) {
                    return Ok(e);
                }
                let result = algebra(ks, now, *op, keys)?;
                match dst {
                    None => Frame::Set(result.into_iter().map(Frame::Bulk).collect()),
                    Some(dst) => {
                        let set = Set::from_members(result.iter().map(|m| &m[..]));
                        let len = set.len();
                        ks.purge_if_expired(dst, now);
                        ks.store_set(dst, set);
                        Frame::Integer(len as i64)
                    }
                }
            }
            SetCommand::InterCard(keys, limit) => {
                let result = algebra(ks, now, Algebra::Inter, keys)?;
                let n = result.len() as u64;
                Frame::Integer(if *limit > 0 { n.min(*limit) } else { n } as i64)
            }
            SetCommand::Scan(key, scan) => {
                let Some(set) = ks.set(key, now)? else {
                    return Ok(element_scan::reply(0, Vec::new()));
                };
                let mut found = Vec::new();
                let next = set.scan(scan.cursor, scan.count, |m| {
                    if scan.matches(&m) {
                        found.push(bulk(m));
                    }
                });
                element_scan::reply(next, found)
            }
        })
    }
}

/// SINTERCARD's arguments: `numkeys key … [LIMIT limit]`, with redis's error texts.
fn parse_intercard(argv: &Argv) -> Result<SetCommand, Frame> {
    let numkeys = match crate::protocol::parse::parse_i64(&argv[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(Frame::error("ERR numkeys should be greater than 0")),
    };
    if numkeys > argv.len() - 2 {
        return Err(Frame::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys = argv[2..2 + numkeys].to_vec();
    let limit = args::limit_from(argv, 2 + numkeys)?;
    Ok(SetCommand::InterCard(keys, limit))
}

/// SRANDMEMBER's reply: one member (or nil), distinct members for a positive count, members
/// that may repeat for a negative one.
fn random_members(set: Option<SetView<'_>>, count: Option<i64>) -> Frame {
    let len = set.map_or(0, |s| s.len());
    let Some(count) = count else {
        return match set.filter(|_| len > 0) {
            Some(s) => s
                .members_at(&[random_pick::one(len)])
                .pop()
                .map_or(Frame::Null, |m| Frame::bulk_from(&m)),
            None => Frame::Null,
        };
    };
    let Some(set) = set.filter(|_| len > 0 && count != 0) else {
        return Frame::Array(Vec::new());
    };
    if let Err(e) = random_pick::check_reply(count, len, set.bytes()) {
        return e;
    }
    let picks = random_pick::positions(len, count);
    let members = set.members_at(&picks);
    // A negative count repeats members: the reply may be many times the set.
    if let Err(e) = reply_budget::check_elements(members.iter().map(|m| m.len())) {
        return e;
    }
    Frame::Array(members.into_iter().map(|m| Frame::bulk_from(&m)).collect())
}

/// The members of SINTER / SUNION / SDIFF over `keys` (a missing key is an empty set; a key of
/// another type is WRONGTYPE, whichever key it is). A result of integers only, as redis builds
/// it in an intset, comes out in ascending order.
fn algebra(
    ks: &mut Keyspace,
    now: u64,
    op: Algebra,
    keys: &[Bytes],
) -> Result<Vec<Bytes>, WrongType> {
    let mut sets = Vec::with_capacity(keys.len());
    for k in keys {
        ks.set(k, now)?;
        sets.push(k);
    }
    let views: Vec<Option<SetView<'_>>> = sets
        .iter()
        .map(|k| ks.peek_set(k, now))
        .collect::<Result<_, _>>()?;
    let owned = |m: Cow<'_, [u8]>| Bytes::copy_from_slice(&m);
    let result: Vec<Bytes> = match op {
        Algebra::Inter => {
            if views.iter().any(Option::is_none) {
                return Ok(Vec::new());
            }
            let views: Vec<SetView<'_>> = views.into_iter().flatten().collect();
            let Some(smallest) = views.iter().min_by_key(|v| v.len()) else {
                return Ok(Vec::new());
            };
            smallest
                .members()
                .filter(|m| views.iter().all(|v| v.contains(m)))
                .map(owned)
                .collect()
        }
        Algebra::Union => {
            let mut seen = Set::default();
            let mut out = Vec::new();
            for v in views.iter().flatten() {
                for m in v.members() {
                    if seen.add(&m) {
                        out.push(owned(m));
                    }
                }
            }
            out
        }
        Algebra::Diff => {
            let Some(Some(first)) = views.first() else {
                return Ok(Vec::new());
            };
            first
                .members()
                .filter(|m| views[1..].iter().flatten().all(|v| !v.contains(m)))
                .map(owned)
                .collect()
        }
    };
    Ok(in_redis_order(result))
}

/// Integers only (as redis would hold the result in an intset): ascending.
fn in_redis_order(mut members: Vec<Bytes>) -> Vec<Bytes> {
    let ints: Option<Vec<i64>> = members
        .iter()
        .map(|m| crate::protocol::parse::parse_i64(m))
        .collect();
    if let Some(mut ints) =
        ints.filter(|i| i.len() <= crate::keyspace::encoding::set_max_intset_entries())
    {
        ints.sort_unstable();
        members = ints.into_iter().map(from_int).collect();
    }
    members
}

/// SMOVE: `member` from `src` to `dst`, both sets (or absent).
fn apply_move(
    ks: &mut Keyspace,
    now: u64,
    src: &Bytes,
    dst: &Bytes,
    member: &Bytes,
) -> Result<Frame, WrongType> {
    // Redis's order of checks: a missing source answers 0 whatever the destination holds.
    let Some(from) = ks.peek_set(src, now)? else {
        return Ok(Frame::Integer(0));
    };
    let present = from.contains(member);
    ks.peek_set(dst, now)?;
    if src == dst || !present {
        return Ok(Frame::Integer(i64::from(present)));
    }
    ks.update_set(src, now, false, |s| s.remove(member))?;
    ks.update_set(dst, now, true, |s| s.add(member))?;
    Ok(Frame::Integer(1))
}

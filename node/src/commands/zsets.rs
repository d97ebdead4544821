//! Sorted set commands: ZADD and its flags, scores and ranks, the range family (by rank, score
//! or lex, forward or reversed, with LIMIT, stored), removals by range, pops, ZRANDMEMBER,
//! ZSCAN, and the algebra (ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD).
//!
//! A sorted set is stored by the keyspace (packed in its key's entry while small, a table with
//! an order-statistic sequence once large, see `keyspace/zset.rs`). Scores print as redis 7.0
//! prints doubles (`%.17g`, [`Frame::Double`]). Pops take the lowest or highest scores, so they
//! are deterministic and logged as themselves; ZRANDMEMBER is a read. The blocking pops
//! (BZPOPMIN, BZPOPMAX, BZMPOP) are run as ZPOPMIN and ZMPOP (`blocking.rs`).

use std::borrow::Cow;

use bytes::Bytes;

use super::args::{self, word, Argv};
use super::element_scan::{self, ElementScan};
use super::errors;
use super::random_pick;
use super::registry::Command;
use super::reply_budget;
use super::{ApplyCtx, ShardCommand, ENCODED_RANGE};
use crate::keyspace::zset::{ZSet, ZSetView};
use crate::keyspace::{Keyspace, WrongType};
use crate::protocol::Frame;

/// One end of a score range: the score and whether it is excluded (`(1.5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// `(`: the bound itself is outside the range.
    pub exclusive: bool,
}

/// One end of a lex range.
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[m` (inclusive) or `(m` (exclusive).
    Member(Bytes, bool),
}

/// What a range selects.
#[derive(Clone, Debug, PartialEq)]
pub enum RangeBy {
    /// Ranks `start..=stop` (negative from the end).
    Rank(i64, i64),
    /// Scores from `min` to `max`.
    Score(ScoreBound, ScoreBound),
    /// Members from `min` to `max` (all scores equal).
    Lex(LexBound, LexBound),
}

/// A range request: ZRANGE's options, which the older range commands are forms of.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    /// What is selected.
    pub by: RangeBy,
    /// Highest first.
    pub rev: bool,
    /// LIMIT offset count (count < 0: all).
    pub limit: Option<(i64, i64)>,
    /// WITHSCORES.
    pub with_scores: bool,
    /// The command's own words (for the log form).
    pub argv: Argv,
}

/// How ZUNION / ZINTER combine scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// Added (the default).
    Sum,
    /// The lowest.
    Min,
    /// The highest.
    Max,
}

/// ZUNION, ZINTER or ZDIFF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZAlgebra {
    /// Members in any input.
    Union,
    /// Members in every input.
    Inter,
    /// Members of the first input in no other.
    Diff,
}

/// A sorted set command, parsed. Commands with many options keep their argument vector for the
/// log (it parses back to the same command).
#[derive(Clone, Debug, PartialEq)]
pub enum ZSetCommand {
    /// ZADD / ZINCRBY.
    Add {
        /// Key.
        key: Bytes,
        /// NX / XX: only new / only existing members.
        nx: bool,
        /// XX.
        xx: bool,
        /// GT / LT: only updates that raise / lower the score.
        gt: bool,
        /// LT.
        lt: bool,
        /// CH: count changed members too.
        ch: bool,
        /// INCR (or ZINCRBY): add to the score, answer the new score.
        incr: bool,
        /// Scores and members.
        pairs: Vec<(f64, Bytes)>,
        /// The arguments as sent (the log form).
        argv: Argv,
    },
    /// ZREM key member [member …].
    Rem(Bytes, Vec<Bytes>),
    /// ZCARD key.
    Card(Bytes),
    /// ZSCORE key member.
    Score(Bytes, Bytes),
    /// ZMSCORE key member [member …].
    MScore(Bytes, Vec<Bytes>),
    /// ZRANK / ZREVRANK key member.
    Rank(Bytes, Bytes, bool),
    /// ZCOUNT key min max.
    Count(Bytes, ScoreBound, ScoreBound, Argv),
    /// ZLEXCOUNT key min max.
    LexCount(Bytes, LexBound, LexBound, Argv),
    /// The range family; with a destination, ZRANGESTORE.
    Range(Bytes, Option<Bytes>, Range),
    /// ZREMRANGEBYRANK / BYSCORE / BYLEX.
    RemRange(Bytes, RangeBy, Argv),
    /// ZPOPMIN / ZPOPMAX key [count] (max: highest first).
    Pop(Bytes, Option<i64>, bool),
    /// ZMPOP numkeys key … MIN|MAX [COUNT count].
    MPop(Vec<Bytes>, bool, i64, Argv),
    /// ZRANDMEMBER key [count [WITHSCORES]].
    RandMember(Bytes, Option<i64>, bool),
    /// ZSCAN key cursor [MATCH pattern] [COUNT count].
    Scan(Bytes, ElementScan),
    /// ZUNION / ZINTER / ZDIFF (+STORE with a destination).
    Algebra {
        /// Which.
        op: ZAlgebra,
        /// The STORE form's destination.
        dst: Option<Bytes>,
        /// Input keys.
        keys: Vec<Bytes>,
        /// A weight per input key.
        weights: Vec<f64>,
        /// AGGREGATE.
        aggregate: Aggregate,
        /// WITHSCORES.
        with_scores: bool,
        /// The arguments as sent.
        argv: Argv,
    },
    /// ZINTERCARD numkeys key … [LIMIT limit].
    InterCard(Vec<Bytes>, u64, Argv),
}

/// The sorted set family's commands.
pub static COMMANDS: &[Command] = &[
    Command::slot("zadd", parse),
    Command::slot("zincrby", parse),
    Command::slot("zrem", parse),
    Command::slot("zcard", parse),
    Command::slot("zscore", parse),
    Command::slot("zmscore", parse),
    Command::slot("zrank", parse),
    Command::slot("zrevrank", parse),
    Command::slot("zcount", parse),
    Command::slot("zlexcount", parse),
    Command::slot("zrange", parse),
    Command::slot("zrangestore", parse),
    Command::slot("zrangebyscore", parse),
    Command::slot("zrevrangebyscore", parse),
    Command::slot("zrangebylex", parse),
    Command::slot("zrevrangebylex", parse),
    Command::slot("zrevrange", parse),
    Command::slot("zremrangebyrank", parse),
    Command::slot("zremrangebyscore", parse),
    Command::slot("zremrangebylex", parse),
    Command::slot("zpopmin", parse),
    Command::slot("zpopmax", parse),
    Command::slot("zmpop", parse),
    Command::slot("zrandmember", parse),
    Command::slot("zscan", parse),
    Command::slot("zunion", parse),
    Command::slot("zinter", parse),
    Command::slot("zdiff", parse),
    Command::slot("zunionstore", parse),
    Command::slot("zinterstore", parse),
    Command::slot("zdiffstore", parse),
    Command::slot("zintercard", parse),
];

fn parse(name: &'static str, argv: &Argv) -> Result<ShardCommand, Frame> {
    ZSetCommand::parse(name, argv).map(ShardCommand::ZSet)
}

/// `strtod` over the whole of `text` (hexadecimal included), or `None`.
pub fn strtod(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let v = match body.get(..2) {
        Some("0x") | Some("0X") => parse_hex_float(&body[2..])?,
        _ => body
            .parse::<f64>()
            .ok()
            .filter(|_| !body.starts_with(['+', '-']))?,
    };
    Some(if negative { -v } else { v })
}

/// A C99 hexadecimal float after its `0x`: hex digits, an optional fraction, an optional
/// binary exponent (`p-3`).
fn parse_hex_float(text: &str) -> Option<f64> {
    let (digits, exp) = match text.find(['p', 'P']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// A score as redis's `getDoubleFromObject` reads one (`strtod`, the whole text, no leading
/// space, no NaN, no overflow or underflow). A negative zero is zero, as redis stores it.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || text.as_bytes()[0].is_ascii_whitespace() {
        return None;
    }
    let v: f64 = strtod(text)? + 0.0;
    let unsigned = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if v.is_nan() || (v.is_infinite() && !unsigned.starts_with("inf")) {
        return None;
    }
    let mantissa = unsigned.split('e').next().unwrap_or("");
    if v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return None;
    }
    Some(v)
}

fn not_float() -> Frame {
    errors::not_float()
}

/// A score range end: `(x` exclusive, `-inf` / `+inf`. Read as redis's `zslParseRange` reads
/// it: plain `strtod`, so leading spaces, an overflow to infinity and the empty string (0) pass;
/// only NaN and trailing text are refused.
fn parse_score_bound(arg: &[u8]) -> Result<ScoreBound, Frame> {
    let bad = || Frame::error("ERR min or max is not a float");
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let text = std::str::from_utf8(text).map_err(|_| bad())?;
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let value = if text.is_empty() {
        0.0
    } else {
        strtod(trimmed).filter(|v| !v.is_nan()).ok_or_else(bad)?
    };
    Ok(ScoreBound { value, exclusive })
}

/// A lex range end: `-`, `+`, `[member` or `(member`.
fn parse_lex_bound(arg: &Bytes) -> Result<LexBound, Frame> {
    match arg.first() {
        Some(b'-') if arg.len() == 1 => Ok(LexBound::Min),
        Some(b'+') if arg.len() == 1 => Ok(LexBound::Max),
        Some(b'[') => Ok(LexBound::Member(arg.slice(1..), false)),
        Some(b'(') => Ok(LexBound::Member(arg.slice(1..), true)),
        _ => Err(Frame::error("ERR min or max not valid string range item")),
    }
}

/// True when `score` is above the range's lower end.
fn above_min(score: f64, min: ScoreBound) -> bool {
    if min.exclusive {
        score > min.value
    } else {
        score >= min.value
    }
}

fn below_max(score: f64, max: ScoreBound) -> bool {
    if max.exclusive {
        score < max.value
    } else {
        score <= max.value
    }
}

fn lex_above_min(member: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Member(m, exclusive) => {
            if *exclusive {
                member > &m[..]
            } else {
                member >= &m[..]
            }
        }
    }
}

fn lex_below_max(member: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Member(m, exclusive) => {
            if *exclusive {
                member < &m[..]
            } else {
                member <= &m[..]
            }
        }
    }
}

impl ZSetCommand {
    /// Parses a sorted set command; `name` is the table's name (arity already checked).
    pub fn parse(name: &'static str, argv: &Argv) -> Result<ZSetCommand, Frame> {
        let key = || argv[1].clone();
        let rest = |from: usize| argv[from..].to_vec();
        Ok(match name {
            "zadd" => parse_zadd(argv)?,
            "zincrby" => ZSetCommand::Add {
                key: key(),
                nx: false,
                xx: false,
                gt: false,
                lt: false,
                ch: false,
                incr: true,
                pairs: vec![(
                    parse_score(&argv[2]).ok_or_else(not_float)?,
                    argv[3].clone(),
                )],
                argv: argv.clone(),
            },
            "zrem" => ZSetCommand::Rem(key(), rest(2)),
            "zcard" => ZSetCommand::Card(key()),
            "zscore" => ZSetCommand::Score(key(), argv[2].clone()),
            "zmscore" => ZSetCommand::MScore(key(), rest(2)),
            "zrank" | "zrevrank" => ZSetCommand::Rank(key(), argv[2].clone(), name == "zrevrank"),
            "zcount" => ZSetCommand::Count(
                key(),
                parse_score_bound(&argv[2])?,
                parse_score_bound(&argv[3])?,
                argv.clone(),
            ),
            "zlexcount" => ZSetCommand::LexCount(
                key(),
                parse_lex_bound(&argv[2])?,
                parse_lex_bound(&argv[3])?,
                argv.clone(),
            ),
            "zrange" | "zrangestore" | "zrangebyscore" | "zrevrangebyscore" | "zrangebylex"
            | "zrevrangebylex" | "zrevrange" => parse_range(name, argv)?,
            "zremrangebyrank" => ZSetCommand::RemRange(
                key(),
                RangeBy::Rank(args::int(&argv[2])?, args::int(&argv[3])?),
                argv.clone(),
            ),
            "zremrangebyscore" => ZSetCommand::RemRange(
                key(),
                RangeBy::Score(parse_score_bound(&argv[2])?, parse_score_bound(&argv[3])?),
                argv.clone(),
            ),
            "zremrangebylex" => ZSetCommand::RemRange(
                key(),
                RangeBy::Lex(parse_lex_bound(&argv[2])?, parse_lex_bound(&argv[3])?),
                argv.clone(),
            ),
            "zpopmin" | "zpopmax" => {
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
                ZSetCommand::Pop(key(), count, name == "zpopmax")
            }
            "zmpop" => parse_zmpop(argv)?,
            "zrandmember" => {
                if argv.len() > 4 || (argv.len() == 4 && !args::is(&argv[3], "withscores")) {
                    return Err(errors::syntax());
                }
                let count = argv
                    .get(2)
                    .map(|c| random_pick::ranged_count(c))
                    .transpose()?;
                let with_scores = argv.len() == 4;
                if let Some(n) = count {
                    random_pick::check_negative(n, with_scores)?;
                }
                ZSetCommand::RandMember(key(), count, with_scores)
            }
            "zscan" => ZSetCommand::Scan(key(), ElementScan::parse(argv, 2)?),
            "zunion" | "zinter" | "zdiff" | "zunionstore" | "zinterstore" | "zdiffstore" => {
                parse_algebra(name, argv)?
            }
            "zintercard" => parse_intercard(argv)?,
            _ => return Err(Frame::error("ERR unknown sorted set command")),
        })
    }

    /// The keys, in order (a destination first).
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            ZSetCommand::Add { key, .. }
            | ZSetCommand::Rem(key, _)
            | ZSetCommand::Card(key)
            | ZSetCommand::Score(key, _)
            | ZSetCommand::MScore(key, _)
            | ZSetCommand::Rank(key, _, _)
            | ZSetCommand::Count(key, ..)
            | ZSetCommand::LexCount(key, ..)
            | ZSetCommand::RemRange(key, ..)
            | ZSetCommand::Pop(key, ..)
            | ZSetCommand::RandMember(key, ..)
            | ZSetCommand::Scan(key, _) => vec![key],
            ZSetCommand::Range(key, dst, _) => dst.iter().chain(std::iter::once(key)).collect(),
            ZSetCommand::MPop(keys, ..) | ZSetCommand::InterCard(keys, ..) => keys.iter().collect(),
            ZSetCommand::Algebra { dst, keys, .. } => dst.iter().chain(keys).collect(),
        }
    }

    /// Visits every byte string the command holds (see [`ShardCommand::detach_all`]). The
    /// commands that keep their argument vector visit it alone: their parsed fields are
    /// rebuilt from it when the log is read.
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            ZSetCommand::Add {
                key, pairs, argv, ..
            } => {
                f(key);
                pairs.iter_mut().for_each(|(_, m)| f(m));
                argv.iter_mut().for_each(f);
            }
            ZSetCommand::Rem(k, v) | ZSetCommand::MScore(k, v) => {
                f(k);
                v.iter_mut().for_each(f);
            }
            ZSetCommand::Card(k) | ZSetCommand::Pop(k, ..) | ZSetCommand::RandMember(k, ..) => f(k),
            ZSetCommand::Score(k, m) | ZSetCommand::Rank(k, m, _) => {
                f(k);
                f(m);
            }
            ZSetCommand::Count(k, _, _, argv) | ZSetCommand::RemRange(k, _, argv) => {
                f(k);
                argv.iter_mut().for_each(f);
            }
            ZSetCommand::LexCount(k, min, max, argv) => {
                f(k);
                for b in [min, max] {
                    if let LexBound::Member(m, _) = b {
                        f(m);
                    }
                }
                argv.iter_mut().for_each(f);
            }
            ZSetCommand::Range(k, dst, range) => {
                f(k);
                if let Some(d) = dst {
                    f(d);
                }
                if let RangeBy::Lex(min, max) = &mut range.by {
                    for b in [min, max] {
                        if let LexBound::Member(m, _) = b {
                            f(m);
                        }
                    }
                }
                range.argv.iter_mut().for_each(f);
            }
            ZSetCommand::MPop(keys, _, _, argv) | ZSetCommand::InterCard(keys, _, argv) => {
                keys.iter_mut().for_each(&mut *f);
                argv.iter_mut().for_each(f);
            }
            ZSetCommand::Scan(k, scan) => {
                f(k);
                if let Some(p) = &mut scan.pattern {
                    f(p);
                }
            }
            ZSetCommand::Algebra {
                dst, keys, argv, ..
            } => {
                if let Some(d) = dst {
                    f(d);
                }
                keys.iter_mut().for_each(&mut *f);
                argv.iter_mut().for_each(f);
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
        match self {
            ZSetCommand::Add { argv, .. }
            | ZSetCommand::Count(_, _, _, argv)
            | ZSetCommand::LexCount(_, _, _, argv)
            | ZSetCommand::RemRange(_, _, argv)
            | ZSetCommand::MPop(_, _, _, argv)
            | ZSetCommand::InterCard(_, _, argv)
            | ZSetCommand::Algebra { argv, .. } => argv.clone(),
            ZSetCommand::Range(_, _, range) => range.argv.clone(),
            ZSetCommand::Rem(k, v) => with("zrem", k, v),
            ZSetCommand::Card(k) => with("zcard", k, &[]),
            ZSetCommand::Score(k, m) => with("zscore", k, std::slice::from_ref(m)),
            ZSetCommand::MScore(k, v) => with("zmscore", k, v),
            ZSetCommand::Rank(k, m, rev) => with(
                if *rev { "zrevrank" } else { "zrank" },
                k,
                std::slice::from_ref(m),
            ),
            ZSetCommand::Pop(k, count, max) => with(
                if *max { "zpopmax" } else { "zpopmin" },
                k,
                &Vec::from_iter(count.map(args::from_int)),
            ),
            ZSetCommand::RandMember(k, count, with_scores) => {
                let mut rest = Vec::new();
                if let Some(n) = count {
                    rest.push(args::from_int(*n));
                    if *with_scores {
                        rest.push(word("withscores"));
                    }
                }
                with("zrandmember", k, &rest)
            }
            ZSetCommand::Scan(k, scan) => with("zscan", k, &scan.to_args()),
        }
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        match self {
            ZSetCommand::Add { .. }
            | ZSetCommand::Rem(..)
            | ZSetCommand::RemRange(..)
            | ZSetCommand::Pop(..)
            | ZSetCommand::MPop(..) => false,
            ZSetCommand::Range(_, dst, _) => dst.is_none(),
            ZSetCommand::Algebra { dst, .. } => dst.is_none(),
            _ => true,
        }
    }

    /// Runs the command against `ks`.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        match self.run(ks, ctx.now) {
            Ok(frame) => frame,
            Err(Failure::WrongType) => errors::wrong_type(),
            Err(Failure::Reply(f)) => f,
        }
    }

    fn run(&self, ks: &mut Keyspace, now: u64) -> Result<Frame, Failure> {
        let bulk = |m: &[u8]| Frame::bulk_from(m);
        Ok(match self {
            ZSetCommand::Add {
                key,
                nx,
                xx,
                gt,
                lt,
                ch,
                incr,
                pairs,
                ..
            } => {
                let create = !xx;
                let outcome = ks.update_zset(key, now, create, |z| {
                    zadd(z, *nx, *xx, *gt, *lt, *ch, *incr, pairs)
                })?;
                match outcome {
                    Some(result) => result?,
                    None if *incr => Frame::Null,
                    None => Frame::Integer(0),
                }
            }
            ZSetCommand::Rem(key, members) => {
                let n = ks.update_zset(key, now, false, |z| {
                    members.iter().filter(|m| z.remove(m)).count()
                })?;
                Frame::Integer(n.unwrap_or(0) as i64)
            }
            ZSetCommand::Card(key) => {
                Frame::Integer(ks.zset(key, now)?.map_or(0, |z| z.len()) as i64)
            }
            ZSetCommand::Score(key, m) => match ks.zset(key, now)?.and_then(|z| z.score(m)) {
                Some(s) => Frame::Double(s),
                None => Frame::Null,
            },
            ZSetCommand::MScore(key, members) => {
                let z = ks.zset(key, now)?;
                Frame::Array(
                    members
                        .iter()
                        .map(|m| {
                            z.as_ref()
                                .and_then(|z| z.score(m))
                                .map_or(Frame::Null, Frame::Double)
                        })
                        .collect(),
                )
            }
            ZSetCommand::Rank(key, m, rev) => {
                let Some(z) = ks.zset(key, now)? else {
                    return Ok(Frame::Null);
                };
                match z.rank(m) {
                    Some(r) if *rev => Frame::Integer((z.len() - 1 - r) as i64),
                    Some(r) => Frame::Integer(r as i64),
                    None => Frame::Null,
                }
            }
            ZSetCommand::Count(key, min, max, _) => {
                let Some(z) = ks.zset(key, now)? else {
                    return Ok(Frame::Integer(0));
                };
                let (from, to) = score_span(&z, *min, *max);
                Frame::Integer(to.saturating_sub(from) as i64)
            }
            ZSetCommand::LexCount(key, min, max, _) => {
                let Some(z) = ks.zset(key, now)? else {
                    return Ok(Frame::Integer(0));
                };
                let (from, to) = lex_span(&z, min, max);
                Frame::Integer(to.saturating_sub(from) as i64)
            }
            ZSetCommand::Range(key, None, range) => {
                let Some(z) = ks.zset(key, now)? else {
                    return Ok(Frame::Array(Vec::new()));
                };
                let items = select(&z, range);
                reply_budget::check_elements(items.iter().map(|(m, _)| m.len()))?;
                if range.with_scores {
                    Frame::Pairs(
                        items
                            .into_iter()
                            .map(|(m, s)| (bulk(&m), Frame::Double(s)))
                            .collect(),
                    )
                } else if items.len() >= ENCODED_RANGE {
                    // A long range leaves the shard encoded, one buffer for all its members.
                    Frame::bulk_array(items.len(), 16, items.iter().map(|(m, _)| m))
                } else {
                    Frame::Array(items.into_iter().map(|(m, _)| bulk(&m)).collect())
                }
            }
            ZSetCommand::Range(key, Some(dst), range) => {
                let items: Vec<(Bytes, f64)> = match ks.zset(key, now)? {
                    Some(z) => select(&z, range)
                        .into_iter()
                        .map(|(m, s)| (Bytes::copy_from_slice(&m), s))
                        .collect(),
                    None => Vec::new(),
                };
                let n = items.len();
                ks.purge_if_expired(dst, now);
                ks.store_zset(
                    dst,
                    ZSet::from_members(items.iter().map(|(m, s)| (&m[..], *s))),
                );
                Frame::Integer(n as i64)
            }
            ZSetCommand::RemRange(key, by, _) => {
                let doomed: Vec<Bytes> = match ks.peek_zset(key, now)? {
                    Some(z) => {
                        let range = Range {
                            by: by.clone(),
                            rev: false,
                            limit: None,
                            with_scores: false,
                            argv: Vec::new(),
                        };
                        select(&z, &range)
                            .into_iter()
                            .map(|(m, _)| Bytes::copy_from_slice(&m))
                            .collect()
                    }
                    None => Vec::new(),
                };
                if !doomed.is_empty() {
                    ks.update_zset(key, now, false, |z| {
                        doomed.iter().for_each(|m| {
                            z.remove(m);
                        })
                    })?;
                }
                Frame::Integer(doomed.len() as i64)
            }
            ZSetCommand::Pop(key, count, max) => {
                let n = count.unwrap_or(1).max(0) as usize;
                let popped = pop(ks, now, key, n, *max)?;
                match count {
                    None => Frame::Array(
                        popped
                            .into_iter()
                            .flat_map(|(m, s)| [Frame::Bulk(m), Frame::Double(s)])
                            .collect(),
                    ),
                    Some(_) => Frame::Pairs(
                        popped
                            .into_iter()
                            .map(|(m, s)| (Frame::Bulk(m), Frame::Double(s)))
                            .collect(),
                    ),
                }
            }
            ZSetCommand::MPop(keys, max, count, _) => {
                for key in keys {
                    if ks.peek_zset(key, now)?.is_some_and(|z| !z.is_empty()) {
                        let popped = pop(ks, now, key, *count as usize, *max)?;
                        return Ok(Frame::Array(vec![
                            Frame::Bulk(key.clone()),
                            Frame::Array(
                                popped
                                    .into_iter()
                                    .map(|(m, s)| {
                                        Frame::Array(vec![Frame::Bulk(m), Frame::Double(s)])
                                    })
                                    .collect(),
                            ),
                        ]));
                    }
                }
                Frame::NullArray
            }
            ZSetCommand::RandMember(key, count, with_scores) => {
                random_members(ks.zset(key, now)?, *count, *with_scores)
            }
            ZSetCommand::Scan(key, scan) => {
                let Some(z) = ks.zset(key, now)? else {
                    return Ok(element_scan::reply(0, Vec::new()));
                };
                let mut found = Vec::new();
                let next = z.scan(scan.cursor, scan.count, |m, s| {
                    if scan.matches(m) {
                        found.push(bulk(m));
                        found.push(Frame::bulk_from(
                            crate::protocol::frame::format_double(s).as_bytes(),
                        ));
                    }
                });
                element_scan::reply(next, found)
            }
            ZSetCommand::Algebra {
                op,
                dst,
                keys,
                weights,
                aggregate,
                with_scores,
                ..
            } => {
                // The inputs are copied first (sets or sorted sets, whichever each key is).
                let inputs: usize = keys
                    .iter()
                    .map(|k| match ks.peek_zset(k, now) {
                        Ok(z) => z.map_or(0, |z| z.bytes()),
                        Err(_) => ks.peek_set(k, now).ok().flatten().map_or(0, |s| s.bytes()),
                    })
                    .sum();
                reply_budget::check(inputs)?;
                let result = algebra(ks, now, *op, keys, weights, *aggregate)?;
                match dst {
                    Some(dst) => {
                        let n = result.len();
                        ks.purge_if_expired(dst, now);
                        ks.store_zset(
                            dst,
                            ZSet::from_members(result.iter().map(|(m, s)| (&m[..], *s))),
                        );
                        Frame::Integer(n as i64)
                    }
                    None if *with_scores => Frame::Pairs(
                        result
                            .into_iter()
                            .map(|(m, s)| (Frame::Bulk(m), Frame::Double(s)))
                            .collect(),
                    ),
                    None => Frame::Array(result.into_iter().map(|(m, _)| Frame::Bulk(m)).collect()),
                }
            }
            ZSetCommand::InterCard(keys, limit, _) => {
                let weights = vec![1.0; keys.len()];
                let n =
                    algebra(ks, now, ZAlgebra::Inter, keys, &weights, Aggregate::Sum)?.len() as u64;
                Frame::Integer(if *limit > 0 { n.min(*limit) } else { n } as i64)
            }
        })
    }
}

/// Why a command stopped: a key of another type, or an error reply of its own.
enum Failure {
    WrongType,
    Reply(Frame),
}

impl From<WrongType> for Failure {
    fn from(_: WrongType) -> Failure {
        Failure::WrongType
    }
}

impl From<Frame> for Failure {
    fn from(f: Frame) -> Failure {
        Failure::Reply(f)
    }
}

/// ZADD on the set being changed: `Err` for the reply of a NaN increment (nothing changed).
#[allow(clippy::too_many_arguments)]
fn zadd(
    z: &mut ZSet,
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
    pairs: &[(f64, Bytes)],
) -> Result<Frame, Frame> {
    let (mut added, mut changed) = (0, 0);
    let mut incr_result = None;
    for (score, member) in pairs {
        let current = z.score(member);
        let new = match (incr, current) {
            (true, Some(c)) => c + score,
            _ => *score,
        };
        if new.is_nan() {
            return Err(Frame::error("ERR resulting score is not a number (NaN)"));
        }
        match current {
            Some(_) if nx => continue,
            None if xx => continue,
            Some(c) => {
                if (gt && new <= c) || (lt && new >= c) {
                    continue;
                }
                incr_result = Some(new);
                if new != c {
                    z.set(member, new);
                    changed += 1;
                }
            }
            None => {
                z.set(member, new);
                incr_result = Some(new);
                added += 1;
            }
        }
    }
    Ok(if incr {
        incr_result.map_or(Frame::Null, Frame::Double)
    } else {
        Frame::Integer(added + if ch { changed } else { 0 })
    })
}

/// Ranks `from..to` of the members whose scores lie in `min..max`.
fn score_span(z: &ZSetView<'_>, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
    let from = z.partition_point(|s, _| !above_min(s, min));
    let to = z.partition_point(|s, _| below_max(s, max));
    (from, to.max(from))
}

/// Ranks `from..to` of the members in the lex range (all scores assumed equal, as redis does).
fn lex_span(z: &ZSetView<'_>, min: &LexBound, max: &LexBound) -> (usize, usize) {
    let from = z.partition_point(|_, m| !lex_above_min(m, min));
    let to = z.partition_point(|_, m| lex_below_max(m, max));
    (from, to.max(from))
}

/// The members a range selects, in reply order.
fn select<'a>(z: &'a ZSetView<'a>, range: &Range) -> Vec<(Cow<'a, [u8]>, f64)> {
    let len = z.len() as i64;
    let (from, to) = match &range.by {
        RangeBy::Rank(start, stop) => {
            let mut start = if *start < 0 { len + start } else { *start };
            let mut stop = if *stop < 0 { len + stop } else { *stop };
            start = start.max(0);
            if start > stop || start >= len {
                return Vec::new();
            }
            stop = stop.min(len - 1);
            if range.rev {
                ((len - 1 - stop) as usize, (len - start) as usize)
            } else {
                (start as usize, (stop + 1) as usize)
            }
        }
        RangeBy::Score(min, max) => score_span(z, *min, *max),
        RangeBy::Lex(min, max) => lex_span(z, min, max),
    };
    let mut items = z.range(from, to);
    if range.rev {
        items.reverse();
    }
    if let Some((offset, count)) = range.limit {
        if offset < 0 {
            return Vec::new();
        }
        let items = items.into_iter().skip(offset as usize);
        return if count < 0 {
            items.collect()
        } else {
            items.take(count as usize).collect()
        };
    }
    items
}

/// Pops up to `n` members, lowest scores first (highest with `max`).
fn pop(
    ks: &mut Keyspace,
    now: u64,
    key: &[u8],
    n: usize,
    max: bool,
) -> Result<Vec<(Bytes, f64)>, WrongType> {
    let picked: Vec<(Bytes, f64)> = match ks.peek_zset(key, now)? {
        Some(z) => {
            let len = z.len();
            let n = n.min(len);
            let mut items: Vec<(Bytes, f64)> = if max {
                z.range(len - n, len)
            } else {
                z.range(0, n)
            }
            .into_iter()
            .map(|(m, s)| (Bytes::copy_from_slice(&m), s))
            .collect();
            if max {
                items.reverse();
            }
            items
        }
        None => Vec::new(),
    };
    if !picked.is_empty() {
        ks.update_zset(key, now, false, |z| {
            picked.iter().for_each(|(m, _)| {
                z.remove(m);
            })
        })?;
    }
    Ok(picked)
}

/// ZRANDMEMBER's reply (as HRANDFIELD's: distinct for a positive count, repeated for a negative
/// one).
fn random_members(z: Option<ZSetView<'_>>, count: Option<i64>, with_scores: bool) -> Frame {
    let len = z.as_ref().map_or(0, |z| z.len());
    let Some(count) = count else {
        return match z.filter(|_| len > 0) {
            Some(z) => z
                .picks(&[random_pick::one(len)])
                .pop()
                .map_or(Frame::Null, |(m, _)| Frame::bulk_from(&m)),
            None => Frame::Null,
        };
    };
    let Some(z) = z.filter(|_| len > 0 && count != 0) else {
        return Frame::Array(Vec::new());
    };
    if let Err(e) = random_pick::check_reply(count, len, z.bytes()) {
        return e;
    }
    let picks = random_pick::positions(len, count);
    let items = z.picks(&picks);
    // A negative count repeats members: the reply may be many times the sorted set.
    if let Err(e) = reply_budget::check_elements(items.iter().map(|(m, _)| m.len())) {
        return e;
    }
    if with_scores {
        Frame::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Frame::bulk_from(&m), Frame::Double(s)))
                .collect(),
        )
    } else {
        Frame::Array(
            items
                .into_iter()
                .map(|(m, _)| Frame::bulk_from(&m))
                .collect(),
        )
    }
}

/// The members and scores of ZUNION / ZINTER / ZDIFF over `keys` (sorted sets, or sets whose
/// members score 1; a missing key is empty; any other type is WRONGTYPE), in score order.
fn algebra(
    ks: &mut Keyspace,
    now: u64,
    op: ZAlgebra,
    keys: &[Bytes],
    weights: &[f64],
    aggregate: Aggregate,
) -> Result<Vec<(Bytes, f64)>, WrongType> {
    let mut inputs: Vec<Option<Vec<(Bytes, f64)>>> = Vec::with_capacity(keys.len());
    for key in keys {
        let input = match ks.peek_zset(key, now) {
            Ok(Some(z)) => Some(
                z.all()
                    .into_iter()
                    .map(|(m, s)| (Bytes::copy_from_slice(&m), s))
                    .collect(),
            ),
            Ok(None) => None,
            Err(WrongType) => ks.peek_set(key, now)?.map(|s| {
                s.members()
                    .map(|m| (Bytes::copy_from_slice(&m), 1.0))
                    .collect()
            }),
        };
        inputs.push(input);
    }
    let combine = |a: f64, b: f64| -> f64 {
        match aggregate {
            Aggregate::Sum => {
                let s = a + b;
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            }
            Aggregate::Min => a.min(b),
            Aggregate::Max => a.max(b),
        }
    };
    let weighted = |score: f64, i: usize| {
        let w = weights.get(i).copied().unwrap_or(1.0);
        let v = score * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut acc: indexmap::IndexMap<Bytes, f64> = indexmap::IndexMap::new();
    match op {
        ZAlgebra::Union => {
            for (i, input) in inputs.iter().enumerate() {
                for (m, s) in input.iter().flatten() {
                    let v = weighted(*s, i);
                    acc.entry(m.clone())
                        .and_modify(|a| *a = combine(*a, v))
                        .or_insert(v);
                }
            }
        }
        ZAlgebra::Inter => {
            if inputs.iter().any(Option::is_none) {
                return Ok(Vec::new());
            }
            let first = inputs[0].as_deref().unwrap_or(&[]);
            let lookups: Vec<ahash::HashMap<&[u8], f64>> = inputs
                .iter()
                .map(|inp| inp.iter().flatten().map(|(m, s)| (&m[..], *s)).collect())
                .collect();
            'member: for (m, s) in first {
                let mut v = weighted(*s, 0);
                for (i, other) in lookups.iter().enumerate().skip(1) {
                    match other.get(&m[..]) {
                        Some(os) => v = combine(v, weighted(*os, i)),
                        None => continue 'member,
                    }
                }
                acc.insert(m.clone(), v);
            }
        }
        ZAlgebra::Diff => {
            let Some(Some(first)) = inputs.first() else {
                return Ok(Vec::new());
            };
            let others: ahash::HashSet<&[u8]> = inputs[1..]
                .iter()
                .flatten()
                .flat_map(|inp| inp.iter().map(|(m, _)| &m[..]))
                .collect();
            for (m, s) in first {
                if !others.contains(&m[..]) {
                    acc.insert(m.clone(), *s);
                }
            }
        }
    }
    let mut out: Vec<(Bytes, f64)> = acc.into_iter().collect();
    out.sort_by(|a, b| crate::keyspace::zset::order((a.1, &a.0), (b.1, &b.0)));
    Ok(out)
}

/// ZADD's flags, then score-member pairs.
fn parse_zadd(argv: &Argv) -> Result<ZSetCommand, Frame> {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if args::is(a, "nx") {
            nx = true;
        } else if args::is(a, "xx") {
            xx = true;
        } else if args::is(a, "gt") {
            gt = true;
        } else if args::is(a, "lt") {
            lt = true;
        } else if args::is(a, "ch") {
            ch = true;
        } else if args::is(a, "incr") {
            incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = argv.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(errors::syntax());
    }
    if nx && xx {
        return Err(Frame::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(Frame::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && elements > 2 {
        return Err(Frame::error(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let pairs = argv[i..]
        .chunks(2)
        .map(|p| Ok((parse_score(&p[0]).ok_or_else(not_float)?, p[1].clone())))
        .collect::<Result<Vec<_>, Frame>>()?;
    Ok(ZSetCommand::Add {
        key: argv[1].clone(),
        nx,
        xx,
        gt,
        lt,
        ch,
        incr,
        pairs,
        argv: argv.clone(),
    })
}

/// The range family, as redis's `zrangeGenericCommand` reads each form.
fn parse_range(name: &'static str, argv: &Argv) -> Result<ZSetCommand, Frame> {
    let store = name == "zrangestore";
    let (dst, at) = if store {
        (Some(argv[1].clone()), 2)
    } else {
        (None, 1)
    };
    let key = argv[at].clone();
    let (min_arg, max_arg) = (&argv[at + 1], &argv[at + 2]);
    // The forms: what they select and in which direction; ZRANGE's options decide for it.
    let (mut by_score, mut by_lex, mut rev) = match name {
        "zrangebyscore" => (true, false, false),
        "zrevrangebyscore" => (true, false, true),
        "zrangebylex" => (false, true, false),
        "zrevrangebylex" => (false, true, true),
        "zrevrange" => (false, false, true),
        _ => (false, false, false),
    };
    let general = name == "zrange" || store;
    let mut with_scores = false;
    let mut limit = None;
    let mut j = at + 3;
    while j < argv.len() {
        let a = &argv[j];
        let left = argv.len() - j - 1;
        if !store && args::is(a, "withscores") {
            with_scores = true;
        } else if args::is(a, "limit") && left >= 2 {
            limit = Some((args::int(&argv[j + 1])?, args::int(&argv[j + 2])?));
            j += 2;
        } else if general && args::is(a, "byscore") {
            by_score = true;
        } else if general && args::is(a, "bylex") {
            by_lex = true;
        } else if general && args::is(a, "rev") {
            rev = true;
        } else {
            return Err(errors::syntax());
        }
        j += 1;
    }
    if by_score && by_lex {
        return Err(errors::syntax());
    }
    if limit.is_some() && !by_score && !by_lex {
        return Err(Frame::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by_lex {
        return Err(Frame::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges take the high end first.
    let (lo, hi) = if rev && (by_score || by_lex) {
        (max_arg, min_arg)
    } else {
        (min_arg, max_arg)
    };
    let by = if by_score {
        RangeBy::Score(parse_score_bound(lo)?, parse_score_bound(hi)?)
    } else if by_lex {
        RangeBy::Lex(parse_lex_bound(lo)?, parse_lex_bound(hi)?)
    } else {
        RangeBy::Rank(args::int(min_arg)?, args::int(max_arg)?)
    };
    Ok(ZSetCommand::Range(
        key,
        dst,
        Range {
            by,
            rev,
            limit,
            with_scores,
            argv: argv.clone(),
        },
    ))
}

/// ZMPOP numkeys key … MIN|MAX [COUNT count].
fn parse_zmpop(argv: &Argv) -> Result<ZSetCommand, Frame> {
    let (keys, max, count) = args::numkeys_end_count(argv, ("min", "max"))?;
    Ok(ZSetCommand::MPop(keys, max, count, argv.clone()))
}

/// ZUNION / ZINTER / ZDIFF and their STORE forms: numkeys, keys, then WEIGHTS, AGGREGATE and
/// (not stored) WITHSCORES; ZDIFF takes WITHSCORES only.
fn parse_algebra(name: &'static str, argv: &Argv) -> Result<ZSetCommand, Frame> {
    let store = name.ends_with("store");
    let op = match &name[..5] {
        "zunio" => ZAlgebra::Union,
        "zinte" => ZAlgebra::Inter,
        _ => ZAlgebra::Diff,
    };
    let (dst, at) = if store {
        (Some(argv[1].clone()), 2)
    } else {
        (None, 1)
    };
    let numkeys = match crate::protocol::parse::parse_i64(&argv[at]) {
        Some(n) if n > 0 => n as usize,
        Some(_) => {
            return Err(Frame::error_owned(format!(
                "ERR at least 1 input key is needed for '{name}' command"
            )))
        }
        None => return Err(errors::not_integer()),
    };
    if numkeys > argv.len() - at - 1 {
        return Err(errors::syntax());
    }
    let keys = argv[at + 1..at + 1 + numkeys].to_vec();
    let mut weights = vec![1.0; numkeys];
    let mut aggregate = Aggregate::Sum;
    let mut with_scores = false;
    let mut j = at + 1 + numkeys;
    while j < argv.len() {
        let a = &argv[j];
        let left = argv.len() - j - 1;
        if op != ZAlgebra::Diff && args::is(a, "weights") && left >= numkeys {
            for (w, arg) in weights.iter_mut().zip(&argv[j + 1..j + 1 + numkeys]) {
                *w = parse_score(arg)
                    .ok_or_else(|| Frame::error("ERR weight value is not a float"))?;
            }
            j += numkeys;
        } else if op != ZAlgebra::Diff && args::is(a, "aggregate") && left >= 1 {
            let v = &argv[j + 1];
            aggregate = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(errors::syntax());
            };
            j += 1;
        } else if !store && args::is(a, "withscores") {
            with_scores = true;
        } else {
            return Err(errors::syntax());
        }
        j += 1;
    }
    Ok(ZSetCommand::Algebra {
        op,
        dst,
        keys,
        weights,
        aggregate,
        with_scores,
        argv: argv.clone(),
    })
}

/// ZINTERCARD numkeys key … [LIMIT limit].
fn parse_intercard(argv: &Argv) -> Result<ZSetCommand, Frame> {
    let numkeys = match crate::protocol::parse::parse_i64(&argv[1]) {
        Some(n) if n > 0 => n as usize,
        Some(_) => {
            return Err(Frame::error(
                "ERR at least 1 input key is needed for 'zintercard' command",
            ))
        }
        None => return Err(errors::not_integer()),
    };
    if numkeys > argv.len() - 2 {
        return Err(errors::syntax());
    }
    let keys = argv[2..2 + numkeys].to_vec();
    let limit = args::limit_from(argv, 2 + numkeys)?;
    Ok(ZSetCommand::InterCard(keys, limit, argv.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_as_strtod_within_redis_rules() {
        for (text, v) in [
            ("1", Some(1.0)),
            ("-1.5", Some(-1.5)),
            ("+inf", Some(f64::INFINITY)),
            ("-inf", Some(f64::NEG_INFINITY)),
            ("inf", Some(f64::INFINITY)),
            ("1e3", Some(1000.0)),
            (".5", Some(0.5)),
            ("0", Some(0.0)),
            ("0e10", Some(0.0)),
            ("nan", None),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("1e400", None),
            ("1e-400", None),
            ("abc", None),
            ("0x10", Some(16.0)),
            ("-0x1p-2", Some(-0.25)),
            ("-0", Some(0.0)),
            ("++1", None),
        ] {
            assert_eq!(parse_score(text.as_bytes()), v, "{text:?}");
        }
    }
}

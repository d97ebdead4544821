//! List commands: pushes and pops at both ends, indexes and ranges, LSET, LTRIM, LINSERT, LREM,
//! LPOS, LMOVE, RPOPLPUSH and LMPOP. The blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP)
//! are a family of their own, run as the commands here (`blocking.rs`).
//!
//! A list is stored by the keyspace (packed in its key's entry while small, a deque beside the
//! map once large, see `keyspace/list.rs`); every command here is deterministic and logged as
//! itself.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{self, word, Argv};
use super::errors;
use super::registry::Command;
use super::{ApplyCtx, ShardCommand, ENCODED_RANGE};
use crate::keyspace::list::ListView;
use crate::keyspace::{Keyspace, WrongType};
use crate::protocol::frame::Streamed;
use crate::protocol::parse::parse_i64;
use crate::protocol::Frame;

/// Ranges this long or longer of a large list are streamed ([`Frame::Streamed`]): built in
/// O(nodes) in the shard, encoded a chunk at a time by the connection as the client reads.
/// Shorter ones are encoded whole (cheap enough, and one buffer is faster to write).
pub const STREAMED_RANGE: usize = 4096;

/// A list command, parsed. Each keeps its argument vector: it is also its log form.
#[derive(Clone, Debug, PartialEq)]
pub struct ListCommand {
    /// What it does.
    pub op: ListOp,
    /// The arguments as sent.
    pub argv: Argv,
}

/// What a list command does.
#[derive(Clone, Debug, PartialEq)]
pub enum ListOp {
    /// LPUSH / RPUSH (and the X forms, only onto an existing list).
    Push {
        /// At the head.
        front: bool,
        /// LPUSHX / RPUSHX.
        only_existing: bool,
        /// The elements, pushed in order.
        items: Vec<Bytes>,
    },
    /// LPOP / RPOP [count].
    Pop {
        /// From the head.
        front: bool,
        /// The count, if given.
        count: Option<i64>,
    },
    /// LLEN.
    Len,
    /// LINDEX index.
    Index(i64),
    /// LRANGE start stop.
    Range(i64, i64),
    /// LSET index element.
    Set(i64, Bytes),
    /// LTRIM start stop.
    Trim(i64, i64),
    /// LINSERT BEFORE|AFTER pivot element.
    Insert {
        /// AFTER.
        after: bool,
        /// The element to insert next to.
        pivot: Bytes,
        /// The new element.
        item: Bytes,
    },
    /// LREM count element.
    Rem(i64, Bytes),
    /// LPOS element [RANK r] [COUNT c] [MAXLEN m].
    Pos {
        /// The element looked for.
        item: Bytes,
        /// RANK (negative: from the tail).
        rank: i64,
        /// COUNT, if given (0: all).
        count: Option<i64>,
        /// MAXLEN (0: no limit).
        maxlen: i64,
    },
    /// LMOVE / RPOPLPUSH: pop from one end of `key`, push to an end of the destination.
    Move {
        /// The destination.
        dst: Bytes,
        /// Pop from the head.
        from_front: bool,
        /// Push at the head.
        to_front: bool,
    },
    /// LMPOP numkeys key … LEFT|RIGHT [COUNT count]: the other keys (the first is the
    /// command's key).
    MPop {
        /// Every key, in order.
        keys: Vec<Bytes>,
        /// From the head.
        front: bool,
        /// COUNT.
        count: i64,
    },
}

/// The list family's commands.
pub static COMMANDS: &[Command] = &[
    Command::slot("lpush", parse),
    Command::slot("rpush", parse),
    Command::slot("lpushx", parse),
    Command::slot("rpushx", parse),
    Command::slot("lpop", parse),
    Command::slot("rpop", parse),
    Command::slot("llen", parse),
    Command::slot("lindex", parse),
    Command::slot("lrange", parse),
    Command::slot("lset", parse),
    Command::slot("ltrim", parse),
    Command::slot("linsert", parse),
    Command::slot("lrem", parse),
    Command::slot("lpos", parse),
    Command::slot("lmove", parse),
    Command::slot("rpoplpush", parse),
    Command::slot("lmpop", parse),
];

fn parse(name: &'static str, argv: &Argv) -> Result<ShardCommand, Frame> {
    ListCommand::parse(name, argv).map(ShardCommand::List)
}

/// LEFT or RIGHT.
fn side(arg: &[u8]) -> Result<bool, Frame> {
    if args::is(arg, "left") {
        Ok(true)
    } else if args::is(arg, "right") {
        Ok(false)
    } else {
        Err(errors::syntax())
    }
}

fn positive_count(arg: &[u8]) -> Result<i64, Frame> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(Frame::error("ERR value is out of range, must be positive")),
    }
}

impl ListCommand {
    /// Parses a list command; `name` is the table's name (arity already checked).
    pub fn parse(name: &'static str, argv: &Argv) -> Result<ListCommand, Frame> {
        let op = match name {
            "lpush" | "rpush" | "lpushx" | "rpushx" => ListOp::Push {
                front: name.starts_with('l'),
                only_existing: name.ends_with('x'),
                items: argv[2..].to_vec(),
            },
            "lpop" | "rpop" => {
                if argv.len() > 3 {
                    return Err(errors::wrong_arity(name));
                }
                ListOp::Pop {
                    front: name == "lpop",
                    count: argv.get(2).map(|c| positive_count(c)).transpose()?,
                }
            }
            "llen" => ListOp::Len,
            "lindex" => ListOp::Index(args::int(&argv[2])?),
            "lrange" => ListOp::Range(args::int(&argv[2])?, args::int(&argv[3])?),
            "lset" => ListOp::Set(args::int(&argv[2])?, argv[3].clone()),
            "ltrim" => ListOp::Trim(args::int(&argv[2])?, args::int(&argv[3])?),
            "linsert" => {
                let after = if args::is(&argv[2], "after") {
                    true
                } else if args::is(&argv[2], "before") {
                    false
                } else {
                    return Err(errors::syntax());
                };
                ListOp::Insert {
                    after,
                    pivot: argv[3].clone(),
                    item: argv[4].clone(),
                }
            }
            "lrem" => ListOp::Rem(args::int(&argv[2])?, argv[3].clone()),
            "lpos" => parse_lpos(argv)?,
            "lmove" => ListOp::Move {
                dst: argv[2].clone(),
                from_front: side(&argv[3])?,
                to_front: side(&argv[4])?,
            },
            "rpoplpush" => ListOp::Move {
                dst: argv[2].clone(),
                from_front: false,
                to_front: true,
            },
            "lmpop" => parse_lmpop(argv)?,
            _ => return Err(Frame::error("ERR unknown list command")),
        };
        Ok(ListCommand {
            op,
            argv: argv.clone(),
        })
    }

    /// The keys, in order.
    pub fn keys(&self) -> Vec<&Bytes> {
        match &self.op {
            ListOp::Move { dst, .. } => vec![&self.argv[1], dst],
            ListOp::MPop { keys, .. } => keys.iter().collect(),
            _ => vec![&self.argv[1]],
        }
    }

    /// Visits every byte string the command holds (see [`ShardCommand::detach_all`]).
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match &mut self.op {
            ListOp::Push { items, .. } => items.iter_mut().for_each(&mut *f),
            ListOp::Set(_, item) | ListOp::Rem(_, item) | ListOp::Pos { item, .. } => f(item),
            ListOp::Insert { pivot, item, .. } => {
                f(pivot);
                f(item);
            }
            ListOp::Move { dst, .. } => f(dst),
            ListOp::MPop { keys, .. } => keys.iter_mut().for_each(&mut *f),
            ListOp::Pop { .. }
            | ListOp::Len
            | ListOp::Index(_)
            | ListOp::Range(..)
            | ListOp::Trim(..) => {}
        }
        self.argv.iter_mut().for_each(f);
    }

    /// The command as an argument vector (see [`super::log_form`]): the one it was sent as.
    pub fn to_argv(&self) -> Argv {
        if self.argv.is_empty() {
            return vec![word("llen")];
        }
        self.argv.clone()
    }

    /// True when the command never writes.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self.op,
            ListOp::Len | ListOp::Index(_) | ListOp::Range(..) | ListOp::Pos { .. }
        )
    }

    /// Runs the command against `ks`.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        self.run(ks, ctx.now).unwrap_or_else(Frame::from)
    }

    fn run(&self, ks: &mut Keyspace, now: u64) -> Result<Frame, WrongType> {
        let key = &self.argv[1];
        let bulk = |b: &[u8]| Frame::bulk_from(b);
        Ok(match &self.op {
            ListOp::Push {
                front,
                only_existing,
                items,
            } => {
                let len = ks.update_list(key, now, !only_existing, |l| {
                    items.iter().for_each(|i| l.push(i, *front));
                    l.len()
                })?;
                Frame::Integer(len.unwrap_or(0) as i64)
            }
            ListOp::Pop { front, count } => {
                let n = count.unwrap_or(1) as usize;
                let popped = ks.update_list(key, now, false, |l| {
                    (0..n).map_while(|_| l.pop(*front)).collect::<Vec<_>>()
                })?;
                match (popped, count) {
                    (None, None) => Frame::Null,
                    (None, Some(_)) => Frame::NullArray,
                    (Some(mut items), None) => items
                        .pop()
                        .map_or(Frame::Null, |i| Frame::Bulk(Bytes::from(i))),
                    (Some(items), Some(_)) => Frame::Array(
                        items
                            .into_iter()
                            .map(|i| Frame::Bulk(Bytes::from(i)))
                            .collect(),
                    ),
                }
            }
            ListOp::Len => Frame::Integer(ks.list(key, now)?.map_or(0, |l| l.len()) as i64),
            ListOp::Index(i) => {
                let Some(l) = ks.list(key, now)? else {
                    return Ok(Frame::Null);
                };
                match index(l.len(), *i) {
                    Some(at) => l.get(at).map_or(Frame::Null, |b| bulk(&b)),
                    None => Frame::Null,
                }
            }
            ListOp::Range(start, stop) => {
                let Some(l) = ks.list(key, now)? else {
                    return Ok(Frame::Array(Vec::new()));
                };
                let Some((from, to)) = span(l.len(), *start, *stop) else {
                    return Ok(Frame::Array(Vec::new()));
                };
                let count = to - from;
                // A very long range of a large list leaves the shard as the list's nodes it
                // covers, shared, and is encoded only as the client reads it.
                if count >= STREAMED_RANGE {
                    if let Some(range) = l.range(from, count) {
                        return Ok(Frame::Streamed(Streamed(Arc::new(range))));
                    }
                }
                if count >= ENCODED_RANGE {
                    // A long range leaves the shard encoded, one buffer for all its elements.
                    Frame::bulk_array(count, 16, l.iter_from(from).take(count))
                } else {
                    Frame::Array(l.iter_from(from).take(count).map(|b| bulk(&b)).collect())
                }
            }
            ListOp::Set(i, item) => {
                let done = ks.update_list(key, now, false, |l| match index(l.len(), *i) {
                    Some(at) => {
                        l.set(at, item);
                        true
                    }
                    None => false,
                })?;
                match done {
                    None => Frame::error("ERR no such key"),
                    Some(false) => Frame::error("ERR index out of range"),
                    Some(true) => Frame::ok(),
                }
            }
            ListOp::Trim(start, stop) => {
                ks.update_list(key, now, false, |l| match span(l.len(), *start, *stop) {
                    Some((from, to)) => l.keep(from, to),
                    None => l.keep(0, 0),
                })?;
                Frame::ok()
            }
            ListOp::Insert { after, pivot, item } => {
                let len = ks.update_list(key, now, false, |l| {
                    let at = l.view().iter_from(0).position(|e| e[..] == pivot[..])?;
                    l.insert(if *after { at + 1 } else { at }, item);
                    Some(l.len())
                })?;
                match len {
                    None => Frame::Integer(0),
                    Some(None) => Frame::Integer(-1),
                    Some(Some(n)) => Frame::Integer(n as i64),
                }
            }
            ListOp::Rem(count, item) => {
                let removed = ks.update_list(key, now, false, |l| {
                    let limit = if *count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    let hits: Vec<usize> = if *count < 0 {
                        let len = l.len();
                        l.view()
                            .iter_rev()
                            .enumerate()
                            .filter(|(_, e)| e[..] == item[..])
                            .map(|(i, _)| len - 1 - i)
                            .take(limit)
                            .collect()
                    } else {
                        l.view()
                            .iter_from(0)
                            .enumerate()
                            .filter(|(_, e)| e[..] == item[..])
                            .map(|(i, _)| i)
                            .take(limit)
                            .collect()
                    };
                    let mut sorted = hits.clone();
                    sorted.sort_unstable_by(|a, b| b.cmp(a));
                    sorted.iter().for_each(|&i| l.remove(i));
                    hits.len()
                })?;
                Frame::Integer(removed.unwrap_or(0) as i64)
            }
            ListOp::Pos {
                item,
                rank,
                count,
                maxlen,
            } => lpos(ks.list(key, now)?, item, *rank, *count, *maxlen),
            ListOp::Move {
                dst,
                from_front,
                to_front,
            } => {
                // Redis's order: a missing source answers nil whatever the destination holds.
                if ks.peek_list(key, now)?.is_none() {
                    return Ok(Frame::Null);
                }
                ks.peek_list(dst, now)?;
                let Some(popped) = ks
                    .update_list(key, now, false, |l| l.pop(*from_front))?
                    .flatten()
                else {
                    return Ok(Frame::Null);
                };
                ks.update_list(dst, now, true, |l| l.push(&popped, *to_front))?;
                Frame::Bulk(Bytes::from(popped))
            }
            ListOp::MPop { keys, front, count } => {
                for k in keys {
                    if ks.peek_list(k, now)?.is_some() {
                        let n = *count as usize;
                        let items = ks
                            .update_list(k, now, false, |l| {
                                (0..n).map_while(|_| l.pop(*front)).collect::<Vec<_>>()
                            })?
                            .unwrap_or_default();
                        return Ok(Frame::Array(vec![
                            Frame::Bulk(k.clone()),
                            Frame::Array(
                                items
                                    .into_iter()
                                    .map(|i| Frame::Bulk(Bytes::from(i)))
                                    .collect(),
                            ),
                        ]));
                    }
                }
                Frame::NullArray
            }
        })
    }
}

/// The position of index `i` (negative from the tail) in a list of `len`.
fn index(len: usize, i: i64) -> Option<usize> {
    let at = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&at).then_some(at as usize)
}

/// LRANGE's and LTRIM's span `from..to` of `start..=stop` (negative from the tail), or `None`
/// when it is empty.
fn span(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, (stop.min(len - 1) + 1) as usize))
}

/// LPOS over the list.
fn lpos(
    list: Option<ListView<'_>>,
    item: &[u8],
    rank: i64,
    count: Option<i64>,
    maxlen: i64,
) -> Frame {
    let none = || match count {
        Some(_) => Frame::Array(Vec::new()),
        None => Frame::Null,
    };
    let Some(list) = list else {
        return none();
    };
    let len = list.len();
    let limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let wanted = match count {
        Some(0) => usize::MAX,
        Some(n) => n as usize,
        None => 1,
    };
    let skip = (rank.unsigned_abs() as usize).saturating_sub(1);
    let hits: Vec<i64> = if rank < 0 {
        list.iter_rev()
            .take(limit)
            .enumerate()
            .filter(|(_, e)| e[..] == *item)
            .map(|(i, _)| (len - 1 - i) as i64)
            .skip(skip)
            .take(wanted)
            .collect()
    } else {
        list.iter_from(0)
            .take(limit)
            .enumerate()
            .filter(|(_, e)| e[..] == *item)
            .map(|(i, _)| i as i64)
            .skip(skip)
            .take(wanted)
            .collect()
    };
    match count {
        Some(_) => Frame::Array(hits.into_iter().map(Frame::Integer).collect()),
        None => hits.first().map_or(Frame::Null, |&i| Frame::Integer(i)),
    }
}

/// LPOS's options, with redis's error texts.
fn parse_lpos(argv: &Argv) -> Result<ListOp, Frame> {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut i = 3;
    while i < argv.len() {
        let Some(value) = argv.get(i + 1) else {
            return Err(errors::syntax());
        };
        if args::is(&argv[i], "rank") {
            rank = args::int(value)?;
            if rank == 0 {
                return Err(Frame::error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if args::is(&argv[i], "count") {
            let n = args::int(value)?;
            if n < 0 {
                return Err(Frame::error("ERR COUNT can't be negative"));
            }
            count = Some(n);
        } else if args::is(&argv[i], "maxlen") {
            maxlen = args::int(value)?;
            if maxlen < 0 {
                return Err(Frame::error("ERR MAXLEN can't be negative"));
            }
        } else {
            return Err(errors::syntax());
        }
        i += 2;
    }
    Ok(ListOp::Pos {
        item: argv[2].clone(),
        rank,
        count,
        maxlen,
    })
}

/// LMPOP numkeys key … LEFT|RIGHT [COUNT count].
fn parse_lmpop(argv: &Argv) -> Result<ListOp, Frame> {
    let (keys, right, count) = args::numkeys_end_count(argv, ("left", "right"))?;
    Ok(ListOp::MPop {
        keys,
        front: !right,
        count,
    })
}

//! The blocking pops, BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP (lists), BZPOPMIN, BZPOPMAX,
//! BZMPOP (sorted sets), as the commands they are made of.
//!
//! A blocking pop never enters the log as itself. The node that leads the keys' shard runs it
//! as a loop of ordinary commands (`dispatch/blocking.rs`): a read that finds the first of its
//! keys holding something ([`Blocking::probe`], a [`KeyCommand::FirstReady`]), then the pop of
//! that one key as the non-blocking command that does it ([`Blocking::pop`]: LPOP, LMOVE, LMPOP,
//! ZPOPMIN, ZMPOP), logged and applied alike by every replica, whose reply is reshaped into the
//! blocking command's ([`Blocking::reply`]). While nothing is there, the client waits in line on
//! its keys (`shard/waiters.rs`). This is what redis does too: it propagates a served BLPOP to
//! its replicas as the LPOP it amounts to.

use bytes::Bytes;

use super::args::{word, Argv};
use super::keys::KeyCommand;
use super::lists::{ListCommand, ListOp};
use super::zsets::{self, ZSetCommand};
use super::ShardCommand;
use crate::keyspace::Keyspace;
use crate::long_double::LongDouble;
use crate::protocol::Frame;

/// The name of the probe's argument vector (it is a read and never logged; the form exists
/// so that every shard command has one).
pub const FIRST_READY: &str = "blocking:first-ready";

/// Parses a blocking command's arguments (arity already checked).
pub type ParseBlocking = fn(&'static str, &Argv) -> Result<Blocking, Frame>;

/// A blocking pop, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocking {
    /// The keys waited on, in the order they are tried.
    pub keys: Vec<Bytes>,
    /// How long to wait, in milliseconds; 0 waits for ever.
    pub timeout_ms: u64,
    /// What is popped.
    pub op: BlockingOp,
}

/// What a blocking pop pops, and how it answers.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockingOp {
    /// BLPOP / BRPOP: one element, answered `[key, element]`.
    Pop {
        /// From the head.
        front: bool,
    },
    /// BLMOVE / BRPOPLPUSH: one element moved to `dst`, answered as the element.
    Move {
        /// The destination list.
        dst: Bytes,
        /// Pop from the head.
        from_front: bool,
        /// Push at the head.
        to_front: bool,
    },
    /// BLMPOP: up to `count` elements of one list, answered `[key, [elements]]`.
    MPop {
        /// From the head.
        front: bool,
        /// COUNT.
        count: i64,
    },
    /// BZPOPMIN / BZPOPMAX: one member, answered `[key, member, score]`.
    ZPop {
        /// The highest score.
        max: bool,
    },
    /// BZMPOP: up to `count` members of one sorted set, answered `[key, [[member, score]…]]`.
    ZMPop {
        /// The highest scores.
        max: bool,
        /// COUNT.
        count: i64,
    },
}

/// Reads a timeout in seconds as redis 7.0 does: `strtold` text (no NaN), multiplied by 1000 and
/// rounded up to a whole millisecond; 0 waits for ever. Infinities and values whose milliseconds
/// overflow a signed 64-bit integer come out negative there, and are refused as such.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, Frame> {
    let not_float = || Frame::error("ERR timeout is not a float or out of range");
    let negative = || Frame::error("ERR timeout is negative");
    if LongDouble::parse(arg).is_none() {
        return Err(not_float());
    }
    let seconds = std::str::from_utf8(arg)
        .ok()
        .and_then(zsets::strtod)
        .ok_or_else(not_float)?;
    let ms = (seconds * 1000.0).ceil();
    if !(0.0..9.223_372_036_854_775e18).contains(&ms) {
        return Err(negative());
    }
    Ok(ms as u64)
}

fn side(front: bool) -> Bytes {
    word(if front { "left" } else { "right" })
}

/// Parses a blocking command (declared in its family's table: `lists.rs`, `zsets.rs`).
pub fn parse(name: &'static str, argv: &Argv) -> Result<Blocking, Frame> {
    let last = argv.len() - 1;
    let (keys, timeout_ms, op) = match name {
        "blpop" | "brpop" => {
            let timeout = parse_timeout(&argv[last])?;
            let op = BlockingOp::Pop {
                front: name == "blpop",
            };
            (argv[1..last].to_vec(), timeout, op)
        }
        "bzpopmin" | "bzpopmax" => {
            let timeout = parse_timeout(&argv[last])?;
            let op = BlockingOp::ZPop {
                max: name == "bzpopmax",
            };
            (argv[1..last].to_vec(), timeout, op)
        }
        "blmove" | "brpoplpush" => {
            // BLMOVE reads its directions before its timeout, as redis does.
            let mut lmove = vec![word("lmove"), argv[1].clone(), argv[2].clone()];
            match name {
                "blmove" => lmove.extend([argv[3].clone(), argv[4].clone()]),
                _ => lmove.extend([word("right"), word("left")]),
            }
            let ListOp::Move {
                dst,
                from_front,
                to_front,
            } = ListCommand::parse("lmove", &lmove)?.op
            else {
                return Err(Frame::error("ERR unexpected LMOVE form"));
            };
            let timeout = parse_timeout(&argv[last])?;
            let op = BlockingOp::Move {
                dst,
                from_front,
                to_front,
            };
            (vec![argv[1].clone()], timeout, op)
        }
        // The arguments after the timeout are read first, as redis does.
        "blmpop" => {
            let mut lmpop = vec![word("lmpop")];
            lmpop.extend(argv[2..].iter().cloned());
            let ListOp::MPop { keys, front, count } = ListCommand::parse("lmpop", &lmpop)?.op
            else {
                return Err(Frame::error("ERR unexpected LMPOP form"));
            };
            let timeout = parse_timeout(&argv[1])?;
            (keys, timeout, BlockingOp::MPop { front, count })
        }
        "bzmpop" => {
            let mut zmpop = vec![word("zmpop")];
            zmpop.extend(argv[2..].iter().cloned());
            let ZSetCommand::MPop(keys, max, count, _) = ZSetCommand::parse("zmpop", &zmpop)?
            else {
                return Err(Frame::error("ERR unexpected ZMPOP form"));
            };
            let timeout = parse_timeout(&argv[1])?;
            (keys, timeout, BlockingOp::ZMPop { max, count })
        }
        _ => return Err(Frame::error("ERR unknown blocking command")),
    };
    Ok(Blocking {
        keys,
        timeout_ms,
        op,
    })
}

impl Blocking {
    /// The type of value its keys must hold.
    fn wanted(&self) -> &'static str {
        match self.op {
            BlockingOp::Pop { .. } | BlockingOp::Move { .. } | BlockingOp::MPop { .. } => "list",
            BlockingOp::ZPop { .. } | BlockingOp::ZMPop { .. } => "zset",
        }
    }

    /// The read that finds the first of `keys` (its own, or those it is first in line on)
    /// holding something to pop. `strict`, for the command's first look: a key of another type
    /// met before answers WRONGTYPE, as the command does when it runs; a client already waiting
    /// passes over such a key instead (redis leaves it blocked when its key becomes a string).
    pub fn probe(&self, keys: Vec<Bytes>, strict: bool) -> ShardCommand {
        ShardCommand::Key(KeyCommand::FirstReady {
            keys,
            wanted: self.wanted(),
            strict,
        })
    }

    /// The logged write that pops from `key`: the non-blocking command this one amounts to.
    pub fn pop(&self, key: &Bytes) -> Result<ShardCommand, Frame> {
        let count = |n: i64| Bytes::from(n.to_string());
        match &self.op {
            BlockingOp::Pop { front } => {
                let name = if *front { "lpop" } else { "rpop" };
                ListCommand::parse(name, &vec![word(name), key.clone()]).map(ShardCommand::List)
            }
            BlockingOp::Move {
                dst,
                from_front,
                to_front,
            } => {
                let argv = vec![
                    word("lmove"),
                    key.clone(),
                    dst.clone(),
                    side(*from_front),
                    side(*to_front),
                ];
                ListCommand::parse("lmove", &argv).map(ShardCommand::List)
            }
            BlockingOp::MPop { front, count: n } => {
                let argv = vec![
                    word("lmpop"),
                    word("1"),
                    key.clone(),
                    side(*front),
                    word("count"),
                    count(*n),
                ];
                ListCommand::parse("lmpop", &argv).map(ShardCommand::List)
            }
            BlockingOp::ZPop { max } => {
                let name = if *max { "zpopmax" } else { "zpopmin" };
                ZSetCommand::parse(name, &vec![word(name), key.clone()]).map(ShardCommand::ZSet)
            }
            BlockingOp::ZMPop { max, count: n } => {
                let argv = vec![
                    word("zmpop"),
                    word("1"),
                    key.clone(),
                    word(if *max { "max" } else { "min" }),
                    word("count"),
                    count(*n),
                ];
                ZSetCommand::parse("zmpop", &argv).map(ShardCommand::ZSet)
            }
        }
    }

    /// The command's reply from the reply of [`Blocking::pop`] on `key`; `None` when nothing
    /// was popped (another client was faster): the client waits again.
    pub fn reply(&self, key: &Bytes, popped: Frame) -> Option<Frame> {
        match popped {
            Frame::Error(_) => Some(popped),
            Frame::Null | Frame::NullArray => None,
            Frame::Array(items) if items.is_empty() => None,
            Frame::Bulk(element) => Some(match self.op {
                BlockingOp::Pop { .. } => {
                    Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Bulk(element)])
                }
                _ => Frame::Bulk(element),
            }),
            Frame::Array(mut items) => Some(match self.op {
                BlockingOp::ZPop { .. } => {
                    items.insert(0, Frame::Bulk(key.clone()));
                    Frame::Array(items)
                }
                _ => Frame::Array(items),
            }),
            other => Some(other),
        }
    }

    /// The reply when the timeout passes first: a null array, for every blocking pop (BLMOVE's
    /// included, although it answers a plain element when served), as redis 7.0 answers.
    pub fn timed_out(&self) -> Frame {
        Frame::NullArray
    }
}

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
            return super::errors::wrong_type();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Argv {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn timeouts_read_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"-0"), Ok(0));
        assert_eq!(parse_timeout(b"1.5"), Ok(1500));
        assert_eq!(parse_timeout(b"0x10"), Ok(16000));
        assert_eq!(
            parse_timeout(b"1e-10"),
            Ok(1),
            "rounded up, never to 0 (for ever)"
        );
        for negative in ["-1", "inf", "-inf", "1e400", "1e16"] {
            assert_eq!(
                parse_timeout(negative.as_bytes()),
                Err(Frame::error("ERR timeout is negative")),
                "{negative}"
            );
        }
        for bad in ["nan", "abc", " 1", "", "1x"] {
            assert_eq!(
                parse_timeout(bad.as_bytes()),
                Err(Frame::error("ERR timeout is not a float or out of range")),
                "{bad}"
            );
        }
    }

    #[test]
    fn each_blocking_pop_is_the_non_blocking_command_it_amounts_to() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["blpop", "a", "b", "0"], &["lpop", "k"]),
            (&["brpop", "a", "1"], &["rpop", "k"]),
            (
                &["blmove", "a", "d", "RIGHT", "left", "0"],
                &["lmove", "k", "d", "right", "left"],
            ),
            (
                &["brpoplpush", "a", "d", "0"],
                &["lmove", "k", "d", "right", "left"],
            ),
            (
                &["blmpop", "0", "2", "a", "b", "LEFT", "COUNT", "3"],
                &["lmpop", "1", "k", "left", "count", "3"],
            ),
            (&["bzpopmax", "a", "0"], &["zpopmax", "k"]),
            (
                &["bzmpop", "0", "1", "a", "MIN"],
                &["zmpop", "1", "k", "min", "count", "1"],
            ),
        ];
        for (blocking, pop) in cases {
            let b = parse(blocking[0], &argv(blocking)).expect("parses");
            assert_eq!(
                b.pop(&Bytes::from_static(b"k")).expect("pop").to_argv(),
                argv(pop),
                "{blocking:?}"
            );
        }
    }

    #[test]
    fn probes_parse_back_from_their_argv() {
        for strict in [true, false] {
            let keys = argv(&["a", "b\r\n"]);
            let cmd = KeyCommand::FirstReady {
                keys: keys.clone(),
                wanted: "zset",
                strict,
            };
            assert_eq!(probe_from_argv(&probe_argv(&keys, "zset", strict)), Ok(cmd));
        }
    }
}

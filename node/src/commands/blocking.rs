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
pub use super::blocking_pop::{Blocking, BlockingOp, ParseBlocking};
use super::keys::KeyCommand;
use super::lists::{ListCommand, ListOp};
use super::registry::Command;
use super::zsets::{self, ZSetCommand};
use super::ShardCommand;
use crate::long_double::LongDouble;
use crate::protocol::Frame;

/// The blocking pops: a family of their own, each run as the non-blocking command it amounts to.
pub static COMMANDS: &[Command] = &[
    Command::blocking("blpop", parse),
    Command::blocking("brpop", parse),
    Command::blocking("blmove", parse),
    Command::blocking("brpoplpush", parse),
    Command::blocking("blmpop", parse),
    Command::blocking("bzpopmin", parse),
    Command::blocking("bzpopmax", parse),
    Command::blocking("bzmpop", parse),
];

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

/// Parses a blocking command.
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
}

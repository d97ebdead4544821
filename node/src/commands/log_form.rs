//! How a shard command is written into the Raft log and sent to other nodes: as its argument
//! vector, the command as a client would type it.
//!
//! This is the form redis's own AOF and replication stream use, and for the same reason: a
//! command's name and arguments do not change meaning from one release to the next, while the
//! Rust types a release parses them into do. Encoding the parsed enums instead (as bincode
//! does, by variant number) would make an existing log decode differently as soon as a variant
//! is added in the middle of an enum — data loss on upgrade, silently.
//!
//! Each family writes its commands back as arguments (`to_argv`), and reading parses them with
//! the same parser clients' requests go through, so `from_argv(to_argv(c)) == c` for every
//! command (tested below for each of them). The node's own command — active expiry — has a
//! name with a colon, which no redis command has, so a client can never send it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::args::Argv;
use super::keys::{self, KeyCommand, EVICT, EVICT_UNCHANGED, EXPIRE_DUE, FIRST_READY};
use super::sets::{SetCommand, SPOP_EFFECT};
use super::transaction::{self, ExecCommand};
use super::ShardCommand;
use crate::protocol::Frame;

/// The text of an error reply, for a decode error.
fn error_text(frame: &Frame) -> String {
    match frame {
        Frame::Error(text) => String::from_utf8_lossy(text).into_owned(),
        other => format!("{other:?}"),
    }
}

impl ShardCommand {
    /// The command as an argument vector that parses back to it.
    pub fn to_argv(&self) -> Argv {
        match self {
            ShardCommand::String(c) => c.to_argv(),
            ShardCommand::Key(c) => c.to_argv(),
            ShardCommand::Hash(c) => c.to_argv(),
            ShardCommand::Set(c) => c.to_argv(),
            ShardCommand::ZSet(c) => c.to_argv(),
            ShardCommand::List(c) => c.to_argv(),
            ShardCommand::Sort(c) => c.to_argv(),
            ShardCommand::Exec(c) => c.to_argv(),
        }
    }

    /// Parses an argument vector written by [`ShardCommand::to_argv`] (by this release or an
    /// earlier one).
    pub fn from_argv(argv: &Argv) -> Result<ShardCommand, String> {
        let Some(name) = argv.first() else {
            return Err("an empty command".into());
        };
        if name.as_ref() == EXPIRE_DUE.as_bytes() {
            return Ok(ShardCommand::Key(KeyCommand::ExpireDue(argv[1..].to_vec())));
        }
        if name.as_ref() == EVICT.as_bytes() {
            return Ok(ShardCommand::Key(KeyCommand::Evict(argv[1..].to_vec())));
        }
        if name.as_ref() == EVICT_UNCHANGED.as_bytes() {
            return keys::evict_unchanged_from_argv(argv).map(ShardCommand::Key);
        }
        if name.as_ref() == FIRST_READY.as_bytes() {
            return keys::probe_from_argv(argv).map(ShardCommand::Key);
        }
        if name.as_ref() == transaction::EXEC.as_bytes() {
            return ExecCommand::from_argv(argv).map(|c| ShardCommand::Exec(Box::new(c)));
        }
        if name.as_ref() == SPOP_EFFECT.as_bytes() {
            return SetCommand::parse_effect(argv).map(ShardCommand::Set);
        }
        let spec = super::resolve(argv).map_err(|e| error_text(&e))?;
        match super::parse_shard_command(spec.name, argv) {
            Some(Ok(cmd)) => Ok(cmd),
            Some(Err(e)) => Err(format!("{}: {}", spec.name, error_text(&e))),
            None => Err(format!("{} is not a shard command", spec.name)),
        }
    }
}

impl Serialize for ShardCommand {
    /// A sequence of byte strings.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_argv().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ShardCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ShardCommand, D::Error> {
        let argv = Argv::deserialize(d)?;
        ShardCommand::from_argv(&argv).map_err(|e| {
            serde::de::Error::custom(format!(
                "a logged command does not parse ({e}): {:?}",
                argv.first()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::table;
    use bytes::Bytes;

    fn argv(words: &[&str]) -> Argv {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    /// Parses a request as a client's goes through resolution and its family's parser.
    fn parse(words: &[&str]) -> ShardCommand {
        let argv = argv(words);
        let spec = crate::commands::resolve(&argv).expect("a known command");
        crate::commands::parse_shard_command(spec.name, &argv)
            .expect("a shard command")
            .expect("valid arguments")
    }

    /// Every form of every shard command, with the options that change what is stored.
    const CASES: &[&[&str]] = &[
        &["GET", "k"],
        &["SET", "k", "v"],
        &["set", "k", "v", "NX"],
        &["SET", "k", "v", "XX", "GET"],
        &["SET", "k", "v", "EX", "10"],
        &["SET", "k", "v", "px", "1500", "nx"],
        &["SET", "k", "v", "EXAT", "4000000000"],
        &["SET", "k", "v", "PXAT", "4000000000123"],
        &["SET", "k", "v", "KEEPTTL", "GET"],
        &["SETNX", "k", "v"],
        &["SETEX", "k", "9223372036854775", "v"],
        &["PSETEX", "k", "1", "v"],
        &["GETSET", "k", "v"],
        &["GETDEL", "k"],
        &["GETEX", "k"],
        &["GETEX", "k", "PERSIST"],
        &["GETEX", "k", "EX", "5"],
        &["GETEX", "k", "PXAT", "77"],
        &["MGET", "a", "b", "c"],
        &["MSET", "a", "1", "b", "2"],
        &["MSETNX", "{t}a", "1", "{t}b", "2"],
        &["INCR", "n"],
        &["DECR", "n"],
        &["INCRBY", "n", "-9223372036854775808"],
        &["DECRBY", "n", "9223372036854775807"],
        &["INCRBYFLOAT", "f", "1.000000000000000000001"],
        &["INCRBYFLOAT", "f", "-5e-3"],
        &["APPEND", "k", "tail"],
        &["STRLEN", "k"],
        &["GETRANGE", "k", "-3", "-1"],
        &["SUBSTR", "k", "0", "5"],
        &["SETRANGE", "k", "7", "patch"],
        &["DEL", "a", "b"],
        &["UNLINK", "a"],
        &["EXISTS", "a", "a"],
        &["TOUCH", "a"],
        &["TYPE", "k"],
        &["EXPIRE", "k", "10"],
        &["EXPIRE", "k", "10", "NX"],
        &["PEXPIRE", "k", "-5", "XX", "GT"],
        &["EXPIREAT", "k", "4000000000", "LT"],
        &["PEXPIREAT", "k", "4000000000000"],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["EXPIRETIME", "k"],
        &["PEXPIRETIME", "k"],
        &["PERSIST", "k"],
        &["RENAME", "a", "b"],
        &["RENAMENX", "a", "b"],
        &["COPY", "a", "b"],
        &["COPY", "a", "b", "REPLACE", "DB", "0"],
        &["KEYS", "user:*"],
        &["DBSIZE"],
        &["FLUSHALL"],
        &["FLUSHDB", "ASYNC"],
        &["OBJECT", "ENCODING", "k"],
        &["OBJECT", "FREQ", "k"],
        &["OBJECT", "IDLETIME", "k"],
        &["MEMORY", "USAGE", "k"],
        &["CLUSTER", "COUNTKEYSINSLOT", "16383"],
        &["CLUSTER", "GETKEYSINSLOT", "7", "100"],
        &["HSET", "h", "f", "v", "g", ""],
        &["HMSET", "h", "f", "v"],
        &["HSETNX", "h", "f", "v"],
        &["HGET", "h", "f"],
        &["HMGET", "h", "f", "g"],
        &["HDEL", "h", "f", "g"],
        &["HEXISTS", "h", "f"],
        &["HLEN", "h"],
        &["HKEYS", "h"],
        &["HVALS", "h"],
        &["HGETALL", "h"],
        &["HINCRBY", "h", "f", "-9223372036854775808"],
        &["HINCRBYFLOAT", "h", "f", "1.000000000000000000001"],
        &["HSTRLEN", "h", "f"],
        &["HRANDFIELD", "h"],
        &["HRANDFIELD", "h", "-5"],
        &["HRANDFIELD", "h", "3", "WITHVALUES"],
        &["HSCAN", "h", "0"],
        &[
            "HSCAN",
            "h",
            "18446744073709551615",
            "MATCH",
            "f*",
            "COUNT",
            "100",
        ],
        &["SADD", "s", "a", "1"],
        &["SREM", "s", "a", "b"],
        &["SMEMBERS", "s"],
        &["SISMEMBER", "s", "a"],
        &["SMISMEMBER", "s", "a", "b"],
        &["SCARD", "s"],
        &["SPOP", "s"],
        &["SPOP", "s", "3"],
        &["SRANDMEMBER", "s"],
        &["SRANDMEMBER", "s", "-3"],
        &["SMOVE", "{s}a", "{s}b", "m"],
        &["SINTER", "{s}a", "{s}b"],
        &["SINTERSTORE", "{s}d", "{s}a", "{s}b"],
        &["SUNION", "{s}a"],
        &["SUNIONSTORE", "{s}d", "{s}a"],
        &["SDIFF", "{s}a", "{s}b", "{s}c"],
        &["SDIFFSTORE", "{s}d", "{s}a", "{s}b"],
        &["SINTERCARD", "2", "{s}a", "{s}b"],
        &["SINTERCARD", "1", "{s}a", "LIMIT", "5"],
        &["SSCAN", "s", "0", "MATCH", "a*"],
        &["ZADD", "z", "NX", "CH", "1", "a", "-inf", "b"],
        &["ZADD", "z", "GT", "INCR", "1.5", "a"],
        &["ZINCRBY", "z", "2", "a"],
        &["ZREM", "z", "a", "b"],
        &["ZCARD", "z"],
        &["ZSCORE", "z", "a"],
        &["ZMSCORE", "z", "a", "b"],
        &["ZRANK", "z", "a"],
        &["ZREVRANK", "z", "a"],
        &["ZCOUNT", "z", "(1", "+inf"],
        &["ZLEXCOUNT", "z", "[a", "+"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &[
            "ZRANGE", "z", "(1", "5", "BYSCORE", "REV", "LIMIT", "0", "2",
        ],
        &["ZRANGESTORE", "{z}d", "{z}s", "[a", "[z", "BYLEX"],
        &[
            "ZRANGEBYSCORE",
            "z",
            "-inf",
            "(2",
            "WITHSCORES",
            "LIMIT",
            "1",
            "1",
        ],
        &["ZREVRANGEBYSCORE", "z", "5", "1"],
        &["ZRANGEBYLEX", "z", "-", "(m"],
        &["ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "0", "5"],
        &["ZREVRANGE", "z", "0", "2", "WITHSCORES"],
        &["ZREMRANGEBYRANK", "z", "0", "1"],
        &["ZREMRANGEBYSCORE", "z", "-inf", "(0"],
        &["ZREMRANGEBYLEX", "z", "[a", "(c"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z", "3"],
        &["ZMPOP", "2", "{z}a", "{z}b", "MAX", "COUNT", "2"],
        &["ZRANDMEMBER", "z", "-3", "WITHSCORES"],
        &["ZSCAN", "z", "0", "COUNT", "5"],
        &[
            "ZUNION",
            "2",
            "{z}a",
            "{z}b",
            "WEIGHTS",
            "1",
            "2",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZINTER", "1", "{z}a"],
        &["ZDIFF", "2", "{z}a", "{z}b", "WITHSCORES"],
        &["ZUNIONSTORE", "{z}d", "2", "{z}a", "{z}b"],
        &[
            "ZINTERSTORE",
            "{z}d",
            "2",
            "{z}a",
            "{z}b",
            "AGGREGATE",
            "MIN",
        ],
        &["ZDIFFSTORE", "{z}d", "1", "{z}a"],
        &["ZINTERCARD", "2", "{z}a", "{z}b", "LIMIT", "3"],
        &["LPUSH", "l", "a", "b"],
        &["RPUSH", "l", "a"],
        &["LPUSHX", "l", "a"],
        &["RPUSHX", "l", "a", "b"],
        &["LPOP", "l"],
        &["RPOP", "l", "3"],
        &["LLEN", "l"],
        &["LINDEX", "l", "-1"],
        &["LRANGE", "l", "0", "-1"],
        &["LSET", "l", "0", "x"],
        &["LTRIM", "l", "1", "-2"],
        &["LINSERT", "l", "BEFORE", "a", "b"],
        &["LREM", "l", "-2", "a"],
        &["LPOS", "l", "a", "RANK", "-1", "COUNT", "0", "MAXLEN", "10"],
        &["LMOVE", "{l}a", "{l}b", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "{l}a", "{l}b"],
        &["LMPOP", "2", "{l}a", "{l}b", "RIGHT", "COUNT", "2"],
        &[
            "SORT",
            "{s}k",
            "BY",
            "{s}w_*",
            "LIMIT",
            "0",
            "5",
            "GET",
            "#",
            "GET",
            "{s}h_*->f",
            "DESC",
            "ALPHA",
            "STORE",
            "{s}d",
        ],
        &["SORT_RO", "k", "BY", "nosort", "ASC"],
    ];

    #[test]
    fn every_command_parses_back_from_its_argv() {
        for words in CASES {
            let cmd = parse(words);
            let back = ShardCommand::from_argv(&cmd.to_argv())
                .unwrap_or_else(|e| panic!("{words:?}: {e}"));
            assert_eq!(back, cmd, "{words:?} -> {:?}", cmd.to_argv());
        }
        for cmd in [
            ShardCommand::Key(KeyCommand::ExpireDue(argv(&["a", "b"]))),
            ShardCommand::Key(KeyCommand::ExpireDue(Vec::new())),
            ShardCommand::Key(KeyCommand::Evict(argv(&["a", "b\r\n"]))),
            ShardCommand::Key(KeyCommand::Evict(Vec::new())),
            ShardCommand::Key(KeyCommand::EvictUnchanged(vec![
                (Bytes::from_static(b"a"), 0),
                (Bytes::from_static(b"b\r\n"), u32::MAX),
            ])),
            ShardCommand::Key(KeyCommand::EvictUnchanged(Vec::new())),
            ShardCommand::Key(KeyCommand::FirstReady {
                keys: argv(&["a", "b\r\n"]),
                wanted: "zset",
                strict: true,
            }),
            ShardCommand::Key(KeyCommand::FirstReady {
                keys: argv(&["l"]),
                wanted: "list",
                strict: false,
            }),
            ShardCommand::Set(SetCommand::PopEffect(
                Bytes::from_static(b"s"),
                None,
                argv(&["m"]),
            )),
            ShardCommand::Set(SetCommand::PopEffect(
                Bytes::from_static(b"s"),
                Some(3),
                argv(&["a", "-", "7"]),
            )),
        ] {
            assert_eq!(ShardCommand::from_argv(&cmd.to_argv()), Ok(cmd));
        }
    }

    #[test]
    fn every_shard_command_of_the_table_is_covered() {
        // A new shard command must get a case above (and so a checked argv form).
        let covered: Vec<&str> = CASES
            .iter()
            .map(|w| crate::commands::resolve(&argv(w)).expect("known").name)
            .collect();
        let shard_commands = table::COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
            .filter(|spec| {
                // A request of the command's minimum arity, with arguments that parse: only
                // the family decides whether it is a shard command.
                let args = (spec.arity.unsigned_abs() as usize).max(1);
                let mut words: Vec<String> = spec.name.split('|').map(str::to_string).collect();
                while words.len() < args {
                    words.push("1".into());
                }
                let w: Vec<&str> = words.iter().map(String::as_str).collect();
                crate::commands::parse_shard_command(spec.name, &argv(&w)).is_some()
            })
            .map(|spec| spec.name);
        for name in shard_commands {
            assert!(covered.contains(&name), "{name} has no log form case");
        }
    }

    #[test]
    fn the_log_form_is_the_argv_in_bincode() {
        let cmd = parse(&["SET", "k", "v", "PX", "100"]);
        let encoded = crate::codec::encode(&cmd).expect("encodes");
        let as_argv: Argv = crate::codec::decode(&encoded).expect("an argv");
        assert_eq!(as_argv, argv(&["set", "k", "v", "px", "100"]));
        let back: ShardCommand = crate::codec::decode(&encoded).expect("decodes");
        assert_eq!(back, cmd);
    }

    #[test]
    fn a_logged_command_that_does_not_parse_is_an_error_not_a_guess() {
        for bad in [
            argv(&[]),
            argv(&["nosuchcommand", "k"]),
            argv(&["set", "k"]),
            argv(&["set", "k", "v", "bogus"]),
            argv(&["ping"]),
            argv(&["scan", "0"]),
            argv(&["shardis:evict-unchanged", "k"]),
            argv(&["shardis:evict-unchanged", "k", "-1"]),
            argv(&["shardis:evict-unchanged", "k", "4294967296"]),
            argv(&["shardis:evict-unchanged", "k", "1", "j", "x"]),
        ] {
            let encoded = crate::codec::encode(&bad).expect("encodes");
            assert!(
                crate::codec::decode::<ShardCommand>(&encoded).is_err(),
                "{bad:?}"
            );
        }
    }
}

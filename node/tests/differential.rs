//! Differential tests: the same command sequences go to a real redis-server 7
//! and to shardis, and the raw reply bytes must be identical.
//!
//! Cases are data: `case!("name", [cmd args..], kind [cmd args..], ..)`, where
//! `kind` is empty (byte-exact) or one of `sorted`, `ttl`, `shape`, `scan`,
//! `sleep [ms]`, `closed []` (see [`Step`]). Every case runs on fresh
//! connections after `FLUSHALL`; after a mismatch the case goes on unless a
//! connection broke. A group collects all mismatching cases and fails once,
//! listing case name, step, command and both replies.
//!
//! `cargo test -p shardis --test differential -- --ignored self_check` runs
//! every group redis-vs-redis to prove the harness itself is sound.
//! Environment: `DIFF_TRACE=1` prints every command and both replies (with
//! `--nocapture`); `DIFF_SEED` / `DIFF_OPS` change the random-ops run.

mod support;

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use support::{escape, parse_reply, pretty, pretty_command, RawClient, Reply, Server};

/// One step of a case.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Replies must be byte-identical.
    Exact(&'static [&'static str]),
    /// Aggregate replies compared as sorted multisets (maps as sorted pairs):
    /// for KEYS, and where redis iterates a randomly seeded dict.
    Sorted(&'static [&'static str]),
    /// Integer replies may differ by 1 (or 1000 for `P*` commands such as
    /// PTTL): used where the value depends on the clock.
    Ttl(&'static [&'static str]),
    /// Only types, aggregate lengths and map keys must match (TIME, ids, ..).
    Shape(&'static [&'static str]),
    /// `SCAN 0 <args>` iterated to the end; the sets of keys must match.
    Scan(&'static [&'static str]),
    /// Sleep this many milliseconds.
    Sleep(u64),
    /// Both servers must close the connection; then both reconnect.
    Closed,
}

/// A named list of steps.
struct Case {
    name: &'static str,
    steps: &'static [Step],
}

macro_rules! step {
    ([$($a:expr),*]) => { Step::Exact(&[$($a),*]) };
    (sorted [$($a:expr),*]) => { Step::Sorted(&[$($a),*]) };
    (ttl [$($a:expr),*]) => { Step::Ttl(&[$($a),*]) };
    (shape [$($a:expr),*]) => { Step::Shape(&[$($a),*]) };
    (scan [$($a:expr),*]) => { Step::Scan(&[$($a),*]) };
    (sleep [$ms:expr]) => { Step::Sleep($ms) };
    (closed []) => { Step::Closed };
}

/// `case!("name", ["SET", "k", "v"], ttl ["TTL", "k"], ...)`
macro_rules! case {
    ($name:literal $(, $($kind:ident)? [$($arg:expr),* $(,)?])* $(,)?) => {
        Case { name: $name, steps: &[$(step!($($kind)? [$($arg),*])),*] }
    };
}

const X44: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const X45: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const X100: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
/// 2100-01-01T00:00:00Z, for exact EXPIRETIME checks.
const FAR: &str = "4102444800";

#[rustfmt::skip]
static STRINGS: &[Case] = &[
    case!("get set basic",
        ["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["SET", "k", ""], ["GET", "k"], ["SET", "k", "v2"],
        ["GET", "k"], ["set", "k", "lower"], ["get", "k"]
    ),
    case!("binary value",
        ["SET", "k", "a\0b\r\nc\u{ff}"], ["GET", "k"], ["STRLEN", "k"], ["SET", "\0key", "v"], ["GET", "\0key"]
    ),
    case!("long value", ["SET", "k", X100], ["GET", "k"], ["STRLEN", "k"]),
    case!("set nx xx",
        ["SET", "k", "v", "NX"], ["SET", "k", "w", "NX"], ["GET", "k"], ["SET", "k", "w", "XX"], ["GET", "k"],
        ["SET", "n", "v", "XX"], ["GET", "n"], ["SET", "k", "z", "nx"], ["SET", "k", "z", "xx"], ["GET", "k"]
    ),
    case!("set get option",
        ["SET", "k", "v", "GET"], ["SET", "k", "w", "GET"], ["SET", "k", "x", "NX", "GET"], ["GET", "k"],
        ["SET", "k", "y", "XX", "GET"], ["SET", "n", "y", "XX", "GET"], ["GET", "n"], ["SET", "m", "z", "GET", "NX"],
        ["GET", "m"], ["SET", "k", "q", "get", "EX", "100"], ttl ["TTL", "k"]
    ),
    case!("set bad combos",
        ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v", "XX", "NX"], ["SET", "k", "v", "EX", "10", "PX", "100"],
        ["SET", "k", "v", "EX", "10", "EXAT", "100"], ["SET", "k", "v", "PXAT", "10", "EXAT", "100"],
        ["SET", "k", "v", "EX", "10", "KEEPTTL"], ["SET", "k", "v", "KEEPTTL", "PX", "5"], ["SET", "k", "v", "EX"],
        ["SET", "k", "v", "PX"], ["SET", "k", "v", "FOO"], ["SET", "k", "v", "NX", "NX"],
        ["SET", "k", "v", "EX", "10", "EX", "20"], ["EXISTS", "k"]
    ),
    case!("set invalid expire",
        ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "-1"], ["SET", "k", "v", "EX", "abc"],
        ["SET", "k", "v", "PX", "0"], ["SET", "k", "v", "PX", "-5"], ["SET", "k", "v", "EX", "1.5"],
        ["SET", "k", "v", "EX", ""], ["SET", "k", "v", "EX", " 10"], ["SET", "k", "v", "EX", "9223372036854775807"],
        ["SET", "k", "v", "PX", "9223372036854775807"], ["SET", "k", "v", "EX", "99999999999999999999"],
        ["SET", "k", "v", "EXAT", "0"], ["SET", "k", "v", "PXAT", "-1"],
        ["SET", "k", "v", "EXAT", "9223372036854775807"], ["EXISTS", "k"]
    ),
    case!("set expire variants",
        ["SET", "k", "v", "EX", "100"], ttl ["TTL", "k"], ttl ["PTTL", "k"], ["SET", "k", "v", "PX", "100000"],
        ttl ["TTL", "k"], ["SET", "k", "v", "EXAT", FAR], ["EXPIRETIME", "k"],
        ["SET", "k", "v", "PXAT", "4102444800123"], ["PEXPIRETIME", "k"], ["SET", "k", "v", "ex", "100"],
        ttl ["TTL", "k"], ["SET", "k", "w", "KEEPTTL"], ttl ["TTL", "k"], ["GET", "k"], ["SET", "k", "v"],
        ["TTL", "k"]
    ),
    case!("set exat in the past",
        ["SET", "k", "v", "EXAT", "1"], ["GET", "k"], ["EXISTS", "k"], ["SET", "k", "v", "PXAT", "1000"],
        ["EXISTS", "k"]
    ),
    case!("set arity", ["SET"], ["SET", "k"], ["GET"], ["GET", "a", "b"]),
    case!("setnx", ["SETNX", "k", "v"], ["SETNX", "k", "w"], ["GET", "k"], ["SETNX", "k"], ["SETNX", "k", "v", "x"]),
    case!("setex psetex",
        ["SETEX", "k", "100", "v"], ttl ["TTL", "k"], ["GET", "k"], ["PSETEX", "p", "100000", "v"], ttl ["PTTL", "p"],
        ["GET", "p"], ["SETEX", "k", "0", "v"], ["SETEX", "k", "-1", "v"], ["SETEX", "k", "abc", "v"],
        ["PSETEX", "k", "0", "v"], ["PSETEX", "k", "-10", "v"], ["SETEX", "k", "9223372036854775807", "v"],
        ["PSETEX", "k", "9223372036854775807", "v"], ["SETEX", "k", "10"], ["PSETEX", "k"]
    ),
    case!("getset",
        ["GETSET", "k", "v"], ["GETSET", "k", "w"], ["GET", "k"], ["SET", "t", "v", "EX", "100"],
        ["GETSET", "t", "x"], ["TTL", "t"], ["GETSET", "k"]
    ),
    case!("getdel",
        ["SET", "k", "v"], ["GETDEL", "k"], ["GETDEL", "k"], ["EXISTS", "k"], ["GETDEL"], ["GETDEL", "a", "b"]
    ),
    case!("getex in the past deletes",
        ["SET", "k", "v"], ["GETEX", "k", "EXAT", "1"], ["EXISTS", "k"], ["SET", "k", "v"],
        ["GETEX", "k", "PXAT", "1000"], ["GET", "k"], ["SET", "k", "v", "KEEPTTL", "GET"], ["TTL", "k"]
    ),
    case!("odd keys",
        ["SET", "", "empty"], ["GET", ""], ["SET", "a b", "1"], ["SET", "a\r\nb", "2"], ["SET", "\u{e9}t\u{e9}", "3"],
        ["MGET", "", "a b", "a\r\nb", "\u{e9}t\u{e9}"], sorted ["KEYS", "*"], sorted ["KEYS", "a*"],
        ["EXISTS", "", "a b"], scan ["MATCH", "a?b"], ["DEL", "", "a b", "a\r\nb"], ["DBSIZE"]
    ),
    case!("getex options",
        ["SET", "k", "v"], ["GETEX", "k"], ["TTL", "k"], ["GETEX", "k", "EX", "100"], ttl ["TTL", "k"],
        ["GETEX", "k", "PX", "200000"], ttl ["PTTL", "k"], ["GETEX", "k", "EXAT", FAR], ["EXPIRETIME", "k"],
        ["GETEX", "k", "PXAT", "4102444800500"], ["PEXPIRETIME", "k"], ["GETEX", "k", "PERSIST"], ["TTL", "k"],
        ["GETEX", "k", "persist"], ["GETEX", "missing"], ["GETEX", "missing", "EX", "10"], ["EXISTS", "missing"]
    ),
    case!("getex errors",
        ["SET", "k", "v"], ["GETEX", "k", "EX", "0"], ["GETEX", "k", "EX", "-1"], ["GETEX", "k", "PX", "0"],
        ["GETEX", "k", "EX", "abc"], ["GETEX", "k", "EX", "9223372036854775807"],
        ["GETEX", "k", "EX", "10", "PX", "10"], ["GETEX", "k", "PERSIST", "EX", "10"],
        ["GETEX", "k", "EX", "10", "PERSIST"], ["GETEX", "k", "EX"], ["GETEX", "k", "FOO"], ["GETEX", "k", "KEEPTTL"],
        ["GETEX"], ["TTL", "k"]
    ),
    case!("mget mset",
        ["MSET", "a", "1", "b", "2", "c", "3"], ["MGET", "a", "b", "c", "d"], ["MSET", "a", "x", "a", "y"],
        ["GET", "a"], ["MGET", "a", "a"], ["MSET", "a"], ["MSET", "a", "1", "b"], ["MGET"], ["MSET"], ["MGET", "a"]
    ),
    // Keys spread over many slots (and so over shardis shards): order of replies must hold.
    case!("mget mset many keys",
        ["MSET", "k1", "1", "k2", "2", "k3", "3", "k4", "4", "k5", "5", "k6", "6", "k7", "7", "k8", "8", "k9", "9"],
        ["MGET", "k9", "k1", "x", "k5", "k2", "k8", "k3", "k7", "k4", "k6", "k1", "y"],
        ["MSET", "k1", "a", "k9", "b", "k1", "c"], ["MGET", "k1", "k9"]
    ),
    case!("mset clears ttl", ["SET", "a", "1", "EX", "100"], ["MSET", "a", "2"], ["TTL", "a"]),
    case!("msetnx",
        ["MSETNX", "{t}a", "1", "{t}b", "2"], ["MSETNX", "{t}a", "x", "{t}c", "3"], ["MGET", "{t}a", "{t}b", "{t}c"],
        ["MSETNX", "{t}a"], ["MSETNX", "{t}a", "1", "{t}b"], ["MSETNX", "{t}d", "1", "{t}d", "2"], ["GET", "{t}d"],
        ["MSETNX"]
    ),
    case!("incr decr",
        ["INCR", "n"], ["INCR", "n"], ["DECR", "n"], ["DECR", "n"], ["DECR", "n"], ["GET", "n"],
        ["INCRBY", "n", "10"], ["INCRBY", "n", "-20"], ["DECRBY", "n", "5"], ["DECRBY", "n", "-5"],
        ["INCRBY", "m", "0"], ["GET", "m"], ["SET", "z", "0"], ["DECR", "z"], ["SET", "neg", "-10"], ["INCR", "neg"]
    ),
    case!("incr overflow",
        ["SET", "n", "9223372036854775807"], ["INCR", "n"], ["INCRBY", "n", "0"], ["DECR", "n"],
        ["SET", "n", "-9223372036854775808"], ["DECR", "n"], ["INCRBY", "n", "-1"], ["DECRBY", "n", "1"],
        ["INCR", "n"], ["SET", "n", "1"], ["DECRBY", "n", "-9223372036854775808"],
        ["DECRBY", "n", "-9223372036854775807"], ["INCRBY", "n", "9223372036854775807"],
        ["INCRBY", "n", "9223372036854775808"], ["GET", "n"], ["SET", "n", "-1"],
        ["DECRBY", "n", "9223372036854775807"], ["DECRBY", "n", "9223372036854775807"], ["GET", "n"]
    ),
    case!("incr non integer values",
        ["SET", "n", "abc"], ["INCR", "n"], ["SET", "n", " 1"], ["INCR", "n"], ["SET", "n", "1 "], ["INCR", "n"],
        ["SET", "n", "01"], ["INCR", "n"], ["SET", "n", "+1"], ["INCR", "n"], ["SET", "n", "-0"], ["INCR", "n"],
        ["SET", "n", "1.0"], ["INCR", "n"], ["SET", "n", ""], ["INCR", "n"], ["SET", "n", "99999999999999999999"],
        ["INCR", "n"], ["SET", "n", "9223372036854775808"], ["DECR", "n"], ["SET", "n", "0x10"], ["INCR", "n"],
        ["GET", "n"]
    ),
    case!("incrby bad increments",
        ["INCRBY", "x", "abc"], ["INCRBY", "x", "1.5"], ["INCRBY", "x", " 1"], ["INCRBY", "x", "01"],
        ["INCRBY", "x", "-"], ["INCRBY", "x", ""], ["INCRBY", "x", "+5"], ["DECRBY", "x", "1e3"], ["EXISTS", "x"]
    ),
    case!("incr arity",
        ["INCR"], ["INCR", "a", "b"], ["INCRBY", "a"], ["INCRBY", "a", "1", "2"], ["DECRBY", "a"], ["DECR"]
    ),
    case!("incr keeps ttl",
        ["SET", "n", "1", "EX", "100"], ["INCR", "n"], ttl ["TTL", "n"], ["INCRBYFLOAT", "n", "1.5"],
        ttl ["TTL", "n"], ["APPEND", "n", "0"], ttl ["TTL", "n"], ["SETRANGE", "n", "0", "9"], ttl ["TTL", "n"],
        ["GET", "n"]
    ),
    case!("incrbyfloat formatting",
        ["INCRBYFLOAT", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "-5"], ["SET", "f", "3.0e3"],
        ["INCRBYFLOAT", "f", "1"], ["INCRBYFLOAT", "f", "2.0e2"], ["SET", "g", "0.1"], ["INCRBYFLOAT", "g", "0.2"],
        ["INCRBYFLOAT", "g", "0.7"], ["INCRBYFLOAT", "h", "1e20"], ["INCRBYFLOAT", "h", "1"],
        ["INCRBYFLOAT", "i", "5"], ["INCRBYFLOAT", "j", "-0"], ["INCRBYFLOAT", "k", "1.23456789012345678"],
        ["INCRBYFLOAT", "m", "1e-10"], ["INCRBYFLOAT", "o", "1."], ["INCRBYFLOAT", "p", ".5"],
        ["INCRBYFLOAT", "q", "-1.5"], ["INCRBYFLOAT", "q", "1.5"], ["INCRBYFLOAT", "r", "3"],
        ["INCRBYFLOAT", "r", "0.000000000001"], ["INCRBYFLOAT", "s", "1e300"], ["INCRBYFLOAT", "t", "5E3"],
        ["SET", "u", "7"], ["INCRBYFLOAT", "u", "0"], ["INCRBYFLOAT", "v", "0.1"], ["INCRBYFLOAT", "v", "0.1"],
        ["INCRBYFLOAT", "v", "0.1"]
    ),
    case!("incrbyfloat errors",
        ["INCRBYFLOAT", "f", "inf"], ["INCRBYFLOAT", "f", "-inf"], ["INCRBYFLOAT", "f", "nan"],
        ["INCRBYFLOAT", "f", "abc"], ["INCRBYFLOAT", "f", ""], ["INCRBYFLOAT", "f", " 1"], ["INCRBYFLOAT", "f", "1 "],
        ["INCRBYFLOAT", "f", "0x10"], ["SET", "f", "abc"], ["INCRBYFLOAT", "f", "1"], ["SET", "f", "1e308"],
        ["INCRBYFLOAT", "f", "1e308"], ["GET", "f"], ["SET", "f", "inf"], ["INCRBYFLOAT", "f", "1"],
        ["INCRBYFLOAT", "f"], ["INCRBYFLOAT", "f", "1", "2"], ["EXISTS", "missing"]
    ),
    // redis computes in long double: these are finite there.
    case!("incrbyfloat long double range",
        ["INCRBYFLOAT", "a", "1e400"], ["INCRBYFLOAT", "b", "-1e400"], ["INCRBYFLOAT", "c", "1e5000"],
        ["SET", "d", "1e400"], ["INCRBYFLOAT", "d", "0"], ["INCRBYFLOAT", "e", "0.1e-10"], ["MGET", "a", "b", "c"]
    ),
    case!("append strlen",
        ["APPEND", "k", "hello"], ["APPEND", "k", " world"], ["GET", "k"], ["STRLEN", "k"], ["STRLEN", "missing"],
        ["APPEND", "k", ""], ["APPEND", "e", ""], ["EXISTS", "e"], ["GET", "e"], ["SET", "n", "10"],
        ["APPEND", "n", "5"], ["GET", "n"], ["INCR", "n"], ["STRLEN", "n"], ["APPEND", "k"], ["STRLEN"],
        ["STRLEN", "a", "b"]
    ),
    case!("getrange substr",
        ["SET", "k", "Hello World"], ["GETRANGE", "k", "0", "4"], ["GETRANGE", "k", "-5", "-1"],
        ["GETRANGE", "k", "0", "-1"], ["GETRANGE", "k", "5", "2"], ["GETRANGE", "k", "-100", "3"],
        ["GETRANGE", "k", "3", "100"], ["GETRANGE", "k", "100", "200"], ["GETRANGE", "k", "-1", "-5"],
        ["GETRANGE", "k", "-100", "-50"], ["GETRANGE", "k", "0", "0"], ["GETRANGE", "k", "10", "10"],
        ["GETRANGE", "k", "11", "11"], ["GETRANGE", "k", "-1", "-1"], ["GETRANGE", "missing", "0", "-1"],
        ["GETRANGE", "k", "9223372036854775807", "9223372036854775807"],
        ["GETRANGE", "k", "-9223372036854775808", "-1"], ["SUBSTR", "k", "0", "4"], ["SUBSTR", "k", "-3", "-1"],
        ["SET", "e", ""], ["GETRANGE", "e", "0", "-1"], ["GETRANGE", "e", "-1", "0"], ["SET", "n", "12345"],
        ["GETRANGE", "n", "1", "2"], ["GETRANGE", "n", "-2", "-1"]
    ),
    case!("getrange errors",
        ["SET", "k", "v"], ["GETRANGE", "k", "a", "1"], ["GETRANGE", "k", "0", "1.5"], ["GETRANGE", "k", "0"],
        ["GETRANGE", "k", "0", "1", "2"], ["SUBSTR", "k", "x", "1"], ["SUBSTR", "k"]
    ),
    case!("setrange",
        ["SET", "k", "Hello World"], ["SETRANGE", "k", "6", "Redis"], ["GET", "k"], ["SETRANGE", "k", "20", "!"],
        ["GET", "k"], ["STRLEN", "k"], ["SETRANGE", "n", "3", "abc"], ["GET", "n"], ["SETRANGE", "m", "5", ""],
        ["EXISTS", "m"], ["SETRANGE", "k", "0", ""], ["SETRANGE", "k", "100", ""], ["STRLEN", "k"],
        ["SET", "i", "123"], ["SETRANGE", "i", "1", "x"], ["GET", "i"], ["SETRANGE", "i", "0", "99"], ["INCR", "i"]
    ),
    case!("setrange errors",
        ["SET", "k", "v"], ["SETRANGE", "k", "-1", "x"], ["SETRANGE", "k", "abc", "x"],
        ["SETRANGE", "k", "536870912", "x"], ["SETRANGE", "k", "536870911", "xy"],
        ["SETRANGE", "m", "536870912", "x"], ["SETRANGE", "m", "536870912", ""], ["SETRANGE", "m", "-1", ""],
        ["SETRANGE", "k", "9223372036854775807", "x"], ["SETRANGE", "k", "0"], ["GET", "k"], ["EXISTS", "m"]
    ),
    case!("object encoding",
        ["SET", "i", "12345"], ["OBJECT", "ENCODING", "i"], ["SET", "bigi", "123456789012"],
        ["OBJECT", "ENCODING", "bigi"], ["SET", "s", "hello"], ["OBJECT", "ENCODING", "s"], ["SET", "r", X100],
        ["OBJECT", "ENCODING", "r"], ["OBJECT", "ENCODING", "missing"], ["SET", "huge", "12345678901234567890"],
        ["OBJECT", "ENCODING", "huge"], ["SET", "neg", "-5"], ["OBJECT", "ENCODING", "neg"], ["SET", "z", "007"],
        ["OBJECT", "ENCODING", "z"], ["APPEND", "s", "!"], ["OBJECT", "ENCODING", "s"], ["INCR", "c"],
        ["OBJECT", "ENCODING", "c"], ["SET", "e44", X44], ["OBJECT", "ENCODING", "e44"], ["SET", "e45", X45],
        ["OBJECT", "ENCODING", "e45"], ["OBJECT", "encoding", "i"]
    ),
    case!("object errors",
        ["OBJECT"], ["OBJECT", "ENCODING"], ["OBJECT", "FOO", "k"], ["OBJECT", "ENCODING", "a", "b"]
    ),
];

#[rustfmt::skip]
static HASHES: &[Case] = &[
    case!("hset hget basics",
        ["HSET", "h", "f", "v"], ["HGET", "h", "f"], ["HSET", "h", "f", "w", "g", "x"], ["HGET", "h", "f"],
        ["HGET", "h", "nofield"], ["HGET", "nokey", "f"], ["HLEN", "h"], ["HLEN", "nokey"], ["HGETALL", "h"],
        ["HKEYS", "h"], ["HVALS", "h"], ["HGETALL", "nokey"], ["HKEYS", "nokey"], ["HVALS", "nokey"],
        ["TYPE", "h"], ["OBJECT", "ENCODING", "h"], ["HSET", "h", "f", "v", "f", "last"], ["HGET", "h", "f"]
    ),
    case!("hset arity and hmset",
        ["HSET", "h"], ["HSET", "h", "f"], ["HSET", "h", "f", "v", "g"], ["HMSET", "h", "f"],
        ["HMSET", "h", "f", "v", "g"], ["HMSET", "h", "f", "1", "g", "2"], ["HMSET", "h", "f", "3"], ["HGETALL", "h"],
        ["HGET", "h"], ["HGET", "h", "f", "g"], ["HLEN"], ["HLEN", "h", "x"], ["HMGET", "h"], ["HDEL", "h"],
        ["HEXISTS", "h"], ["HSETNX", "h", "f"], ["HSTRLEN", "h"], ["HINCRBY", "h", "f"],
        ["HINCRBYFLOAT", "h", "f"], ["HSCAN", "h"], ["HRANDFIELD"], ["HGETALL"], ["HKEYS", "h", "x"]
    ),
    case!("binary and empty fields",
        ["HSET", "h", "", ""], ["HGET", "h", ""], ["HSTRLEN", "h", ""], ["HSET", "h", "a\0b\r\n", "\u{ff}\0"],
        ["HGET", "h", "a\0b\r\n"], ["HGETALL", "h"], ["HEXISTS", "h", ""], ["HEXISTS", "h", "a"],
        ["HSET", "h", "12", "34"], ["HSET", "h", "012", "-0"], ["HGET", "h", "12"], ["HGET", "h", "012"],
        ["HGETALL", "h"], ["HSTRLEN", "h", "012"], ["HSTRLEN", "h", "-9223372036854775808"]
    ),
    case!("hmget hdel hexists",
        ["HSET", "h", "a", "1", "b", "2", "c", "3"], ["HMGET", "h", "a", "x", "c", "a"], ["HMGET", "nokey", "a", "b"],
        ["HDEL", "h", "a", "x", "a"], ["HDEL", "nokey", "a"], ["HEXISTS", "h", "a"], ["HEXISTS", "h", "b"],
        ["HGETALL", "h"], ["HDEL", "h", "b", "c"], ["EXISTS", "h"], ["TYPE", "h"], ["HLEN", "h"]
    ),
    case!("hsetnx hstrlen",
        ["HSETNX", "h", "f", "v"], ["HSETNX", "h", "f", "w"], ["HGET", "h", "f"], ["HSTRLEN", "h", "f"],
        ["HSTRLEN", "h", "nofield"], ["HSTRLEN", "nokey", "f"], ["HSET", "h", "n", "-123"], ["HSTRLEN", "h", "n"]
    ),
    case!("hincrby",
        ["HINCRBY", "h", "n", "5"], ["HINCRBY", "h", "n", "-10"], ["HGET", "h", "n"], ["HINCRBY", "h", "n", "x"],
        ["HINCRBY", "h", "n", "1.5"], ["HINCRBY", "h", "n", ""], ["HSET", "h", "s", "abc"],
        ["HINCRBY", "h", "s", "1"], ["HSET", "h", "big", "9223372036854775807"], ["HINCRBY", "h", "big", "1"],
        ["HINCRBY", "h", "big", "-1"], ["HSET", "h", "small", "-9223372036854775808"],
        ["HINCRBY", "h", "small", "-1"], ["HINCRBY", "h", "small", "9223372036854775807"],
        ["HSET", "h", "sp", " 1"], ["HINCRBY", "h", "sp", "1"], ["HSET", "h", "lead", "01"],
        ["HINCRBY", "h", "lead", "1"], ["HINCRBY", "h", "new", "9223372036854775807"], ["HGETALL", "h"]
    ),
    case!("hincrbyfloat",
        ["HINCRBYFLOAT", "h", "f", "1.5"], ["HINCRBYFLOAT", "h", "f", "0.1"], ["HINCRBYFLOAT", "h", "f", "-1.6"],
        ["HINCRBYFLOAT", "h", "f", "1e3"], ["HINCRBYFLOAT", "h", "f", "abc"], ["HINCRBYFLOAT", "h", "f", "inf"],
        ["HINCRBYFLOAT", "h", "f", "-inf"], ["HINCRBYFLOAT", "h", "f", "nan"], ["HINCRBYFLOAT", "h", "f", ""],
        ["HSET", "h", "s", "abc"], ["HINCRBYFLOAT", "h", "s", "1"], ["HSET", "h", "i", "inf"],
        ["HINCRBYFLOAT", "h", "i", "1"], ["HSET", "h", "n", "1.5e10"], ["HINCRBYFLOAT", "h", "n", "0.1"],
        ["HSET", "h", "big", "1e308"], ["HINCRBYFLOAT", "h", "big", "1e308"], ["HINCRBYFLOAT", "h", "big", "1e308"],
        ["HINCRBYFLOAT", "h", "z", "5.0e3"], ["HINCRBYFLOAT", "h", "z", "-5000"], sorted ["HGETALL", "h"],
        ["HINCRBYFLOAT", "h", "k", "1.000000000000000000001"], ["HGET", "h", "k"]
    ),
    case!("wrong type",
        ["SET", "s", "v"], ["HSET", "s", "f", "v"], ["HGET", "s", "f"], ["HMGET", "s", "f"], ["HDEL", "s", "f"],
        ["HLEN", "s"], ["HGETALL", "s"], ["HKEYS", "s"], ["HVALS", "s"], ["HEXISTS", "s", "f"],
        ["HSETNX", "s", "f", "v"], ["HINCRBY", "s", "f", "1"], ["HINCRBYFLOAT", "s", "f", "1"],
        ["HSTRLEN", "s", "f"], ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "2"], ["HSCAN", "s", "0"],
        ["HSET", "h", "f", "v"], ["GET", "h"], ["GETSET", "h", "v"], ["SET", "h", "v", "GET"],
        ["SET", "h", "v", "NX"], ["SETNX", "h", "v"], ["MGET", "h", "s"], ["INCR", "h"], ["INCRBY", "h", "2"],
        ["DECR", "h"], ["INCRBYFLOAT", "h", "1"], ["APPEND", "h", "x"], ["STRLEN", "h"], ["GETRANGE", "h", "0", "1"],
        ["SETRANGE", "h", "0", "x"], ["SETRANGE", "h", "0", ""], ["GETDEL", "h"], ["GETEX", "h"],
        ["GETEX", "h", "PERSIST"], ["TYPE", "h"], ["HGETALL", "h"], ["SET", "h", "now-a-string"], ["GET", "h"],
        ["TYPE", "h"], ["HSET", "h", "f", "v"]
    ),
    case!("generic commands on hashes",
        ["HSET", "{h}1", "a", "1", "b", "2"], ["EXISTS", "{h}1"], ["EXPIRE", "{h}1", "100"], ttl ["TTL", "{h}1"],
        ["RENAME", "{h}1", "{h}2"], ["HGETALL", "{h}2"], ttl ["TTL", "{h}2"], ["EXISTS", "{h}1"],
        ["COPY", "{h}2", "{h}3"], ["HSET", "{h}3", "c", "3"], ["HGETALL", "{h}2"], ["HGETALL", "{h}3"],
        ["COPY", "{h}2", "{h}3"], ["COPY", "{h}2", "{h}3", "REPLACE"], ["HGETALL", "{h}3"], ["PERSIST", "{h}3"],
        ["SET", "{h}s", "v"], ["RENAME", "{h}s", "{h}2"], ["TYPE", "{h}2"], ["GET", "{h}2"],
        ["RENAME", "{h}3", "{h}2"], ["HGETALL", "{h}2"], ["TYPE", "{h}3"], ["DEL", "{h}2"], ["EXISTS", "{h}2"],
        ["HSET", "{h}4", "f", "v"], ["EXPIRE", "{h}4", "1"], ["OBJECT", "ENCODING", "{h}4"],
        ["HSET", "{h}4", "g", "w"], ttl ["TTL", "{h}4"], ["RENAMENX", "{h}4", "{h}5"], ["HLEN", "{h}5"]
    ),
    case!("a hash expires",
        ["HSET", "h", "f", "v"], ["PEXPIRE", "h", "50"], sleep [120], ["HGET", "h", "f"], ["EXISTS", "h"],
        ["HSET", "h", "g", "w"], ["HGETALL", "h"], ["TTL", "h"], ["HSET", "h2", "f", "v"], ["PEXPIRE", "h2", "50"],
        sleep [120], ["HINCRBY", "h2", "n", "1"], ["HGETALL", "h2"], ["TTL", "h2"]
    ),
    case!("hashtable by value length",
        ["HSET", "h", "f", X100], ["OBJECT", "ENCODING", "h"], ["HGET", "h", "f"], ["HSET", "h", X100, "v"],
        ["HGET", "h", X100], ["HSTRLEN", "h", "f"], sorted ["HGETALL", "h"], ["HSET", "p", "f", X44],
        ["OBJECT", "ENCODING", "p"], ["HDEL", "h", "f", X100], ["EXISTS", "h"],
        ["HSET", "h", "a", X100, "b", "1"], ["HDEL", "h", "a"], ["OBJECT", "ENCODING", "h"], ["HGETALL", "h"]
    ),
    case!("hrandfield",
        ["HRANDFIELD", "nokey"], ["HRANDFIELD", "nokey", "3"], ["HRANDFIELD", "nokey", "-3", "WITHVALUES"],
        ["HSET", "h", "only", "one"], ["HRANDFIELD", "h"], ["HRANDFIELD", "h", "1"], ["HRANDFIELD", "h", "5"],
        ["HRANDFIELD", "h", "-3"], ["HRANDFIELD", "h", "-2", "WITHVALUES"], ["HRANDFIELD", "h", "0"],
        ["HRANDFIELD", "h", "0", "WITHVALUES"], ["HRANDFIELD", "h", "1", "withvalues"],
        ["HRANDFIELD", "h", "1", "WITHVALUES", "x"], ["HRANDFIELD", "h", "1", "foo"], ["HRANDFIELD", "h", "x"],
        ["HRANDFIELD", "h", "-9223372036854775808"], ["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"],
        ["HRANDFIELD", "h", "9223372036854775807"], ["HSET", "h", "a", "1", "b", "2", "c", "3"], ["HDEL", "h", "only"],
        shape ["HRANDFIELD", "h"], shape ["HRANDFIELD", "h", "2"], shape ["HRANDFIELD", "h", "-7"],
        shape ["HRANDFIELD", "h", "-7", "WITHVALUES"], shape ["HRANDFIELD", "h", "3", "WITHVALUES"],
        sorted ["HRANDFIELD", "h", "4"], sorted ["HRANDFIELD", "h", "100", "WITHVALUES"]
    ),
    case!("hscan",
        ["HSCAN", "nokey", "0"], ["HSET", "h", "a", "1", "b", "2", "ab", "3"], ["HSCAN", "h", "0"],
        ["HSCAN", "h", "0", "MATCH", "a*"], ["HSCAN", "h", "0", "match", "*"], ["HSCAN", "h", "0", "COUNT", "1"],
        ["HSCAN", "h", "0", "COUNT", "0"], ["HSCAN", "h", "0", "COUNT", "-1"], ["HSCAN", "h", "0", "COUNT", "x"],
        ["HSCAN", "h", "0", "TYPE", "string"], ["HSCAN", "h", "0", "MATCH"], ["HSCAN", "h", "0", "FOO", "bar"],
        ["HSCAN", "h", "x"], ["HSCAN", "h", "-1"], ["HSCAN", "h", "18446744073709551615"],
        ["HSCAN", "h", "18446744073709551616"], ["HSCAN", "h", ""], ["HSCAN", "h", "+0"]
    ),
    case!("resp3 replies",
        shape ["HELLO", "3"], ["HSET", "h", "f", "v", "g", "w"], ["HGETALL", "h"], ["HGETALL", "nokey"],
        ["HKEYS", "h"], ["HMGET", "h", "f", "x"], ["HGET", "h", "x"], ["HRANDFIELD", "nokey"],
        ["HRANDFIELD", "nokey", "2", "WITHVALUES"], ["HDEL", "h", "g"], ["HRANDFIELD", "h", "1", "WITHVALUES"],
        ["HRANDFIELD", "h", "-2", "WITHVALUES"], ["HRANDFIELD", "h", "-2"], ["HSCAN", "h", "0"],
        ["HINCRBYFLOAT", "h", "n", "1.5"]
    ),
];

#[rustfmt::skip]
static SETS: &[Case] = &[
    case!("sadd srem smembers",
        ["SADD", "s", "b", "a", "c", "a"], ["SCARD", "s"], sorted ["SMEMBERS", "s"], ["SISMEMBER", "s", "a"],
        ["SISMEMBER", "s", "z"], ["SISMEMBER", "nokey", "a"], ["SMISMEMBER", "s", "a", "z", "c"],
        ["SMISMEMBER", "nokey", "a"], ["SREM", "s", "a", "z", "a"], ["SREM", "nokey", "a"], ["SCARD", "nokey"],
        ["SMEMBERS", "nokey"], ["TYPE", "s"], ["OBJECT", "ENCODING", "s"], ["SREM", "s", "b", "c"], ["EXISTS", "s"]
    ),
    case!("intset",
        ["SADD", "s", "3", "-1", "100", "0", "3"], ["SMEMBERS", "s"], ["OBJECT", "ENCODING", "s"],
        ["SADD", "s", "9223372036854775807", "-9223372036854775808"], ["SMEMBERS", "s"], ["SISMEMBER", "s", "100"],
        ["SISMEMBER", "s", "0100"], ["SISMEMBER", "s", "+3"], ["SADD", "s", "007"], ["OBJECT", "ENCODING", "s"],
        sorted ["SMEMBERS", "s"], ["SADD", "t", "-0"], ["OBJECT", "ENCODING", "t"], ["SADD", "u", "1"],
        ["SREM", "u", "1"], ["EXISTS", "u"], ["SADD", "v", "10", "2"], ["SREM", "v", "2"], ["SMEMBERS", "v"],
        ["OBJECT", "ENCODING", "v"]
    ),
    case!("set arity",
        ["SADD", "s"], ["SREM", "s"], ["SMEMBERS"], ["SISMEMBER", "s"], ["SMISMEMBER", "s"], ["SCARD"],
        ["SPOP"], ["SRANDMEMBER"], ["SMOVE", "a", "b"], ["SINTER"], ["SINTERSTORE", "d"], ["SUNION"], ["SDIFF"],
        ["SINTERCARD", "1"], ["SSCAN", "s"], ["SPOP", "s", "1", "2"], ["SRANDMEMBER", "s", "1", "2"]
    ),
    case!("binary members",
        ["SADD", "s", "", "a\0b", "\r\n", "\u{ff}"], ["SCARD", "s"], sorted ["SMEMBERS", "s"], ["SISMEMBER", "s", ""],
        ["SISMEMBER", "s", "a\0b"], ["SREM", "s", ""], ["SISMEMBER", "s", ""]
    ),
    case!("spop",
        ["SPOP", "nokey"], ["SPOP", "nokey", "3"], ["SPOP", "nokey", "0"], ["SADD", "s", "only"], ["SPOP", "s"],
        ["EXISTS", "s"], ["SADD", "s", "a"], ["SPOP", "s", "1"], ["EXISTS", "s"], ["SADD", "s", "1", "2", "3"],
        ["SPOP", "s", "0"], ["SPOP", "s", "-1"], ["SPOP", "s", "x"], ["SPOP", "s", "1.5"], ["SCARD", "s"],
        shape ["SPOP", "s"], ["SCARD", "s"], shape ["SPOP", "s", "1"], ["SCARD", "s"], ["DEL", "s"],
        ["SADD", "s", "5", "6", "-7"], sorted ["SPOP", "s", "10"], ["EXISTS", "s"], ["SADD", "t", "x", "y", "z"], shape ["SPOP", "t", "2"],
        ["SCARD", "t"], ["SET", "str", "v"], ["SPOP", "str"], ["SPOP", "str", "2"]
    ),
    case!("srandmember",
        ["SRANDMEMBER", "nokey"], ["SRANDMEMBER", "nokey", "3"], ["SRANDMEMBER", "nokey", "-3"],
        ["SADD", "s", "only"], ["SRANDMEMBER", "s"], ["SRANDMEMBER", "s", "1"], ["SRANDMEMBER", "s", "5"],
        ["SRANDMEMBER", "s", "-3"], ["SRANDMEMBER", "s", "0"], ["SRANDMEMBER", "s", "x"],
        ["SRANDMEMBER", "s", "-9223372036854775808"], ["SADD", "s", "a", "b"], shape ["SRANDMEMBER", "s"],
        shape ["SRANDMEMBER", "s", "2"], shape ["SRANDMEMBER", "s", "-5"], sorted ["SRANDMEMBER", "s", "3"],
        sorted ["SRANDMEMBER", "s", "100"], ["SCARD", "s"], ["SADD", "i", "1", "2", "3"],
        ["SRANDMEMBER", "i", "3"], ["SRANDMEMBER", "i", "30"]
    ),
    case!("smove",
        ["SADD", "{s}a", "1", "2"], ["SADD", "{s}b", "x"], ["SMOVE", "{s}a", "{s}b", "1"], ["SMOVE", "{s}a", "{s}b", "9"],
        ["SMEMBERS", "{s}a"], sorted ["SMEMBERS", "{s}b"], ["SMOVE", "{s}a", "{s}a", "2"], ["SMOVE", "{s}a", "{s}a", "9"],
        ["SMOVE", "{s}a", "{s}c", "2"], ["EXISTS", "{s}a"], ["SMEMBERS", "{s}c"], ["SMOVE", "{s}nokey", "{s}c", "2"],
        ["SET", "{s}str", "v"], ["SMOVE", "{s}c", "{s}str", "2"], ["SMOVE", "{s}str", "{s}c", "2"],
        ["SMOVE", "{s}nokey", "{s}str", "2"], ["SMEMBERS", "{s}c"]
    ),
    case!("set algebra",
        ["SADD", "{s}a", "1", "2", "3", "4"], ["SADD", "{s}b", "3", "4", "5"], ["SADD", "{s}c", "x", "3"],
        ["SINTER", "{s}a", "{s}b"], ["SUNION", "{s}a", "{s}b"], ["SDIFF", "{s}a", "{s}b"], ["SDIFF", "{s}b", "{s}a"],
        ["SINTER", "{s}a", "{s}c"], sorted ["SUNION", "{s}a", "{s}c"], ["SDIFF", "{s}a", "{s}c", "{s}b"],
        ["SINTER", "{s}a", "{s}nokey"], ["SUNION", "{s}nokey", "{s}a"], ["SDIFF", "{s}nokey", "{s}a"],
        ["SDIFF", "{s}a", "{s}nokey"], ["SINTER", "{s}a"], ["SUNION", "{s}nokey"],
        ["SINTERSTORE", "{s}d", "{s}a", "{s}b"], ["SMEMBERS", "{s}d"], ["OBJECT", "ENCODING", "{s}d"],
        ["SUNIONSTORE", "{s}d", "{s}a", "{s}c"], sorted ["SMEMBERS", "{s}d"], ["SDIFFSTORE", "{s}d", "{s}a", "{s}b"],
        ["SMEMBERS", "{s}d"], ["SINTERSTORE", "{s}d", "{s}a", "{s}nokey"], ["EXISTS", "{s}d"],
        ["SET", "{s}str", "v"], ["SINTER", "{s}a", "{s}str"], ["SINTER", "{s}nokey", "{s}str"],
        ["SUNION", "{s}a", "{s}str"], ["SDIFF", "{s}str", "{s}a"], ["SDIFF", "{s}nokey", "{s}str"],
        ["SINTERSTORE", "{s}str", "{s}a", "{s}b"], ["TYPE", "{s}str"], ["SMEMBERS", "{s}str"],
        ["SUNIONSTORE", "{s}a", "{s}a", "{s}b"], ["SMEMBERS", "{s}a"], ["EXPIRE", "{s}a", "100"],
        ["SINTERSTORE", "{s}a", "{s}a", "{s}b"], ["TTL", "{s}a"]
    ),
    case!("sintercard",
        ["SADD", "{s}a", "1", "2", "3", "x"], ["SADD", "{s}b", "2", "3", "x", "y"], ["SINTERCARD", "2", "{s}a", "{s}b"],
        ["SINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "2"], ["SINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "0"],
        ["SINTERCARD", "2", "{s}a", "{s}b", "limit", "100"], ["SINTERCARD", "1", "{s}a"],
        ["SINTERCARD", "2", "{s}a", "{s}nokey"], ["SINTERCARD", "0", "{s}a"], ["SINTERCARD", "-1", "{s}a"],
        ["SINTERCARD", "x", "{s}a"], ["SINTERCARD", "3", "{s}a", "{s}b"], ["SINTERCARD", "1", "{s}a", "LIMIT", "-1"],
        ["SINTERCARD", "1", "{s}a", "LIMIT", "x"], ["SINTERCARD", "1", "{s}a", "LIMIT"],
        ["SINTERCARD", "1", "{s}a", "FOO", "1"], ["SINTERCARD", "1", "{s}a", "{s}b"], ["SET", "{s}str", "v"],
        ["SINTERCARD", "2", "{s}a", "{s}str"]
    ),
    case!("set wrong type",
        ["SET", "str", "v"], ["SADD", "str", "a"], ["SREM", "str", "a"], ["SMEMBERS", "str"], ["SISMEMBER", "str", "a"],
        ["SMISMEMBER", "str", "a"], ["SCARD", "str"], ["SRANDMEMBER", "str"], ["SRANDMEMBER", "str", "2"],
        ["SSCAN", "str", "0"], ["SADD", "s", "a"], ["GET", "s"], ["HGET", "s", "a"], ["HSET", "s", "f", "v"],
        ["INCR", "s"], ["APPEND", "s", "x"], ["HSET", "h", "f", "v"], ["SADD", "h", "x"], ["SCARD", "h"],
        ["TYPE", "s"], ["TYPE", "h"]
    ),
    case!("generic commands on sets",
        ["SADD", "{s}1", "a", "b"], ["RENAME", "{s}1", "{s}2"], sorted ["SMEMBERS", "{s}2"], ["COPY", "{s}2", "{s}3"],
        ["SADD", "{s}3", "c"], ["SCARD", "{s}2"], ["SCARD", "{s}3"], ["EXPIRE", "{s}3", "100"], ttl ["TTL", "{s}3"],
        ["DEL", "{s}2"], ["EXISTS", "{s}2"], ["SADD", "{s}4", "1"], ["PEXPIRE", "{s}4", "30"], sleep [100],
        ["SISMEMBER", "{s}4", "1"], ["SADD", "{s}4", "2"], ["SMEMBERS", "{s}4"], ["TTL", "{s}4"]
    ),
    case!("sscan",
        ["SSCAN", "nokey", "0"], ["SADD", "s", "1", "2", "3"], ["SSCAN", "s", "0"], ["SSCAN", "s", "0", "MATCH", "1*"],
        ["SSCAN", "s", "0", "COUNT", "0"], ["SSCAN", "s", "x"], ["SSCAN", "s", "0", "TYPE", "set"],
        ["SADD", "t", "a"], ["SSCAN", "t", "0", "MATCH", "*"]
    ),
    case!("resp3 set replies",
        shape ["HELLO", "3"], ["SADD", "{s}s", "1", "2"], ["SMEMBERS", "{s}s"], ["SMEMBERS", "nokey"],
        ["SINTER", "{s}s", "{s}nokey"], ["SUNION", "{s}s"], ["SDIFF", "{s}s"], ["SINTERCARD", "1", "{s}s"], ["SRANDMEMBER", "s", "5"],
        ["SRANDMEMBER", "nokey", "5"], ["SPOP", "nokey", "5"], ["SMISMEMBER", "{s}s", "1", "9"],
        ["SPOP", "{s}s", "5"], ["SPOP", "{s}s", "0"], ["SSCAN", "nokey", "0"], ["SADD", "s", "x"], ["SPOP", "s"],
        ["SADD", "s", "x"], ["SPOP", "s", "1"], ["SADD", "s", "x"], ["SRANDMEMBER", "s"], ["SRANDMEMBER", "s", "1"]
    ),
];

#[rustfmt::skip]
static ZSETS: &[Case] = &[
    case!("zadd basics",
        ["ZADD", "z", "1", "a", "2", "b", "1.5", "c"], ["ZCARD", "z"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        ["ZADD", "z", "3", "a"], ["ZSCORE", "z", "a"], ["ZSCORE", "z", "nope"], ["ZSCORE", "nokey", "a"],
        ["ZADD", "z", "1.1", "d", "-0", "e", "1e300", "f", "-inf", "g", "+inf", "h"],
        ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZMSCORE", "z", "a", "nope", "d", "g"], ["ZMSCORE", "nokey", "a"],
        ["TYPE", "z"], ["OBJECT", "ENCODING", "z"], ["ZADD", "z", "1", "a", "1", "a"], ["ZCARD", "nokey"]
    ),
    case!("zadd flags",
        ["ZADD", "z", "NX", "1", "a"], ["ZADD", "z", "NX", "2", "a", "2", "b"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        ["ZADD", "z", "XX", "5", "a", "5", "c"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZADD", "z", "CH", "6", "a", "2", "b", "7", "d"],
        ["ZADD", "z", "GT", "CH", "1", "a", "10", "b"], ["ZADD", "z", "LT", "CH", "1", "a", "20", "b"],
        ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZADD", "z", "GT", "100", "new"], ["ZADD", "z", "XX", "NX", "1", "a"],
        ["ZADD", "z", "GT", "LT", "1", "a"], ["ZADD", "z", "NX", "GT", "1", "a"], ["ZADD", "z", "INCR", "1", "a", "2", "b"],
        ["ZADD", "z", "1"], ["ZADD", "z", "1", "a", "2"], ["ZADD", "z", "x", "a"], ["ZADD", "z", "nan", "a"],
        ["ZADD", "z", "1", "a", "y", "b"], ["ZADD", "z", "FOO", "1", "a"], ["ZADD", "z"], ["ZADD", "z", "NX"],
        ["ZADD", "xx", "XX", "1", "a"], ["EXISTS", "xx"], ["ZADD", "z", "INCR", "2.5", "a"], ["ZADD", "z", "INCR", "NX", "1", "a"],
        ["ZADD", "z", "INCR", "XX", "1", "zz"], ["ZADD", "z", "INCR", "GT", "-1", "a"], ["ZADD", "z", "INCR", "LT", "-1", "a"],
        ["ZADD", "z", "1e400", "a"], ["ZADD", "z", "1e-400", "a"], ["ZADD", "z", " 1", "a"], ["ZADD", "z", "0x10", "hex"]
    ),
    case!("zincrby",
        ["ZINCRBY", "z", "1.5", "a"], ["ZINCRBY", "z", "-0.5", "a"], ["ZINCRBY", "z", "x", "a"],
        ["ZADD", "z", "+inf", "i"], ["ZINCRBY", "z", "-inf", "i"], ["ZINCRBY", "z", "1", "i"], ["ZINCRBY", "z", "0.1", "a"],
        ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZINCRBY", "z"], ["ZINCRBY", "z", "1", "a", "b"]
    ),
    case!("zrem zrank",
        ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZRANK", "z", "a"], ["ZRANK", "z", "c"], ["ZREVRANK", "z", "a"],
        ["ZRANK", "z", "nope"], ["ZRANK", "nokey", "a"], ["ZREM", "z", "a", "nope", "a"], ["ZREM", "nokey", "a"],
        ["ZRANK", "z", "b"], ["ZREM", "z", "b", "c"], ["EXISTS", "z"], ["ZREM", "z"], ["ZRANK", "z"]
    ),
    case!("zcount zlexcount",
        ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZCOUNT", "z", "-inf", "+inf"], ["ZCOUNT", "z", "2", "3"],
        ["ZCOUNT", "z", "(2", "3"], ["ZCOUNT", "z", "(2", "(3"], ["ZCOUNT", "z", "3", "2"], ["ZCOUNT", "z", "x", "3"],
        ["ZCOUNT", "z", "(", "3"], ["ZCOUNT", "z", "", "3"], ["ZCOUNT", "z", " 2", "1e400"],
        ["ZCOUNT", "z", "(0x1", "0x3"], ["ZCOUNT", "z", "nan", "1"], ["ZCOUNT", "z", "2 ", "3"], ["ZCOUNT", "nokey", "0", "1"], ["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"],
        ["ZLEXCOUNT", "l", "-", "+"], ["ZLEXCOUNT", "l", "[b", "[c"], ["ZLEXCOUNT", "l", "(b", "[c"], ["ZLEXCOUNT", "l", "(a", "(d"],
        ["ZLEXCOUNT", "l", "b", "c"], ["ZLEXCOUNT", "l", "+", "-"], ["ZLEXCOUNT", "l", "[", "[c"], ["ZLEXCOUNT", "nokey", "-", "+"]
    ),
    case!("zrange by rank",
        ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZRANGE", "z", "0", "-1"], ["ZRANGE", "z", "1", "2"],
        ["ZRANGE", "z", "-2", "-1", "WITHSCORES"], ["ZRANGE", "z", "2", "1"], ["ZRANGE", "z", "5", "10"], ["ZRANGE", "z", "-100", "100"],
        ["ZRANGE", "z", "0", "1", "REV"], ["ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"], ["ZREVRANGE", "z", "0", "1"],
        ["ZREVRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "a", "1"], ["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
        ["ZRANGE", "z", "0", "1", "FOO"], ["ZRANGE", "nokey", "0", "-1"], ["ZREVRANGE", "z", "0", "1", "REV"]
    ),
    case!("zrange by score",
        ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "4", "e"], ["ZRANGEBYSCORE", "z", "-inf", "+inf"],
        ["ZRANGEBYSCORE", "z", "2", "4", "WITHSCORES"], ["ZRANGEBYSCORE", "z", "(2", "(4"], ["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "1", "2"],
        ["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "1", "-1"], ["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "-1", "2"],
        ["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "10", "2"], ["ZREVRANGEBYSCORE", "z", "4", "2"], ["ZREVRANGEBYSCORE", "z", "2", "4"],
        ["ZREVRANGEBYSCORE", "z", "+inf", "(1", "WITHSCORES", "LIMIT", "0", "2"], ["ZRANGE", "z", "(1", "3", "BYSCORE"],
        ["ZRANGE", "z", "3", "(1", "BYSCORE", "REV"], ["ZRANGE", "z", "1", "4", "BYSCORE", "LIMIT", "1", "2", "WITHSCORES"],
        ["ZRANGEBYSCORE", "z", "a", "2"], ["ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "1"], ["ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "x", "1"],
        ["ZRANGEBYSCORE", "z", "1", "2", "WITHSCORES", "FOO"], ["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]
    ),
    case!("zrange by lex",
        ["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"], ["ZRANGEBYLEX", "l", "-", "+"], ["ZRANGEBYLEX", "l", "[b", "(d"],
        ["ZRANGEBYLEX", "l", "(b", "+", "LIMIT", "1", "2"], ["ZREVRANGEBYLEX", "l", "+", "-"], ["ZREVRANGEBYLEX", "l", "[d", "(a", "LIMIT", "0", "2"],
        ["ZRANGE", "l", "[b", "[d", "BYLEX"], ["ZRANGE", "l", "[d", "[b", "BYLEX", "REV"], ["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"],
        ["ZRANGEBYLEX", "l", "b", "d"], ["ZRANGEBYLEX", "l", "+", "-"], ["ZRANGEBYLEX", "nokey", "-", "+"]
    ),
    case!("zrangestore",
        ["ZADD", "{z}s", "1", "a", "2", "b", "3", "c"], ["ZRANGESTORE", "{z}d", "{z}s", "0", "1"], ["ZRANGE", "{z}d", "0", "-1", "WITHSCORES"],
        ["ZRANGESTORE", "{z}d", "{z}s", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1"], ["ZRANGE", "{z}d", "0", "-1", "WITHSCORES"],
        ["ZRANGESTORE", "{z}d", "{z}s", "5", "10"], ["EXISTS", "{z}d"], ["ZRANGESTORE", "{z}d", "{z}nokey", "0", "-1"],
        ["ZRANGESTORE", "{z}d", "{z}s", "0", "1", "WITHSCORES"], ["SET", "{z}str", "v"], ["ZRANGESTORE", "{z}str", "{z}s", "0", "0"],
        ["TYPE", "{z}str"], ["ZRANGESTORE", "{z}d", "{z}str", "0", "0"]
    ),
    case!("zremrange",
        ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"], ["ZREMRANGEBYRANK", "z", "0", "1"], ["ZRANGE", "z", "0", "-1"],
        ["ZREMRANGEBYSCORE", "z", "(3", "4"], ["ZRANGE", "z", "0", "-1"], ["ZADD", "z", "0", "x", "0", "y"],
        ["ZREMRANGEBYLEX", "z", "[x", "[x"], ["ZRANGE", "z", "0", "-1"], ["ZREMRANGEBYRANK", "z", "0", "-1"], ["EXISTS", "z"],
        ["ZREMRANGEBYRANK", "nokey", "0", "1"], ["ZREMRANGEBYSCORE", "z", "x", "1"], ["ZREMRANGEBYLEX", "z", "x", "y"],
        ["ZREMRANGEBYRANK", "z", "a", "1"]
    ),
    case!("zpop",
        ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZPOPMIN", "z"], ["ZPOPMAX", "z"], ["ZPOPMIN", "z", "1"],
        ["ZPOPMAX", "z", "5"], ["EXISTS", "z"], ["ZPOPMIN", "z"], ["ZPOPMIN", "z", "2"], ["ZPOPMIN", "z", "0"],
        ["ZPOPMIN", "z", "-1"], ["ZPOPMIN", "z", "x"], ["ZPOPMAX", "z", "1", "2"], ["ZADD", "z", "1", "a"], ["ZPOPMIN", "z", "0"],
        ["ZCARD", "z"]
    ),
    case!("zmpop",
        ["ZADD", "{z}b", "1", "a", "2", "b", "3", "c"], ["ZMPOP", "2", "{z}a", "{z}b", "MIN"], ["ZMPOP", "2", "{z}a", "{z}b", "MAX", "COUNT", "5"],
        ["ZMPOP", "2", "{z}a", "{z}b", "MIN"], ["ZMPOP", "0", "{z}a", "MIN"], ["ZMPOP", "1", "{z}a", "FOO"], ["ZMPOP", "1", "{z}a", "MIN", "COUNT", "0"],
        ["ZMPOP", "1", "{z}a", "MIN", "COUNT"], ["ZMPOP", "3", "{z}a", "MIN"], ["ZMPOP", "x", "{z}a", "MIN"], ["ZMPOP", "1", "{z}a"]
    ),
    case!("zrandmember",
        ["ZRANDMEMBER", "nokey"], ["ZRANDMEMBER", "nokey", "2"], ["ZADD", "z", "1", "only"], ["ZRANDMEMBER", "z"],
        ["ZRANDMEMBER", "z", "3"], ["ZRANDMEMBER", "z", "-2", "WITHSCORES"], ["ZRANDMEMBER", "z", "0"], ["ZRANDMEMBER", "z", "1", "x"],
        ["ZRANDMEMBER", "z", "x"], ["ZADD", "z", "1", "a", "1", "b"], shape ["ZRANDMEMBER", "z", "-5", "WITHSCORES"],
        sorted ["ZRANDMEMBER", "z", "10"], shape ["ZRANDMEMBER", "z", "2"]
    ),
    case!("zset algebra",
        ["ZADD", "{z}a", "1", "x", "2", "y", "3", "z"], ["ZADD", "{z}b", "10", "y", "20", "z", "30", "w"], ["SADD", "{z}s", "x", "q"],
        ["ZUNION", "2", "{z}a", "{z}b", "WITHSCORES"], ["ZINTER", "2", "{z}a", "{z}b", "WITHSCORES"], ["ZDIFF", "2", "{z}a", "{z}b", "WITHSCORES"],
        ["ZUNION", "2", "{z}a", "{z}b", "WEIGHTS", "2", "0.5", "WITHSCORES"], ["ZINTER", "2", "{z}a", "{z}b", "AGGREGATE", "MAX", "WITHSCORES"],
        ["ZINTER", "2", "{z}a", "{z}b", "AGGREGATE", "MIN"], ["ZUNION", "2", "{z}a", "{z}s", "WITHSCORES"], ["ZINTER", "2", "{z}a", "{z}s"],
        ["ZUNION", "2", "{z}a", "{z}nokey"], ["ZINTER", "2", "{z}a", "{z}nokey"], ["ZDIFF", "1", "{z}nokey"],
        ["ZUNIONSTORE", "{z}d", "2", "{z}a", "{z}b"], ["ZRANGE", "{z}d", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "{z}d", "2", "{z}a", "{z}b", "WEIGHTS", "1", "-1"],
        ["ZRANGE", "{z}d", "0", "-1", "WITHSCORES"], ["ZDIFFSTORE", "{z}d", "2", "{z}a", "{z}b"], ["ZRANGE", "{z}d", "0", "-1", "WITHSCORES"],
        ["ZINTERSTORE", "{z}d", "2", "{z}a", "{z}nokey"], ["EXISTS", "{z}d"], ["ZUNIONSTORE", "{z}d", "0", "{z}a"], ["ZUNION", "0", "{z}a"],
        ["ZUNION", "3", "{z}a", "{z}b"], ["ZUNION", "2", "{z}a", "{z}b", "WEIGHTS", "1"], ["ZUNION", "2", "{z}a", "{z}b", "WEIGHTS", "1", "x"],
        ["ZUNION", "2", "{z}a", "{z}b", "AGGREGATE", "FOO"], ["ZDIFF", "2", "{z}a", "{z}b", "WEIGHTS", "1", "1"],
        ["ZUNIONSTORE", "{z}d", "1", "{z}a", "WITHSCORES"], ["ZUNION", "x", "{z}a"], ["SET", "{z}str", "v"], ["ZUNION", "2", "{z}a", "{z}str"],
        ["ZADD", "{z}i", "+inf", "m"], ["ZADD", "{z}j", "-inf", "m"], ["ZUNION", "2", "{z}i", "{z}j", "WITHSCORES"],
        ["ZINTERCARD", "2", "{z}a", "{z}b"], ["ZINTERCARD", "2", "{z}a", "{z}b", "LIMIT", "1"], ["ZINTERCARD", "0", "{z}a"],
        ["ZINTERCARD", "2", "{z}a"], ["ZINTERCARD", "1", "{z}a", "LIMIT", "-1"], ["ZINTERCARD", "1", "{z}a", "FOO", "1"]
    ),
    case!("zset wrong type",
        ["SET", "str", "v"], ["ZADD", "str", "1", "a"], ["ZINCRBY", "str", "1", "a"], ["ZREM", "str", "a"], ["ZCARD", "str"],
        ["ZSCORE", "str", "a"], ["ZMSCORE", "str", "a"], ["ZRANK", "str", "a"], ["ZCOUNT", "str", "0", "1"], ["ZRANGE", "str", "0", "1"],
        ["ZRANGEBYSCORE", "str", "0", "1"], ["ZPOPMIN", "str"], ["ZRANDMEMBER", "str"], ["ZSCAN", "str", "0"],
        ["ZREMRANGEBYRANK", "str", "0", "1"], ["ZADD", "z", "1", "a"], ["GET", "z"], ["SADD", "z", "a"], ["HGET", "z", "a"],
        ["TYPE", "z"], ["SET", "{z}str", "v"], ["ZADD", "{z}z", "1", "a"], ["ZUNION", "2", "{z}z", "{z}str"],
        ["ZUNION", "2", "{z}str", "{z}nokey"], ["ZINTERCARD", "2", "{z}z", "{z}str"]
    ),
    case!("zscan and generic",
        ["ZSCAN", "nokey", "0"], ["ZADD", "{z}z", "1", "a", "2.5", "b", "-inf", "c"], ["ZSCAN", "{z}z", "0"], ["ZSCAN", "{z}z", "0", "MATCH", "a*"],
        ["ZSCAN", "{z}z", "x"], ["RENAME", "{z}z", "{z}y"], ["ZRANGE", "{z}y", "0", "-1", "WITHSCORES"], ["COPY", "{z}y", "{z}c"],
        ["ZADD", "{z}c", "9", "n"], ["ZCARD", "{z}y"], ["ZCARD", "{z}c"], ["EXPIRE", "{z}c", "100"], ttl ["TTL", "{z}c"]
    ),
    case!("resp3 zset replies",
        shape ["HELLO", "3"], ["ZADD", "{z}z", "1", "a", "2.5", "b"], ["ZSCORE", "{z}z", "a"], ["ZMSCORE", "{z}z", "a", "x"],
        ["ZRANGE", "{z}z", "0", "-1", "WITHSCORES"], ["ZRANGE", "{z}z", "0", "-1"], ["ZINCRBY", "{z}z", "1", "a"],
        ["ZADD", "{z}z", "INCR", "1", "a"], ["ZADD", "{z}z", "NX", "INCR", "1", "a"], shape ["ZRANDMEMBER", "{z}z", "1", "WITHSCORES"],
        sorted ["ZRANDMEMBER", "{z}z", "5", "WITHSCORES"],
        ["ZUNION", "1", "{z}z", "WITHSCORES"], ["ZSCAN", "{z}z", "0"], ["ZPOPMIN", "{z}z"], ["ZPOPMAX", "{z}z", "2"],
        ["ZADD", "{z}z", "1", "a"], ["ZMPOP", "1", "{z}z", "MIN"], ["ZMPOP", "1", "{z}z", "MIN"], ["ZPOPMIN", "{z}z"],
        ["ZPOPMIN", "{z}z", "1"]
    ),
];

#[rustfmt::skip]
static LISTS: &[Case] = &[
    case!("push pop",
        ["LPUSH", "l", "a", "b", "c"], ["RPUSH", "l", "x", "y"], ["LRANGE", "l", "0", "-1"], ["LLEN", "l"], ["LLEN", "nokey"],
        ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "2"], ["RPOP", "l", "1"], ["LPOP", "l", "0"], ["LRANGE", "l", "0", "-1"],
        ["LPOP", "l", "10"], ["EXISTS", "l"], ["LPOP", "nokey"], ["LPOP", "nokey", "2"], ["RPOP", "nokey", "0"],
        ["LPOP", "l", "-1"], ["LPOP", "l", "x"], ["LPOP", "l", "1", "2"], ["LPUSHX", "l", "a"], ["RPUSHX", "l", "a"],
        ["EXISTS", "l"], ["RPUSH", "l", "1"], ["LPUSHX", "l", "0", "-1"], ["RPUSHX", "l", "2"], ["LRANGE", "l", "0", "-1"],
        ["TYPE", "l"], ["OBJECT", "ENCODING", "l"], ["LPUSH", "l"], ["RPUSH"], ["LPOP"]
    ),
    case!("index range",
        ["RPUSH", "l", "a", "b", "c", "d", "e"], ["LINDEX", "l", "0"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "5"], ["LINDEX", "l", "-6"],
        ["LINDEX", "l", "x"], ["LINDEX", "nokey", "0"], ["LRANGE", "l", "1", "3"], ["LRANGE", "l", "-2", "-1"], ["LRANGE", "l", "-100", "100"],
        ["LRANGE", "l", "3", "1"], ["LRANGE", "l", "5", "10"], ["LRANGE", "l", "-1", "-2"], ["LRANGE", "l", "0", "x"], ["LRANGE", "nokey", "0", "-1"]
    ),
    case!("lset ltrim",
        ["RPUSH", "l", "a", "b", "c", "d", "e"], ["LSET", "l", "0", "A"], ["LSET", "l", "-1", "E"], ["LSET", "l", "5", "x"],
        ["LSET", "l", "-6", "x"], ["LSET", "nokey", "0", "x"], ["LSET", "l", "x", "y"], ["LRANGE", "l", "0", "-1"],
        ["LTRIM", "l", "1", "-2"], ["LRANGE", "l", "0", "-1"], ["LTRIM", "l", "0", "0"], ["LRANGE", "l", "0", "-1"], ["LTRIM", "l", "5", "10"],
        ["EXISTS", "l"], ["LTRIM", "nokey", "0", "1"], ["RPUSH", "l", "a", "b"], ["LTRIM", "l", "-1", "-2"], ["EXISTS", "l"], ["LTRIM", "l", "a", "1"]
    ),
    case!("linsert lrem",
        ["RPUSH", "l", "a", "b", "a", "c", "a"], ["LINSERT", "l", "BEFORE", "a", "x"], ["LINSERT", "l", "after", "c", "y"],
        ["LINSERT", "l", "BEFORE", "zz", "x"], ["LINSERT", "nokey", "BEFORE", "a", "x"], ["LINSERT", "l", "MIDDLE", "a", "x"],
        ["LRANGE", "l", "0", "-1"], ["LREM", "l", "1", "a"], ["LRANGE", "l", "0", "-1"], ["LREM", "l", "-1", "a"], ["LRANGE", "l", "0", "-1"],
        ["LREM", "l", "0", "x"], ["LRANGE", "l", "0", "-1"], ["LREM", "l", "0", "nope"], ["LREM", "nokey", "0", "a"], ["LREM", "l", "x", "a"],
        ["RPUSH", "m", "a", "a"], ["LREM", "m", "0", "a"], ["EXISTS", "m"]
    ),
    case!("lpos",
        ["RPUSH", "l", "a", "b", "c", "a", "b", "a"], ["LPOS", "l", "a"], ["LPOS", "l", "b"], ["LPOS", "l", "z"], ["LPOS", "l", "a", "RANK", "2"],
        ["LPOS", "l", "a", "RANK", "-1"], ["LPOS", "l", "a", "RANK", "-2"], ["LPOS", "l", "a", "RANK", "4"], ["LPOS", "l", "a", "COUNT", "0"],
        ["LPOS", "l", "a", "COUNT", "2"], ["LPOS", "l", "a", "COUNT", "0", "RANK", "-1"], ["LPOS", "l", "a", "MAXLEN", "3"],
        ["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "4"], ["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "2", "COUNT", "0"],
        ["LPOS", "l", "z", "COUNT", "1"], ["LPOS", "nokey", "a"], ["LPOS", "nokey", "a", "COUNT", "0"], ["LPOS", "l", "a", "RANK", "0"],
        ["LPOS", "l", "a", "COUNT", "-1"], ["LPOS", "l", "a", "MAXLEN", "-1"], ["LPOS", "l", "a", "FOO", "1"], ["LPOS", "l", "a", "RANK"],
        ["LPOS", "l", "a", "RANK", "x"]
    ),
    case!("lmove rpoplpush lmpop",
        ["RPUSH", "{l}a", "1", "2", "3"], ["LMOVE", "{l}a", "{l}b", "LEFT", "RIGHT"], ["LMOVE", "{l}a", "{l}b", "RIGHT", "LEFT"],
        ["LRANGE", "{l}a", "0", "-1"], ["LRANGE", "{l}b", "0", "-1"], ["RPOPLPUSH", "{l}b", "{l}b"], ["LRANGE", "{l}b", "0", "-1"],
        ["RPOPLPUSH", "{l}nokey", "{l}b"], ["LMOVE", "{l}a", "{l}b", "UP", "LEFT"], ["RPOPLPUSH", "{l}a", "{l}c"], ["EXISTS", "{l}a"],
        ["SET", "{l}str", "v"], ["LMOVE", "{l}b", "{l}str", "LEFT", "LEFT"], ["LRANGE", "{l}b", "0", "-1"], ["LMOVE", "{l}str", "{l}b", "LEFT", "LEFT"],
        ["LMOVE", "{l}nokey", "{l}str", "LEFT", "LEFT"],
        ["LMPOP", "2", "{l}a", "{l}b", "LEFT"], ["LMPOP", "2", "{l}a", "{l}b", "RIGHT", "COUNT", "10"], ["LMPOP", "2", "{l}a", "{l}b", "LEFT"],
        ["LMPOP", "0", "{l}a", "LEFT"], ["LMPOP", "1", "{l}a", "UP"], ["LMPOP", "1", "{l}a", "LEFT", "COUNT", "0"], ["LMPOP", "3", "{l}a", "LEFT"],
        ["LMPOP", "1", "{l}str", "LEFT"], ["LMPOP", "1", "{l}a"]
    ),
    case!("list wrong type and generic",
        ["SET", "str", "v"], ["LPUSH", "str", "a"], ["RPUSHX", "str", "a"], ["LPOP", "str"], ["LLEN", "str"], ["LINDEX", "str", "0"],
        ["LRANGE", "str", "0", "1"], ["LSET", "str", "0", "x"], ["LPOS", "str", "a"], ["LREM", "str", "0", "a"], ["LINSERT", "str", "BEFORE", "a", "b"],
        ["RPUSH", "{l}1", "a", "b"], ["GET", "{l}1"], ["SADD", "{l}1", "x"], ["RENAME", "{l}1", "{l}2"], ["LRANGE", "{l}2", "0", "-1"],
        ["COPY", "{l}2", "{l}3"], ["RPUSH", "{l}3", "c"], ["LLEN", "{l}2"], ["LLEN", "{l}3"], ["EXPIRE", "{l}3", "100"], ttl ["TTL", "{l}3"],
        ["RPUSH", "bin", "", "a\0b", "\r\n"], ["LRANGE", "bin", "0", "-1"], ["LPOS", "bin", ""]
    ),
    case!("resp3 list replies",
        shape ["HELLO", "3"], ["RPUSH", "l", "a", "b"], ["LPOP", "nokey"], ["LPOP", "nokey", "1"], ["LPOP", "l", "0"],
        ["LRANGE", "l", "0", "-1"], ["LPOS", "l", "z"], ["LPOS", "l", "a", "COUNT", "0"], ["LMPOP", "1", "nokey", "LEFT"],
        ["LMPOP", "1", "l", "LEFT"], ["LINDEX", "l", "5"]
    ),
];

/// The blocking pops as a single connection sees them: served at once, refused, or timed out.
/// What other connections do meanwhile is [`blocking_pops_across_connections`]'s.
#[rustfmt::skip]
static BLOCKING: &[Case] = &[
    case!("blocking pops served at once",
        ["RPUSH", "{b}l", "a", "b", "c"], ["BLPOP", "{b}l", "0"], ["BRPOP", "{b}l", "1.5"], ["BLPOP", "{b}none", "{b}l", "0"],
        ["EXISTS", "{b}l"], ["RPUSH", "{b}l", "x", "y", "z"], ["BLMOVE", "{b}l", "{b}d", "RIGHT", "LEFT", "0"],
        ["BRPOPLPUSH", "{b}l", "{b}d", "0"], ["LRANGE", "{b}d", "0", "-1"], ["BLMPOP", "0", "2", "{b}none", "{b}d", "RIGHT", "COUNT", "5"],
        ["BLMPOP", "0", "1", "{b}l", "LEFT"], ["ZADD", "{b}z", "1", "a", "2", "b", "3", "c"], ["BZPOPMIN", "{b}z", "0"],
        ["BZPOPMAX", "{b}none", "{b}z", "0"], ["BZMPOP", "0", "1", "{b}z", "MIN", "COUNT", "9"], ["EXISTS", "{b}z"],
        ["ZADD", "{b}z", "-inf", "m", "1.5", "n"], ["BZMPOP", "0.01", "2", "{b}z", "{b}q", "MAX"], ["BZPOPMIN", "{b}z", "0"]
    ),
    case!("blocking pops time out",
        ["BLPOP", "{b}l", "0.01"], ["BRPOP", "{b}l", "{b}m", "0.02"], ["BLMOVE", "{b}l", "{b}d", "LEFT", "LEFT", "0.01"],
        ["BRPOPLPUSH", "{b}l", "{b}d", "0.01"], ["BLMPOP", "0.01", "1", "{b}l", "LEFT"], ["BZPOPMIN", "{b}z", "0.01"],
        ["BZPOPMAX", "{b}z", "0.01"], ["BZMPOP", "0.01", "1", "{b}z", "MAX", "COUNT", "2"], ["BLPOP", "{b}l", "1e-10"],
        ["EXISTS", "{b}l", "{b}d", "{b}z"]
    ),
    case!("blocking pops time out in resp3",
        shape ["HELLO", "3"], ["BLPOP", "{b}l", "0.01"], ["BLMOVE", "{b}l", "{b}d", "LEFT", "LEFT", "0.01"],
        ["BZPOPMIN", "{b}z", "0.01"], ["BZMPOP", "0.01", "1", "{b}z", "MIN"], ["ZADD", "{b}z", "2.5", "a", "inf", "b"],
        ["BZPOPMIN", "{b}z", "0"], ["BZPOPMAX", "{b}z", "0"], ["ZADD", "{b}z", "1", "x"], ["BZMPOP", "0", "1", "{b}z", "MIN"],
        ["RPUSH", "{b}l", "v"], ["BLPOP", "{b}l", "0"], ["RPUSH", "{b}l", "v"], ["BLMPOP", "0", "1", "{b}l", "LEFT", "COUNT", "3"]
    ),
    case!("blocking pop timeouts",
        ["BLPOP", "l", "-1"], ["BLPOP", "l", "abc"], ["BLPOP", "l", "inf"], ["BLPOP", "l", "-inf"], ["BLPOP", "l", "nan"],
        ["BLPOP", "l", "1e400"], ["BLPOP", "l", " 1"], ["BLPOP", "l", ""], ["BLPOP", "l", "1x"], ["BLPOP", "l", "1e16"],
        ["BLPOP", "l", "9223372036854776"], ["BRPOP", "l", "-0.5"], ["BZPOPMIN", "z", "x"], ["BZPOPMAX", "z", "-2"],
        ["BLMOVE", "{b}l", "{b}d", "LEFT", "RIGHT", "-1"], ["BRPOPLPUSH", "{b}l", "{b}d", "x"], ["BLMPOP", "-1", "1", "l", "LEFT"],
        ["BLMPOP", "x", "0", "l", "LEFT"], ["BZMPOP", "nan", "1", "z", "MIN"], ["BLPOP", "l", "0x0.0000001"]
    ),
    case!("blocking pop arguments",
        ["BLPOP", "l"], ["BRPOP"], ["BLMOVE", "{b}l", "{b}d", "UP", "LEFT", "0"], ["BLMOVE", "{b}l", "{b}d", "LEFT", "DOWN", "x"],
        ["BLMOVE", "{b}l", "{b}d", "LEFT", "LEFT"], ["BRPOPLPUSH", "{b}l", "{b}d"], ["BLMPOP", "0", "0", "l", "LEFT"],
        ["BLMPOP", "0", "2", "{b}l", "{b}m"], ["BLMPOP", "x", "2", "{b}l", "{b}m"], ["BLMPOP", "0", "1", "l", "MIDDLE"], ["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0"],
        ["BLMPOP", "0", "1", "l", "LEFT", "COUNT"], ["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2"],
        ["BZMPOP", "0", "1", "z", "LEFT"], ["BZMPOP", "0", "-1", "z", "MIN"], ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "-3"],
        ["BZMPOP", "0", "1", "z"], ["BZPOPMIN", "z"], ["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2"],
        ["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"], ["BZMPOP", "x", "1", "z", "MIN", "COUNT", "0"], ["BLPOP", "{b}a", "{b}b", "{b}c", "0.01"]
    ),
    case!("blocking pops on the wrong type",
        ["SET", "{b}s", "v"], ["BLPOP", "{b}s", "0"], ["BLPOP", "{b}none", "{b}s", "0"], ["RPUSH", "{b}l", "a"],
        ["BLPOP", "{b}l", "{b}s", "0"], ["RPUSH", "{b}l", "a"], ["BLPOP", "{b}s", "{b}l", "0"], ["BZPOPMIN", "{b}l", "0"],
        ["BZMPOP", "0", "2", "{b}none", "{b}l", "MIN"], ["BLMOVE", "{b}s", "{b}d", "LEFT", "LEFT", "0"],
        ["BLMOVE", "{b}l", "{b}s", "LEFT", "LEFT", "0"], ["LLEN", "{b}l"], ["BRPOPLPUSH", "{b}l", "{b}s", "0"],
        ["BLMPOP", "0", "1", "{b}s", "LEFT"], ["ZADD", "{b}z", "1", "a"], ["BLPOP", "{b}z", "0"], ["BZPOPMAX", "{b}s", "{b}z", "0"]
    ),
];

#[rustfmt::skip]
static SCRIPTS: &[Case] = &[
    case!("eval basics and conversions",
        ["EVAL", "return 1", "0"], ["EVAL", "return 3.99", "0"], ["EVAL", "return -2.5", "0"], ["EVAL", "return 'x'", "0"],
        ["EVAL", "return true", "0"], ["EVAL", "return false", "0"], ["EVAL", "return nil", "0"],
        ["EVAL", "return {1,2,3,'x',nil,4}", "0"], ["EVAL", "return {1,{2,{'a',false}},true}", "0"],
        ["EVAL", "return {ok='fine'}", "0"], ["EVAL", "return {err='My Error'}", "0"],
        ["EVAL", "return redis.error_reply('My Error')", "0"], ["EVAL", "return redis.error_reply('-X bad')", "0"],
        ["EVAL", "return redis.status_reply('x')", "0"], ["EVAL", "return redis.sha1hex('')", "0"],
        ["EVAL", "return redis.sha1hex('abc')", "0"], ["EVAL", "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "2", "{s}a", "{s}b", "x\0y", "z"],
        ["EVAL", "return 1, 2", "0"], ["EVAL", "return tostring(1/3)", "0"], ["EVAL", "return math.floor(2.7)", "0"],
        ["EVAL", "return string.format('%d-%s', 5, 'x')", "0"], ["EVAL", "return table.concat({'a','b'}, ',')", "0"],
        ["EVAL", "return {1/0, -1/0, 0/0, 1e19, -1e19, 2^63, -2^63, 2^62}", "0"]
    ),
    case!("redis.call and redis.pcall",
        ["SET", "{s}foo", "bar"], ["EVAL", "return redis.call('incr', KEYS[1])", "1", "{s}foo"],
        ["EVAL", "return redis.pcall('incr', KEYS[1])", "1", "{s}foo"],
        ["EVAL", "return redis.call('get', KEYS[1])", "1", "{s}foo"], ["EVAL", "return redis.call('get', KEYS[1])", "1", "{s}none"],
        ["EVAL", "return redis.call('set', KEYS[1], 3.5)", "1", "{s}n"], ["GET", "{s}n"],
        ["EVAL", "return redis.call('set', KEYS[1], 10)", "1", "{s}n"], ["GET", "{s}n"],
        ["EVAL", "return redis.call('set', KEYS[1], 1e20)", "1", "{s}n"], ["GET", "{s}n"],
        ["EVAL", "redis.call('rpush', KEYS[1], 'a', 'b', 'c') return redis.call('lrange', KEYS[1], 0, -1)", "1", "{s}l"],
        ["EVAL", "return redis.call('hgetall', KEYS[1])", "1", "{s}nokey"],
        ["EVAL", "redis.call('hset', KEYS[1], 'f', 'v') return redis.call('hgetall', KEYS[1])", "1", "{s}h"],
        ["EVAL", "return redis.call('spop', KEYS[1])", "1", "{s}l"],
        ["EVAL", "redis.call('sadd', KEYS[1], 'a') return redis.call('spop', KEYS[1])", "1", "{s}set"],
        ["EVAL", "return redis.call('ping')", "0"], ["EVAL", "return redis.call('ping', 'x')", "0"],
        ["EVAL", "local r = redis.pcall('nosuch') return r['err']", "0"],
        ["EVAL", "return redis.call('zadd', KEYS[1], 1.5, 'm'), redis.call('zscore', KEYS[1], 'm')", "1", "{s}z"],
        ["EVAL", "return redis.call('zrange', KEYS[1], 0, -1, 'WITHSCORES')", "1", "{s}z"],
        ["EVAL", "return redis.call('blpop', KEYS[1], 0)", "1", "{s}empty"],
        ["EVAL", "return redis.call('set', KEYS[1], 'v', 'GET')", "1", "{s}foo"]
    ),
    case!("script errors",
        ["SET", "{s}foo", "bar"], ["EVAL", "return redis.call('incr', KEYS[1])", "1", "{s}foo"],
        ["EVAL", "error('boom')", "0"], ["EVAL", "error({err='TBL boom'})", "0"], ["EVAL", "return x x", "0"],
        ["EVAL", "return redis.call('nosuch')", "0"], ["EVAL", "return redis.call()", "0"],
        ["EVAL", "return redis.call('get', {})", "0"], ["EVAL", "x = 1", "0"], ["EVAL", "return debug", "0"],
        ["EVAL", "return redis.call('shutdown')", "0"], ["EVAL", "return redis.call('incr', 'foo', 'x')", "0"],
        ["EVAL", "return 1", "-1"], ["EVAL", "return 1", "3", "a"], ["EVAL", "return 1", "x"], ["EVAL", "return 1"],
        ["EVAL", "local a = 1\nlocal b = 2\nreturn redis.call('incr', KEYS[1])", "1", "{s}foo"],
        ["EVAL", "local t = {}\n\nerror('line three')", "0"],
        ["EVAL_RO", "return redis.call('set', KEYS[1], 'v')", "1", "{s}k"], ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "{s}foo"],
        ["EXISTS", "{s}k"]
    ),
    case!("the bit library and read-only libraries",
        ["EVAL", "return {bit.band(0xff, 0x0f), bit.tohex(65535), bit.bnot(0), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.bswap(0x12345678), bit.tobit(2^32+5), bit.tohex(-1, -4), bit.bxor(5,3), bit.bor(1,2,4), bit.ror(1, 1), bit.tohex(255, 2), bit.tohex(1,0)}", "0"],
        ["EVAL", "return {bit.tobit(3.5), bit.tobit(-2.5), bit.tobit(2^31), bit.tobit(-2^31-1), bit.tohex(-1, 100), bit.lshift(1, 33), bit.band(2^53, 1), bit.band('12', 4)}", "0"],
        ["EVAL", "return bit.band()", "0"], ["EVAL", "return bit.band('x')", "0"], ["EVAL", "return bit.band(1, 'x')", "0"],
        ["EVAL", "return bit.lshift(1)", "0"], ["EVAL", "return bit.tohex()", "0"], ["EVAL", "return bit.tohex(1, nil)", "0"],
        ["EVAL", "bit.x = 1", "0"], ["EVAL", "string.x = 1", "0"], ["EVAL", "redis.call = 1", "0"], ["EVAL", "math.pi = 3", "0"],
        ["EVAL", "return ('abc'):upper()", "0"], ["EVAL", "return redis.call('ping')", "0"]
    ),
    case!("the cjson library",
        ["EVAL", "return cjson.encode({1,2,3})", "0"], ["EVAL", "return cjson.encode({a=1})", "0"], ["EVAL", "return cjson.encode({})", "0"],
        ["EVAL", "return cjson.encode('a\"b/c\\n\\1')", "0"], ["EVAL", "return cjson.encode(0.1)", "0"], ["EVAL", "return cjson.encode(1e20)", "0"],
        ["EVAL", "return cjson.encode(true)", "0"], ["EVAL", "return cjson.encode(nil)", "0"], ["EVAL", "return cjson.encode({1,nil,3})", "0"],
        ["EVAL", "return cjson.encode({[1]=1,[5]=5})", "0"], ["EVAL", "return cjson.encode({[1]=1,[20]=5})", "0"],
        ["EVAL", "return cjson.encode(1/0)", "0"], ["EVAL", "return cjson.encode({x={y={1}}})", "0"],
        ["EVAL", "local t = cjson.decode('[1,2,{\"a\":null,\"b\":[true,false]},\"s\",1.5,1e3]') return {t[1], t[2], t[3].b[1], tostring(t[3].a), t[4], tostring(t[5]), t[6], type(t[3].a)}", "0"],
        ["EVAL", "return cjson.encode(cjson.decode('{\"a\":[1,2]}'))", "0"], ["EVAL", "return cjson.encode({[1.5]=1})", "0"],
        ["EVAL", "return cjson.encode(cjson.null)", "0"], ["EVAL", "return cjson.encode(function() end)", "0"],
        ["EVAL", "return cjson.encode({a={}})", "0"], ["EVAL", "return cjson.decode('123')", "0"],
        ["EVAL", "return cjson.encode(123456789012345)", "0"], ["EVAL", "return cjson.encode(2^53)", "0"],
        ["EVAL", "return cjson.encode({['k']={1,'two',false}})", "0"], ["EVAL", "return cjson.encode()", "0"], ["EVAL", "cjson.x = 1", "0"],
        ["EVAL", "return redis.call('set', KEYS[1], cjson.encode({n = 5}))", "1", "{j}doc"], ["GET", "{j}doc"]
    ),
    case!("shebang flags",
        ["EVAL", "#!lua\nreturn 1", "0"], ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'x')", "1", "{e}k"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "{e}k"],
        ["EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "{e}k"],
        ["EVAL_RO", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "{e}k"],
        ["EVAL_RO", "#!lua flags=allow-oom\nreturn 1", "0"], ["EVAL", "#!lua flags=allow-oom,no-writes\nreturn 2", "0"],
        ["EVAL", "#!lua flags=\nreturn 3", "0"], ["EVAL", "#!lua", "0"], ["EVAL", "#!js\nreturn 1", "0"],
        ["EVAL", "#!lua name=x\nreturn 1", "0"], ["EVAL", "#!lua flags=bad\nreturn 1", "0"],
        ["EVAL", "#!lua flags=No-Writes\nreturn 1", "0"], ["EVAL", "#!lua flags=no-writes,,allow-oom\nreturn 1", "0"],
        ["EVAL", "#!lua\n\nerror('on line 3')", "0"], ["EVAL", "#!lua\nreturn redis.call('set', KEYS[1], 'y')", "1", "{e}k"],
        ["GET", "{e}k"], ["SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1"], ["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 5"],
        ["EVALSHA_RO", "bacb0fa9e0511ae36561f3fbe6a4b9d07a79e1a4", "0"], ["SCRIPT", "LOAD", "#!lua\nreturn = 1"]
    ),
    case!("cjson decode",
        ["EVAL", "return cjson.decode('{')", "0"], ["EVAL", "return cjson.decode('')", "0"],
        ["EVAL", "return cjson.decode(' \\t\\r\\n')", "0"], ["EVAL", "return cjson.decode('[1,2')", "0"],
        ["EVAL", "return cjson.decode('[1 2]')", "0"], ["EVAL", "return cjson.decode('[1,]')", "0"],
        ["EVAL", "return cjson.decode('[]]')", "0"], ["EVAL", "return cjson.decode('[1:2]')", "0"],
        ["EVAL", "return cjson.decode('{1:2}')", "0"], ["EVAL", "return cjson.decode('{\"a\" 1}')", "0"],
        ["EVAL", "return cjson.decode('{\"a\":1 \"b\"}')", "0"], ["EVAL", "return cjson.decode('{\"a\":1,}')", "0"],
        ["EVAL", "return cjson.decode('{\"a\":}')", "0"], ["EVAL", "return cjson.decode('{\"a\":1}}')", "0"],
        ["EVAL", "return cjson.decode('[1] x')", "0"], ["EVAL", "return cjson.decode('truex')", "0"],
        ["EVAL", "return cjson.decode('[tru]')", "0"], ["EVAL", "return cjson.decode('[NULL]')", "0"],
        ["EVAL", "return cjson.decode('.5')", "0"], ["EVAL", "return cjson.decode('[-]')", "0"], ["EVAL", "return cjson.decode('+')", "0"],
        ["EVAL", "return cjson.decode('\"abc')", "0"], ["EVAL", "return cjson.decode('\"a\\\\x\"')", "0"],
        ["EVAL", "return cjson.decode('\"a\\\\')", "0"], ["EVAL", "return cjson.decode('\"\\\\u12\"')", "0"],
        ["EVAL", "return cjson.decode('\"\\\\ud83d\"')", "0"], ["EVAL", "return cjson.decode('\"\\\\ude00\"')", "0"],
        ["EVAL", "return cjson.decode('\"\\\\ud83d\\\\u0041\"')", "0"], ["EVAL", "return cjson.decode('\"\\\\uZZZZ\"')", "0"],
        ["EVAL", "return cjson.decode('[0x]')", "0"], ["EVAL", "return cjson.decode('infinit')", "0"],
        ["EVAL", "return cjson.decode('[nan(1]')", "0"], ["EVAL", "return cjson.decode('\\12 1')", "0"],
        ["EVAL", "return cjson.decode(string.rep('[', 150))", "0"], ["EVAL", "return cjson.decode(string.rep('{\"a\":', 150))", "0"], ["EVAL", "return cjson.decode('1\\0')", "0"],
        ["EVAL", "return cjson.decode('\\0')", "0"], ["EVAL", "return cjson.decode('[1]\\0x')", "0"],
        ["EVAL", "return cjson.decode()", "0"], ["EVAL", "return cjson.decode(1, 2)", "0"], ["EVAL", "return cjson.decode({})", "0"],
        ["EVAL", "return cjson.decode(nil)", "0"], ["EVAL", "local d = cjson.decode return d(true)", "0"],
        ["EVAL", "return cjson:decode('1')", "0"], ["EVAL", "return {pcall(cjson.decode, '[1,2')}", "0"],
        ["EVAL", "return {pcall(cjson.decode)}", "0"],
        ["EVAL", "local ok, e = pcall(function() local x = cjson.decode('[') return x end) return e", "0"],
        ["EVAL", "return {cjson.decode(12), tostring(cjson.decode(-0.25))}", "0"],
        ["EVAL", "return cjson.decode('[1,\"a\",{\"b\":[true,null]}]')", "0"],
        ["EVAL", "local t = cjson.decode('[1,null,3]') return {#t, type(t[2]), tostring(t[2] == cjson.null), t[3]}", "0"],
        ["EVAL", "return {tostring(cjson.decode('null') == cjson.null), cjson.decode('true'), cjson.decode('false')}", "0"],
        ["EVAL", "return {tostring(cjson.decode('-0')), tostring(cjson.decode('1e400')), tostring(cjson.decode('-1e400')), tostring(cjson.decode('1e-400')), tostring(cjson.decode('0x10')), tostring(cjson.decode('-0x1.8p1')), tostring(cjson.decode('+1')), tostring(cjson.decode('01')), tostring(cjson.decode('1.')), tostring(cjson.decode('-.5')), tostring(cjson.decode('123456789012345678901234567890')), tostring(cjson.decode('0.1')), tostring(cjson.decode('1E+2')), tostring(cjson.decode('4.9406564584124654e-324'))}", "0"],
        ["EVAL", "return {tostring(cjson.decode('inf')), tostring(cjson.decode('-Infinity')), tostring(cjson.decode('NaN')), tostring(cjson.decode('-nan')), tostring(cjson.decode('[nan(123)]')[1])}", "0"],
        ["EVAL", "return {struct.pack('>d', cjson.decode('-nan(0x5)')):byte(1, 8)}", "0"],
        ["EVAL", "return {cjson.decode('7'), cjson.decode('-7.9'), cjson.decode('3.99')}", "0"],
        ["EVAL", "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\\\\u20AC\\\\uFFFF\"')", "0"],
        ["EVAL", "return cjson.decode('\"a\\tb\\nc\\1\\127\\255\"')", "0"],
        ["EVAL", "return {#cjson.decode('\"\\\\u0000x\"'), cjson.decode('\"\\\\/\\\\\\\\\\\\\"\\\\b\\\\f\\\\n\\\\r\\\\t\"')}", "0"],
        ["EVAL", "return cjson.encode(cjson.decode('{\"\":1,\"a\":2,\"a\":3}'))", "0"],
        ["EVAL", "return cjson.encode(cjson.decode('{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}'))", "0"],
        ["EVAL", "return cjson.encode(cjson.decode('{\"zz\":{\"y\":[1,{\"x\":null}],\"w\":\"v\"},\"10\":1,\"1\":2,\"k\":[]}'))", "0"],
        ["EVAL", "return cjson.encode(cjson.decode(' [1, [2, [3, [4, {}]]], \"x\\\\/y\", 1e300, -2.5] '))", "0"],
        ["EVAL", "local t = cjson.decode('{\"1\":1}') return {tostring(t[1]), t['1']}", "0"],
        ["EVAL", "return cjson.encode(cjson.decode('{\"a\":' .. string.rep('[', 150) .. string.rep(']', 150) .. '}'))", "0"]
    ),
    case!("resp3 conversions",
        ["HSET", "{r}h", "f", "v"], ["SADD", "{r}s", "a"], ["ZADD", "{r}z", "1.5", "m", "2", "n"],
        ["EVAL", "redis.setresp(3) return redis.call('hgetall', KEYS[1])", "1", "{r}h"],
        ["EVAL", "redis.setresp(3) local r = redis.call('hgetall', KEYS[1]) return r.map.f", "1", "{r}h"],
        ["EVAL", "redis.setresp(3) return redis.call('smembers', KEYS[1])", "1", "{r}s"],
        ["EVAL", "redis.setresp(3) return redis.call('zscore', KEYS[1], 'm')", "1", "{r}z"],
        ["EVAL", "redis.setresp(3) local r = redis.call('zscore', KEYS[1], 'm') return r.double", "1", "{r}z"],
        ["EVAL", "redis.setresp(3) return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", "1", "{r}z"],
        ["EVAL", "redis.setresp(3) return redis.call('get', '{r}nokey') == nil", "0"],
        ["EVAL", "redis.setresp(3) return {redis.call('get', '{r}nokey'), 1}", "0"],
        ["EVAL", "redis.setresp(3) return true", "0"], ["EVAL", "redis.setresp(3) return false", "0"],
        ["EVAL", "return true", "0"], ["EVAL", "return false", "0"], ["EVAL", "return {double=3.5}", "0"],
        ["EVAL", "return {big_number='123456789012345678901234567890'}", "0"], ["EVAL", "return {map={a=1}}", "0"],
        ["EVAL", "return {set={a=true}}", "0"], ["EVAL", "return {verbatim_string={format='txt', string='hi'}}", "0"],
        ["EVAL", "return {ok='a\r\nb'}", "0"], ["EVAL", "redis.setresp(4)", "0"], ["EVAL", "redis.setresp()", "0"],
        ["EVAL", "redis.setresp('3') return true", "0"], ["EVAL", "redis.setresp(2, 3)", "0"],
        ["EVAL", "redis.setresp(2) return redis.call('zscore', KEYS[1], 'm')", "1", "{r}z"],
        shape ["HELLO", "3"],
        ["EVAL", "redis.setresp(3) return redis.call('hgetall', KEYS[1])", "1", "{r}h"],
        ["EVAL", "redis.setresp(3) return redis.call('smembers', KEYS[1])", "1", "{r}s"],
        ["EVAL", "redis.setresp(3) return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", "1", "{r}z"],
        ["EVAL", "redis.setresp(3) return true", "0"], ["EVAL", "redis.setresp(3) return false", "0"],
        ["EVAL", "return false", "0"], ["EVAL", "return nil", "0"], ["EVAL", "return {double=3.5}", "0"],
        ["EVAL", "return {big_number='12345678901234567890'}", "0"], ["EVAL", "return {map={a=1}}", "0"],
        ["EVAL", "return {set={a=true}}", "0"], ["EVAL", "return {verbatim_string={format='txt', string='hi'}}", "0"],
        ["EVAL", "return redis.call('hgetall', KEYS[1])", "1", "{r}h"]
    ),
    case!("evalsha and the script cache",
        ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"], ["SCRIPT", "LOAD", "return 'loaded'"],
        ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"], ["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
        ["EVALSHA_RO", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffff"], ["SCRIPT", "LOAD", "x x"],
        ["EVAL", "return 'evald'", "0"], ["SCRIPT", "EXISTS", "4f28a625ea3dd0ec091ce5d66a4176cbba59fb5f"],
        ["SCRIPT", "FLUSH", "x"], ["SCRIPT", "FLUSH"], ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8"],
        ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"], ["SCRIPT", "FLUSH", "ASYNC"], ["SCRIPT", "FLUSH", "sync"]
    ),
    case!("a script's writes, all of them",
        ["EVAL", "for i = 1, 5 do redis.call('rpush', KEYS[1], i) end redis.call('incrby', KEYS[2], 7) return redis.call('llen', KEYS[1])",
            "2", "{w}l", "{w}n"],
        ["LRANGE", "{w}l", "0", "-1"], ["GET", "{w}n"],
        ["EVAL", "redis.call('set', KEYS[1], 'v') redis.call('expire', KEYS[1], 100) return redis.call('ttl', KEYS[1])", "1", "{w}t"],
        ttl ["TTL", "{w}t"],
        ["EVAL", "redis.call('del', KEYS[1]) return redis.call('exists', KEYS[1])", "1", "{w}l"], ["EXISTS", "{w}l"],
        ["EVAL", "redis.call('set', KEYS[1], 'x') return redis.pcall('incr', KEYS[1])", "1", "{w}e"], ["GET", "{w}e"],
        ["EVAL", "redis.call('set', KEYS[1], 'x') error('boom')", "1", "{w}kept"], ["GET", "{w}kept"],
        ["EVAL", "redis.call('set', KEYS[1], 'y') return redis.call('incr', KEYS[1])", "1", "{w}kept"], ["GET", "{w}kept"]
    ),
    case!("the cmsgpack library",
        ["EVAL", "return cmsgpack.pack(nil, true, false)", "0"],
        ["EVAL", "return cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53)", "0"],
        ["EVAL", "return cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -2^53, -2^63)", "0"],
        ["EVAL", "return cmsgpack.pack(0.5, 1e300, 1/0, -1/0, -0.0, 0.1, 3.25, -2.5, 1e-300, 2^63, 0/0)", "0"],
        ["EVAL", "return cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('y', 32), 'a\\0b')", "0"],
        ["EVAL", "return cmsgpack.pack(string.rep('z', 255)) == '\\217\\255' .. string.rep('z', 255)", "0"],
        ["EVAL", "return {#cmsgpack.pack(string.rep('z', 256)), cmsgpack.pack(string.rep('z', 256)):sub(1, 4)}", "0"],
        ["EVAL", "return {#cmsgpack.pack(string.rep('z', 65535)), cmsgpack.pack(string.rep('z', 65535)):sub(1, 4)}", "0"],
        ["EVAL", "return {#cmsgpack.pack(string.rep('z', 65536)), cmsgpack.pack(string.rep('z', 65536)):sub(1, 6)}", "0"],
        ["EVAL", "return cmsgpack.pack({}, {1, 2, 3}, {a = 1}, {1, nil, 3}, {[1] = 'a', [2] = 'b', [4] = 'd'}, {[0] = 1}, {[-1] = 1}, {[1.5] = 1})", "0"],
        ["EVAL", "return cmsgpack.pack({1, {2, {3, {4}}}, {x = {y = 'z'}}}, {[1] = 1, [2] = 2, n = 2})", "0"],
        ["EVAL", "return cmsgpack.pack({a = 1, b = 2, c = 3, d = {1, 2}, e = 'five'})", "0"],
        ["EVAL", "local t = {} for i = 1, 16 do t[i] = i end return cmsgpack.pack(t)", "0"],
        ["EVAL", "local t = {} for i = 1, 16 do t['k' .. i] = i end return cmsgpack.pack(t)", "0"],
        ["EVAL", "local t = {} for i = 1, 70000 do t[i] = 1 end local s = cmsgpack.pack(t) return {#s, s:sub(1, 8)}", "0"],
        ["EVAL", "local t = {} t.self = t return cmsgpack.pack(t)", "0"],
        ["EVAL", "local t = {} for i = 1, 20 do t = {t} end return cmsgpack.pack(t)", "0"],
        ["EVAL", "return cmsgpack.pack(function() end, cjson.null, 'end')", "0"],
        ["EVAL", "return cmsgpack.pack('12', 12, '0x10', 1e-20, {1e-20, x = 1e-300})", "0"],
        ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(nil, true, false, 1, 'two'))}", "0"],
        ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(true, nil, false))}", "0"],
        ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1, -1, 300, -300, 70000, -70000, 5000000000, -5000000000))}", "0"],
        ["EVAL", "return {cmsgpack.unpack('\\204\\200\\205\\1\\0\\206\\0\\1\\0\\0\\208\\128\\209\\255\\128\\210\\255\\255\\255\\0\\224\\31')}", "0"],
        ["EVAL", "return {cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'), tostring(cmsgpack.unpack('\\207\\127\\255\\255\\255\\255\\255\\255\\255'))}", "0"],
        ["EVAL", "return {tostring(cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0')), tostring(cmsgpack.unpack('\\211\\0\\0\\0\\1\\0\\0\\0\\0'))}", "0"],
        ["EVAL", "local a, b, c, d, e = cmsgpack.unpack(cmsgpack.pack(0.5, 1e300, 1/0, -0.0, 1e-20)) return {tostring(a), tostring(b), tostring(c), tostring(d), tostring(e)}", "0"],
        ["EVAL", "return {tostring(cmsgpack.unpack('\\202\\64\\73\\15\\219')), tostring(cmsgpack.unpack('\\203\\64\\9\\33\\251\\84\\68\\45\\24'))}", "0"],
        ["EVAL", "local t = cmsgpack.unpack(cmsgpack.pack({1, 2, {a = 'b'}, 'x'})) return {t[1], t[2], t[3].a, t[4], #t}", "0"],
        ["EVAL", "local t = cmsgpack.unpack(cmsgpack.pack({1, nil, 3})) return {t[1], tostring(t[2]), t[3]}", "0"],
        ["EVAL", "return cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack({a = 1, b = {c = 2}, [3] = 'x', [4.5] = false})))", "0"],
        ["EVAL", "local t = cmsgpack.unpack('\\147\\1\\192\\3') return {t[1], tostring(t[2]), t[3], #t}", "0"],
        ["EVAL", "local t = cmsgpack.unpack('\\130\\161a\\1\\161b\\192') return {t.a, tostring(t.b)}", "0"],
        ["EVAL", "return {cmsgpack.unpack('\\160\\217\\3abc\\218\\0\\2de\\219\\0\\0\\0\\1f')}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1, 'abc', 3), 1)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one('abc', 3)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 2)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 2, 2)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 10, 1)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 0, 0)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3, 4), 0, 2)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit('', 1)}", "0"], ["EVAL", "return {cmsgpack.unpack('')}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one('')}", "0"], ["EVAL", "return {cmsgpack.unpack_one('abc', '1')}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one('abc', 1.9)}", "0"], ["EVAL", "return {cmsgpack.unpack_one('abc', nil)}", "0"],
        ["EVAL", "return {cmsgpack.unpack(12)}", "0"], ["EVAL", "return cmsgpack.pack()", "0"], ["EVAL", "return cmsgpack.unpack()", "0"],
        ["EVAL", "return cmsgpack.unpack_one()", "0"], ["EVAL", "return cmsgpack.unpack_limit()", "0"],
        ["EVAL", "return cmsgpack.unpack_limit('abc')", "0"], ["EVAL", "return cmsgpack.unpack({})", "0"],
        ["EVAL", "return cmsgpack.unpack(nil)", "0"], ["EVAL", "return cmsgpack.unpack(true)", "0"],
        ["EVAL", "return cmsgpack.unpack_limit('abc', -1)", "0"], ["EVAL", "return cmsgpack.unpack_limit('abc', 1, 4)", "0"],
        ["EVAL", "return cmsgpack.unpack_limit('abc', 'x')", "0"], ["EVAL", "return cmsgpack.unpack_limit('abc', 1, {})", "0"],
        ["EVAL", "return cmsgpack.unpack_one('abc', 'x')", "0"], ["EVAL", "return cmsgpack.unpack_one('abc', 5)", "0"],
        ["EVAL", "return cmsgpack.unpack_one('abc', -1)", "0"], ["EVAL", "return cmsgpack.unpack('\\193')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\196\\1x')", "0"], ["EVAL", "return cmsgpack.unpack('\\212\\1\\1')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\1\\2\\193')", "0"], ["EVAL", "return cmsgpack.unpack('\\147\\1\\2')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\217\\5ab')", "0"], ["EVAL", "return cmsgpack.unpack('\\218\\0')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\219\\0\\0\\0\\9abc')", "0"], ["EVAL", "return cmsgpack.unpack('\\203\\0\\0')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\205\\1')", "0"], ["EVAL", "return cmsgpack.unpack('\\130\\1\\2\\3')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\129\\192\\1')", "0"], ["EVAL", "return cmsgpack.unpack('\\129\\202\\127\\192\\0\\0\\1')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\221\\255\\255\\255\\255')", "0"],
        ["EVAL", "return cmsgpack.unpack('\\223\\0\\1\\0\\0\\1')", "0"], ["EVAL", "return cmsgpack.unpack_one('\\1\\205', 1)", "0"],
        ["EVAL", "return {cmsgpack.unpack_one('\\1\\205', 0)}", "0"],
        ["EVAL", "local ok, e = pcall(cmsgpack.unpack, '\\193') return {tostring(ok), e}", "0"],
        ["EVAL", "local ok, e = pcall(cmsgpack.unpack_limit, 'x') return e", "0"],
        ["EVAL", "local ok, e = pcall(cmsgpack.pack) return e", "0"], ["EVAL", "return {pcall(cmsgpack.unpack, '\\129\\192\\1')}", "0"],
        ["EVAL", "local p = cmsgpack.pack return p()", "0"], ["EVAL", "local t = {f = cmsgpack.unpack} return t.f(nil)", "0"],
        ["EVAL", "local a = 1", "0"], ["EVAL", "return cmsgpack.unpack('\\193')", "0"],
        ["EVAL", "return cmsgpack.unpack(string.rep('\\1', 9000))", "0"],
        ["EVAL", "return #{cmsgpack.unpack(string.rep('\\1', 7999))}", "0"],
        ["EVAL", "return #{cmsgpack.unpack(string.rep('\\1', 8000))}", "0"],
        ["EVAL", "return #{cmsgpack.unpack_limit(string.rep('\\1', 9000), 7998)}", "0"],
        ["EVAL", "return #{cmsgpack.unpack_limit(string.rep('\\1', 9000), 7999)}", "0"],
        ["EVAL", "return type(cmsgpack.unpack(string.rep('\\145', 3998) .. '\\1'))", "0"],
        ["EVAL", "return type(cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1'))", "0"],
        ["EVAL", "local t = {} for i = 1, 4000 do t[i] = i end return #cmsgpack.pack(unpack(t))", "0"],
        ["EVAL", "local t = {} for i = 1, 4001 do t[i] = i end return #cmsgpack.pack(unpack(t))", "0"],
        ["EVAL", "return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}", "0"],
        ["EVAL", "cmsgpack.x = 1", "0"], ["EVAL", "cmsgpack.pack = nil", "0"],
        ["EVAL", "local a = 1\n\nreturn cmsgpack.unpack('\\193')", "0"],
        ["EVAL", "redis.call('set', KEYS[1], cmsgpack.pack({1, 'two', {three = 3}})) return redis.call('get', KEYS[1])", "1", "{m}k"],
        ["GET", "{m}k"]
    ),
    case!("the struct library",
        ["EVAL", "return struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4294967295)", "0"],
        ["EVAL", "return struct.pack('>bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4294967295)", "0"],
        ["EVAL", "return struct.pack('<i1i2i3i5i8i12I3', -1, 2, -3, 4, -5, 6, 7)", "0"],
        ["EVAL", "return struct.pack('>i1i2i3i5i8i12I3', -1, 2, -3, 4, -5, 6, 7)", "0"],
        ["EVAL", "return struct.pack('<i16>i16', -1, -1)", "0"], ["EVAL", "return struct.pack('fd', 1.5, -2.25)", "0"],
        ["EVAL", "return struct.pack('>fd', 1.5, -2.25)", "0"],
        ["EVAL", "return struct.pack('fdfdd', 1e300, 1/0, 0.1, -0.0, 1e-300)", "0"], ["EVAL", "return struct.pack('b', 1.9, 2)", "0"],
        ["EVAL", "return struct.pack('bBhHiIlL', 300, -1, 70000, -1, 2^31, -1, 2^63, 2^64)", "0"],
        ["EVAL", "return struct.pack('>L>l>L', 0/0, -1e30, 2^63 + 2^12)", "0"],
        ["EVAL", "return struct.pack('bif', '12', ' 0x10 ', '2.5')", "0"], ["EVAL", "return struct.pack('sxs', 'ab', 'c\\0d')", "0"],
        ["EVAL", "return struct.pack('c0c3c', 'hello', 'abcdef', 'Z')", "0"], ["EVAL", "return struct.pack('c', '')", "0"],
        ["EVAL", "return struct.pack('s', 12)", "0"], ["EVAL", "return struct.pack('c2c0', 12, 3.5)", "0"],
        ["EVAL", "return struct.pack('!4bi!2bhd!bd', 1, 2, 3, 4, 5, 6, 7)", "0"], ["EVAL", "return struct.pack('!bxi', 1, 2)", "0"],
        ["EVAL", "return struct.pack('!8bd!16bd', 1, 2, 3, 4)", "0"], ["EVAL", "return struct.pack('!4 b i3 bh', 1, 2, 3, 4)", "0"],
        ["EVAL", "return struct.pack('!4bc3i', 1, 'xyz', 5)", "0"], ["EVAL", "return struct.pack('!4bsi', 1, 'xy', 5)", "0"],
        ["EVAL", "return struct.pack('< > ')", "0"], ["EVAL", "return struct.pack('b\\0b', 1, 2)", "0"],
        ["EVAL", "return {struct.unpack('bBhHlLTiI', struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4294967295))}", "0"],
        ["EVAL", "return {struct.unpack('>bBhHlLTiI', struct.pack('>bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4294967295))}", "0"],
        ["EVAL", "return {struct.unpack('>i3I3<i3I3', struct.pack('>i3I3<i3I3', -5, 70000, -6, 80000))}", "0"],
        ["EVAL", "return {struct.unpack('<i12', struct.pack('<i12', -7))}", "0"],
        ["EVAL", "return {struct.unpack('>i9', '\\1\\255\\255\\255\\255\\255\\255\\255\\0')}", "0"],
        ["EVAL", "return {tostring(struct.unpack('>I12', string.rep('\\255', 12))), tostring(struct.unpack('L', string.rep('\\255', 8)))}", "0"],
        ["EVAL", "return {struct.unpack('<i0', '')}", "0"],
        ["EVAL", "local a, b, c = struct.unpack('fd', struct.pack('fd', 1.5, 0.1)) return {tostring(a), tostring(b), c}", "0"],
        ["EVAL", "local a, b, c = struct.unpack('>fd', struct.pack('>fd', 1/3, -1e300)) return {tostring(a), tostring(b), c}", "0"],
        ["EVAL", "local a, b = struct.unpack('dd', struct.pack('dd', -0.0, 1e-300)) return {tostring(a), tostring(b)}", "0"],
        ["EVAL", "return {struct.unpack('sxs', struct.pack('sxs', 'ab', 'cd'))}", "0"],
        ["EVAL", "return {struct.unpack('s', 'abc\\0def')}", "0"], ["EVAL", "return {struct.unpack('c2c0', 'ab3xyzw')}", "0"],
        ["EVAL", "return {struct.unpack('bc0b', '\\2hi\\7')}", "0"], ["EVAL", "return {struct.unpack('c1c0', '3abcd')}", "0"],
        ["EVAL", "return {struct.unpack('c1c0', ' 2 abc')}", "0"], ["EVAL", "return {struct.unpack('sc0', '2\\0abc')}", "0"],
        ["EVAL", "return {struct.unpack('bc0', '\\0abc')}", "0"], ["EVAL", "return {struct.unpack('b', 'abc', 2)}", "0"],
        ["EVAL", "return {struct.unpack('b', 'abc', 3)}", "0"], ["EVAL", "return {struct.unpack('bb', 'abc', '2')}", "0"],
        ["EVAL", "return {struct.unpack('', 'abc', 10)}", "0"], ["EVAL", "return {struct.unpack('', '', -5)}", "0"],
        ["EVAL", "return {struct.unpack('!4bi', '\\1\\0\\0\\0\\2\\0\\0\\0')}", "0"],
        ["EVAL", "return {struct.unpack('>!2bh', '\\1\\0\\0\\3')}", "0"], ["EVAL", "return {struct.unpack(' <bh', '\\1\\2\\3')}", "0"],
        ["EVAL", "return {struct.unpack('x', 'a')}", "0"], ["EVAL", "return {struct.unpack('bxb', 'a-b')}", "0"],
        ["EVAL", "return struct.size('bBhHlLTiIfdxc5i3')", "0"], ["EVAL", "return struct.size('!4bi!8bd')", "0"],
        ["EVAL", "return {struct.size('!bd'), struct.size('!2bd'), struct.size(''), struct.size('c'), struct.size('<>  '), struct.size('y9q'), struct.size('zi5')}", "0"],
        ["EVAL", "return struct.size(12)", "0"], ["EVAL", "return struct.size('s')", "0"], ["EVAL", "return struct.size('c0')", "0"],
        ["EVAL", "return struct.size('bs')", "0"], ["EVAL", "return struct.size('!3')", "0"], ["EVAL", "return struct.size('i33')", "0"],
        ["EVAL", "return struct.size()", "0"], ["EVAL", "return struct.size('%')", "0"], ["EVAL", "return struct.size('z#')", "0"],
        ["EVAL", "return struct.pack('c5', 'ab')", "0"], ["EVAL", "return struct.pack(5)", "0"], ["EVAL", "return struct.pack()", "0"],
        ["EVAL", "return struct.pack({})", "0"], ["EVAL", "return struct.pack('y')", "0"], ["EVAL", "return struct.pack('b y', 1)", "0"],
        ["EVAL", "return struct.pack('b', 'x')", "0"], ["EVAL", "return struct.pack('b')", "0"],
        ["EVAL", "return struct.pack('bb', 1)", "0"], ["EVAL", "return struct.pack('c')", "0"],
        ["EVAL", "return struct.pack('s', {})", "0"], ["EVAL", "return struct.pack('i', {})", "0"],
        ["EVAL", "return struct.pack('i33', 1)", "0"], ["EVAL", "return #struct.pack('i32', 1)", "0"],
        ["EVAL", "return struct.pack('i99999999999', 1)", "0"], ["EVAL", "return struct.pack('!3')", "0"],
        ["EVAL", "return struct.pack('!0')", "0"], ["EVAL", "return #struct.pack('!')", "0"],
        ["EVAL", "return struct.unpack('b', 'abc', 4)", "0"], ["EVAL", "return struct.unpack('b', 'abc', 0)", "0"],
        ["EVAL", "return struct.unpack('b', 'abc', -1)", "0"], ["EVAL", "return struct.unpack('b', 'abc', 'x')", "0"],
        ["EVAL", "return struct.unpack('i', 'abc')", "0"], ["EVAL", "return struct.unpack('s', 'abc')", "0"],
        ["EVAL", "return struct.unpack('!4bi', '\\1\\0\\0\\0\\2\\0\\0')", "0"], ["EVAL", "return struct.unpack('x', '')", "0"],
        ["EVAL", "return struct.unpack('c0', 'abc')", "0"], ["EVAL", "return struct.unpack('bc0', '\\4abc')", "0"],
        ["EVAL", "return struct.unpack('sc0', 'x\\0abc')", "0"], ["EVAL", "return struct.unpack('bc0', '\\255abcd')", "0"],
        ["EVAL", "return struct.unpack('b')", "0"], ["EVAL", "return struct.unpack(nil, 'x')", "0"],
        ["EVAL", "return struct.unpack('b', {})", "0"], ["EVAL", "return struct.unpack('y', 'x')", "0"],
        ["EVAL", "return struct.unpack('i40', 'x')", "0"], ["EVAL", "local ok, e = pcall(struct.size, 's') return e", "0"],
        ["EVAL", "local ok, e = pcall(struct.unpack, 'b', '') return e", "0"],
        ["EVAL", "local ok, e = pcall(struct.pack, 'i40') return e", "0"],
        ["EVAL", "local ok, e = pcall(struct.pack, 'i', {}) return e", "0"], ["EVAL", "return {pcall(struct.pack, 'b', 300)}", "0"],
        ["EVAL", "local s = struct.pack local ok, e = pcall(function() return s('y') end) return e", "0"],
        ["EVAL", "local t = {} for i = 1, 7996 do t[i] = 'b' end return #{struct.unpack(table.concat(t), string.rep('\\0', 8000), 1)}", "0"],
        ["EVAL", "local t = {} for i = 1, 7997 do t[i] = 'b' end return #{struct.unpack(table.concat(t), string.rep('\\0', 8000), 1)}", "0"],
        ["EVAL", "return #struct.pack('c0', string.rep('a', 100000))", "0"], ["EVAL", "struct.x = 1", "0"],
        ["EVAL", "local a = 1\nlocal f = function() return struct.size('s') end\nreturn f()", "0"],
        ["EVAL", "return redis.call('set', KEYS[1], struct.pack('>I2s', 513, 'v'))", "1", "{m}s"], ["GET", "{m}s"]
    ),
];
#[rustfmt::skip]
static TRANSACTIONS: &[Case] = &[
    case!("multi exec basics",
        ["MULTI"], ["SET", "{t}a", "1"], ["INCR", "{t}a"], ["GET", "{t}a"], ["LPUSH", "{t}a", "x"], ["PING"],
        ["ECHO", "hi"], ["HSET", "{t}h", "f", "v"], ["HGETALL", "{t}h"], ["EXEC"], ["GET", "{t}a"],
        ["MULTI"], ["EXEC"], ["multi"], ["get", "{t}a"], ["exec"]
    ),
    case!("exec and discard without multi, nested multi",
        ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["SET", "{t}a", "1"], ["EXEC"], ["GET", "{t}a"],
        ["MULTI", "x"], ["EXEC", "x"], ["DISCARD", "x"], ["WATCH"], ["UNWATCH", "x"]
    ),
    case!("errors while queueing abort exec",
        ["MULTI"], ["SET", "{t}a", "1"], ["NOSUCH", "x"], ["EXEC"], ["EXISTS", "{t}a"],
        ["MULTI"], ["SET", "{t}a"], ["SET", "{t}a", "1"], ["EXEC"], ["EXISTS", "{t}a"],
        ["MULTI"], ["CLIENT", "NOSUCH"], ["EXEC"],
        ["MULTI"], ["SHUTDOWN"], ["SET", "{t}a", "1"], ["EXEC"], ["EXISTS", "{t}a"]
    ),
    case!("errors while running are replies in place",
        ["MULTI"], ["SET", "{t}a", "x"], ["INCR", "{t}a"], ["SET", "{t}a", "1", "EX", "0"], ["SET", "{t}b", "v", "XX", "NX"],
        ["LPOP", "{t}a"], ["SET", "{t}b", "v"], ["INCRBYFLOAT", "{t}a", "abc"], ["EXEC"], ["GET", "{t}a"], ["GET", "{t}b"]
    ),
    case!("discard",
        ["MULTI"], ["SET", "{t}a", "1"], ["DISCARD"], ["GET", "{t}a"], ["EXEC"], ["DISCARD"]
    ),
    case!("reads see the writes before them",
        ["SET", "{t}a", "1"], ["MULTI"], ["GET", "{t}a"], ["SET", "{t}a", "2"], ["GET", "{t}a"], ["DEL", "{t}a"],
        ["GET", "{t}a"], ["RPUSH", "{t}l", "a", "b", "c"], ["LRANGE", "{t}l", "0", "-1"], ["EXEC"],
        ["LRANGE", "{t}l", "0", "-1"]
    ),
    case!("blocking pops do not wait in a transaction",
        ["MULTI"], ["BLPOP", "{t}l", "0"], ["RPUSH", "{t}l", "a", "b"], ["BLPOP", "{t}m", "{t}l", "0"],
        ["BLMOVE", "{t}l", "{t}d", "LEFT", "RIGHT", "0"], ["BRPOPLPUSH", "{t}l", "{t}d", "0"], ["ZADD", "{t}z", "1", "m"],
        ["BZPOPMIN", "{t}z", "0"], ["BZMPOP", "0", "1", "{t}z", "MIN"], ["SET", "{t}s", "x"], ["BLPOP", "{t}s", "0"],
        ["EXEC"], ["LRANGE", "{t}d", "0", "-1"]
    ),
    case!("watch: a write before exec aborts it",
        ["WATCH", "{t}a"], ["SET", "{t}a", "1"], ["MULTI"], ["GET", "{t}a"], ["EXEC"],
        ["MULTI"], ["GET", "{t}a"], ["EXEC"],
        ["SET", "{t}b", "1"], ["WATCH", "{t}b"], ["INCR", "{t}b"], ["MULTI"], ["SET", "{t}c", "1"], ["EXEC"], ["EXISTS", "{t}c"]
    ),
    case!("watch: unchanged keys let exec run",
        ["SET", "{t}a", "1"], ["WATCH", "{t}a", "{t}missing"], ["GET", "{t}a"], ["EXISTS", "{t}missing"], ["MULTI"],
        ["INCR", "{t}a"], ["EXEC"], ["GET", "{t}a"],
        ["WATCH", "{t}a"], ["MULTI"], ["SET", "{t}a", "5"], ["EXEC"], ["GET", "{t}a"]
    ),
    case!("watch: an absent key created, or deleted, aborts",
        ["WATCH", "{t}x"], ["SET", "{t}x", "1"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "{t}x"], ["DEL", "{t}x"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "{t}y"], ["SET", "{t}y", "1"], ["DEL", "{t}y"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "{t}y"], ["DEL", "{t}y"], ["MULTI"], ["PING"], ["EXEC"]
    ),
    case!("watch: unwatch, discard and exec forget the keys",
        ["WATCH", "{t}a"], ["SET", "{t}a", "2"], ["UNWATCH"], ["MULTI"], ["GET", "{t}a"], ["EXEC"],
        ["WATCH", "{t}a"], ["SET", "{t}a", "3"], ["MULTI"], ["DISCARD"], ["MULTI"], ["GET", "{t}a"], ["EXEC"],
        ["WATCH", "{t}a"], ["MULTI"], ["WATCH", "{t}b"], ["EXEC"], ["SET", "{t}b", "1"], ["MULTI"], ["GET", "{t}a"], ["EXEC"]
    ),
    case!("watch: expiry counts as a change",
        ["SET", "{t}a", "1", "PX", "100"], ["WATCH", "{t}a"], sleep [250], ["MULTI"], ["GET", "{t}a"], ["EXEC"],
        ["SET", "{t}b", "1", "EX", "100"], ["WATCH", "{t}b"], ["EXPIRE", "{t}b", "200"], ["MULTI"], ["GET", "{t}b"], ["EXEC"]
    ),
    case!("watch: flushall aborts a watched key that existed",
        ["SET", "{t}a", "1"], ["WATCH", "{t}a"], ["FLUSHALL"], ["MULTI"], ["PING"], ["EXEC"],
        ["WATCH", "{t}gone"], ["FLUSHALL"], ["MULTI"], ["PING"], ["EXEC"]
    ),
    case!("transactions in resp3",
        shape ["HELLO", "3"], ["MULTI"], ["SET", "{t}a", "1"], ["HSET", "{t}h", "f", "v"], ["HGETALL", "{t}h"],
        ["SMEMBERS", "{t}nokey"], ["GET", "{t}nokey"], ["ZADD", "{t}z", "1.5", "m"], ["ZSCORE", "{t}z", "m"], ["EXEC"],
        ["WATCH", "{t}a"], ["SET", "{t}a", "2"], ["MULTI"], ["GET", "{t}a"], ["EXEC"]
    ),
    case!("reset ends a transaction",
        ["WATCH", "{t}a"], ["MULTI"], ["SET", "{t}a", "1"], ["RESET"], ["EXEC"], ["GET", "{t}a"]
    ),
];

/// SORT and SORT_RO; every key and pattern carries the `{s}` tag (BY and GET patterns must stay
/// in the sorted key's slot on a cluster node).
#[rustfmt::skip]
static SORT: &[Case] = &[
    case!("sort numbers",
        ["RPUSH", "{s}l", "3", "1", "2", "10", "-1.5", "1e2", "0x10", "inf", "-inf", "1", "01", "1.0"], ["SORT", "{s}l"],
        ["SORT", "{s}l", "DESC"], ["SORT", "{s}l", "ASC"], ["SORT_RO", "{s}l", "desc", "asc"], ["SORT", "{s}l", "LIMIT", "2", "3"],
        ["SORT", "{s}l", "LIMIT", "-5", "2"], ["SORT", "{s}l", "LIMIT", "10", "100"], ["SORT", "{s}l", "LIMIT", "100", "1"],
        ["SORT", "{s}l", "LIMIT", "0", "0"], ["SORT", "{s}l", "LIMIT", "0", "-7"], ["SORT", "{s}l", "LIMIT", "3", "-1", "DESC"],
        ["SORT", "{s}l", "ALPHA"], ["SORT", "{s}l", "ALPHA", "DESC", "LIMIT", "1", "4"], ["SORT", "{s}nokey"],
        ["SORT", "{s}nokey", "LIMIT", "0", "5", "GET", "#", "GET", "#"]
    ),
    case!("sort what is not a number",
        ["RPUSH", "{s}l", "1", "x"], ["SORT", "{s}l"], ["SORT", "{s}l", "ALPHA"], ["RPUSH", "{s}n", "nan"], ["SORT", "{s}n"],
        ["RPUSH", "{s}e", "", " 2", "1"], ["SORT", "{s}e"], ["RPUSH", "{s}t", "1 "], ["SORT", "{s}t"], ["RPUSH", "{s}o", "1e400"],
        ["SORT", "{s}o"], ["RPUSH", "{s}sp", "  "], ["SORT", "{s}sp"], ["SORT", "{s}l", "STORE", "{s}d"], ["EXISTS", "{s}d"]
    ),
    case!("sort alpha and bytes",
        ["RPUSH", "{s}l", "b", "a", "B", "ab", "", "a\0z", "a\0b", "\u{ff}", "aa"], ["SORT", "{s}l", "ALPHA"],
        ["SORT", "{s}l", "ALPHA", "DESC"], ["SORT", "{s}l", "ALPHA", "STORE", "{s}d"], ["LRANGE", "{s}d", "0", "-1"]
    ),
    case!("sort sets and sorted sets",
        ["SADD", "{s}i", "5", "3", "-2", "10"], ["SORT", "{s}i"], ["SORT", "{s}i", "DESC", "LIMIT", "1", "2"],
        ["SORT", "{s}i", "BY", "nosort"], ["SADD", "{s}h", "pear", "apple", "fig", "kiwi", "lime"], ["SORT", "{s}h", "ALPHA"],
        ["SORT", "{s}h", "ALPHA", "DESC"], ["SORT", "{s}h"], ["SORT", "{s}h", "BY", "nosort", "STORE", "{s}d"],
        ["LRANGE", "{s}d", "0", "-1"], ["ZADD", "{s}z", "1", "30", "2", "10", "3", "20", "4", "5"], ["SORT", "{s}z"],
        ["SORT", "{s}z", "BY", "nosort"], ["SORT", "{s}z", "BY", "nosort", "DESC"], ["SORT", "{s}z", "BY", "nosort", "LIMIT", "1", "2"],
        ["SORT", "{s}z", "BY", "nosort", "DESC", "LIMIT", "1", "2"], ["SORT", "{s}z", "BY", "nosort", "LIMIT", "9", "2"],
        ["SORT", "{s}z", "ALPHA", "DESC"]
    ),
    case!("sort lists by nosort",
        ["RPUSH", "{s}l", "c", "a", "b", "d"], ["SORT", "{s}l", "BY", "nosort"], ["SORT", "{s}l", "BY", "nosort", "DESC"],
        ["SORT", "{s}l", "BY", "nosort", "LIMIT", "1", "2"], ["SORT", "{s}l", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
        ["SORT", "{s}l", "BY", "nosort", "LIMIT", "-1", "9"], ["SORT", "{s}l", "BY", "nosort", "LIMIT", "4", "1"],
        ["SORT", "{s}l", "BY", "constant", "GET", "#", "STORE", "{s}d"], ["LRANGE", "{s}d", "0", "-1"]
    ),
    case!("sort by and get patterns",
        ["RPUSH", "{s}l", "1", "2", "3", "4"], ["MSET", "{s}w_1", "40", "{s}w_2", "10", "{s}w_3", "30", "{s}n_1", "one", "{s}n_3", "three"],
        ["HSET", "{s}h_1", "f", "z"], ["HSET", "{s}h_2", "f", "y", "g", "9"], ["HSET", "{s}h_4", "f", "x"],
        ["SORT", "{s}l", "BY", "{s}w_*"], ["SORT", "{s}l", "BY", "{s}w_*", "DESC"], ["SORT", "{s}l", "BY", "{s}w_*", "GET", "{s}n_*"],
        ["SORT", "{s}l", "BY", "{s}w_*", "GET", "#", "GET", "{s}n_*", "GET", "{s}h_*->f"], ["SORT", "{s}l", "BY", "{s}h_*->f", "ALPHA"],
        ["SORT", "{s}l", "BY", "{s}h_*->f", "ALPHA", "DESC"], ["SORT", "{s}l", "BY", "{s}h_*->g"], ["SORT", "{s}l", "BY", "{s}n_*", "ALPHA"],
        ["SORT", "{s}l", "GET", "{s}h_*->"], ["SORT", "{s}l", "GET", "{s}nostar"], ["SORT", "{s}l", "BY", "{s}n_*"],
        ["SORT", "{s}l", "BY", "{s}w_*", "LIMIT", "0", "2", "GET", "{s}w_*"], ["SADD", "{s}set", "1", "2", "3"],
        ["SORT", "{s}set", "BY", "{s}w_*", "GET", "#"], ["SET", "{s}w_4", "notanumber"], ["SORT", "{s}l", "BY", "{s}w_*"],
        ["HSET", "{s}w_1", "f", "v"], ["DEL", "{s}w_4"], ["SORT", "{s}l", "BY", "{s}w_*"]
    ),
    case!("sort store",
        ["RPUSH", "{s}l", "3", "1", "2"], ["SET", "{s}d", "old", "EX", "100"], ["SORT", "{s}l", "STORE", "{s}d"], ["TTL", "{s}d"],
        ["LRANGE", "{s}d", "0", "-1"], ["TYPE", "{s}d"], ["SORT", "{s}l", "DESC", "STORE", "{s}d"], ["LRANGE", "{s}d", "0", "-1"],
        ["SORT", "{s}l", "GET", "{s}none_*", "GET", "#", "STORE", "{s}d"], ["LRANGE", "{s}d", "0", "-1"],
        ["SORT", "{s}nokey", "STORE", "{s}d"], ["EXISTS", "{s}d"], ["SORT", "{s}l", "LIMIT", "5", "5", "STORE", "{s}d"],
        ["SORT", "{s}l", "STORE", "{s}l"], ["LRANGE", "{s}l", "0", "-1"], ["SORT", "{s}l", "STORE", "{s}a", "STORE", "{s}b"],
        ["EXISTS", "{s}a", "{s}b"], ["OBJECT", "ENCODING", "{s}b"]
    ),
    case!("sort errors",
        ["SET", "{s}str", "v"], ["SORT", "{s}str"], ["SORT", "{s}str", "BY", "nosort"], ["HSET", "{s}hash", "f", "v"],
        ["SORT_RO", "{s}hash"], ["RPUSH", "{s}l", "1"], ["SORT", "{s}l", "LIMIT", "1"], ["SORT", "{s}l", "LIMIT", "a", "1"],
        ["SORT", "{s}l", "LIMIT", "1", "b"], ["SORT", "{s}l", "FOO"], ["SORT", "{s}l", "BY"], ["SORT", "{s}l", "GET"],
        ["SORT", "{s}l", "STORE"], ["SORT_RO", "{s}l", "STORE", "{s}d"], ["SORT", "{s}l", "ALPHA", "DESC", "ASC", "BYX"],
        ["SORT"], ["SORT_RO"], ["SORT", "{s}str", "LIMIT", "x", "1"], ["SORT", "{s}l", "LIMIT", "9223372036854775807", "9223372036854775807"]
    ),
    case!("sort in resp3",
        shape ["HELLO", "3"], ["RPUSH", "{s}l", "2", "1"], ["SET", "{s}n_1", "one"], ["SORT", "{s}l", "GET", "{s}n_*", "GET", "#"],
        ["SORT", "{s}nokey"], ["SORT", "{s}l", "STORE", "{s}d"]
    ),
];

/// The encodings' thresholds through CONFIG SET / GET, and what OBJECT ENCODING answers after.
#[rustfmt::skip]
static ENCODINGS: &[Case] = &[
    case!("encoding settings",
        ["CONFIG", "GET", "hash-max-listpack-entries"], ["CONFIG", "GET", "hash-max-ziplist-value"], ["CONFIG", "GET", "set-max-intset-entries"],
        ["CONFIG", "GET", "zset-max-listpack-entries"], ["CONFIG", "GET", "zset-max-ziplist-value"], ["CONFIG", "GET", "list-max-listpack-size"],
        ["CONFIG", "GET", "list-max-ziplist-size"], sorted ["CONFIG", "GET", "*-max-*-entries"], sorted ["CONFIG", "GET", "hash-max-*"],
        ["CONFIG", "SET", "hash-max-listpack-entries", "-1"], ["CONFIG", "SET", "hash-max-listpack-entries", "abc"],
        ["CONFIG", "SET", "set-max-intset-entries", "1.5"], ["CONFIG", "SET", "list-max-listpack-size", "2147483648"],
        ["CONFIG", "SET", "list-max-ziplist-size", "x"], ["CONFIG", "GET", "hash-max-listpack-entries"]
    ),
    case!("encodings follow the settings",
        ["CONFIG", "SET", "hash-max-listpack-entries", "2"], ["HSET", "h", "a", "1", "b", "2"], ["OBJECT", "ENCODING", "h"],
        ["HSET", "h", "c", "3"], ["OBJECT", "ENCODING", "h"], ["CONFIG", "SET", "hash-max-ziplist-entries", "512"],
        ["CONFIG", "GET", "hash-max-listpack-entries"], ["HDEL", "h", "c"], ["OBJECT", "ENCODING", "h"],
        ["CONFIG", "SET", "hash-max-listpack-value", "3"], ["HSET", "g", "f", "abc"], ["OBJECT", "ENCODING", "g"],
        ["HSET", "g", "f", "abcd"], ["OBJECT", "ENCODING", "g"], ["HGETALL", "g"], ["CONFIG", "SET", "hash-max-listpack-value", "64"],
        ["CONFIG", "SET", "set-max-intset-entries", "2"], ["SADD", "s", "1", "2"], ["OBJECT", "ENCODING", "s"], ["SADD", "s", "3"],
        ["OBJECT", "ENCODING", "s"], ["SORT", "s"], ["CONFIG", "SET", "set-max-intset-entries", "512"],
        ["CONFIG", "SET", "zset-max-listpack-entries", "1"], ["ZADD", "z", "1", "a"], ["OBJECT", "ENCODING", "z"], ["ZADD", "z", "2", "b"],
        ["OBJECT", "ENCODING", "z"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["CONFIG", "SET", "zset-max-listpack-entries", "128"],
        ["CONFIG", "SET", "zset-max-listpack-value", "2"], ["ZADD", "y", "1", "ab"], ["OBJECT", "ENCODING", "y"], ["ZADD", "y", "1", "abc"],
        ["OBJECT", "ENCODING", "y"], ["CONFIG", "SET", "zset-max-listpack-value", "64"], ["CONFIG", "SET", "hash-max-listpack-entries", "0"],
        ["HSET", "zero", "f", "v"], ["OBJECT", "ENCODING", "zero"], ["CONFIG", "SET", "hash-max-listpack-entries", "512"]
    ),
    case!("lists under every node size",
        ["CONFIG", "SET", "list-max-listpack-size", "1"], ["RPUSH", "l", "a", "b", "c", "d"], ["LINSERT", "l", "BEFORE", "c", "x"],
        ["LRANGE", "l", "0", "-1"], ["OBJECT", "ENCODING", "l"], ["LREM", "l", "0", "b"], ["LSET", "l", "1", "y"], ["LRANGE", "l", "0", "-1"],
        ["CONFIG", "SET", "list-max-listpack-size", "-1"], ["RPUSH", "l", "e", "f"], ["LTRIM", "l", "1", "-2"], ["LRANGE", "l", "0", "-1"],
        ["CONFIG", "SET", "list-max-listpack-size", "0"], ["LPUSH", "m", "1", "2", "3"], ["LPOP", "m", "2"], ["LRANGE", "m", "0", "-1"],
        ["CONFIG", "SET", "list-max-ziplist-size", "-5"], ["RPUSH", "m", "4"], ["LINDEX", "m", "-1"], ["CONFIG", "GET", "list-max-listpack-size"],
        ["CONFIG", "SET", "list-max-listpack-size", "-2"]
    ),
];

#[rustfmt::skip]
static KEYSPACE: &[Case] = &[
    case!("del unlink",
        ["MSET", "a", "1", "b", "2", "c", "3"], ["DEL", "a", "b", "x"], ["DEL", "a"], ["EXISTS", "a", "b", "c"],
        ["UNLINK", "c", "c"], ["UNLINK", "zz"], ["DEL", "q", "q"], ["DEL"], ["UNLINK"]
    ),
    case!("multi-key counts across slots",
        ["MSET", "k1", "1", "k2", "2", "k3", "3", "k4", "4", "k5", "5", "k6", "6"],
        ["EXISTS", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k1"], ["TOUCH", "k6", "k5", "k7", "k6"],
        ["DEL", "k1", "k2", "k7", "k1"], ["UNLINK", "k3", "k4", "k3"], ["EXISTS", "k1", "k2", "k3", "k4", "k5", "k6"],
        ["DBSIZE"]
    ),
    case!("exists repeats",
        ["SET", "a", "1"], ["EXISTS", "a", "a", "a"], ["EXISTS", "a", "b"], ["EXISTS", "b"], ["EXISTS"]
    ),
    case!("type touch",
        ["SET", "a", "1"], ["TYPE", "a"], ["TYPE", "none"], ["TOUCH", "a", "a", "b"], ["TOUCH", "b"], ["TOUCH"],
        ["TYPE"], ["TYPE", "a", "b"]
    ),
    case!("expire basic",
        ["SET", "k", "v"], ["EXPIRE", "k", "100"], ttl ["TTL", "k"], ttl ["PTTL", "k"], ["PEXPIRE", "k", "200000"],
        ttl ["PTTL", "k"], ttl ["TTL", "k"], ["EXPIRE", "missing", "100"], ["PEXPIRE", "missing", "100"],
        ["TTL", "missing"], ["PTTL", "missing"], ["SET", "n", "v"], ["TTL", "n"], ["PTTL", "n"]
    ),
    case!("expire options",
        ["SET", "k", "v"], ["EXPIRE", "k", "100", "XX"], ["EXPIRE", "k", "100", "NX"], ["EXPIRE", "k", "200", "NX"],
        ttl ["TTL", "k"], ["EXPIRE", "k", "200", "XX"], ["EXPIRE", "k", "50", "GT"], ["EXPIRE", "k", "300", "GT"],
        ["EXPIRE", "k", "400", "LT"], ["EXPIRE", "k", "100", "LT"], ttl ["TTL", "k"],
        ["EXPIRE", "k", "500", "XX", "GT"], ["PERSIST", "k"], ["EXPIRE", "k", "100", "GT"], ["TTL", "k"],
        ["EXPIRE", "k", "100", "LT"], ttl ["TTL", "k"], ["EXPIRE", "k", "100", "nx"], ["EXPIRE", "k", "1000", "gt"],
        ttl ["TTL", "k"], ["PEXPIRE", "k", "5000000", "GT"], ttl ["PTTL", "k"], ["EXPIRE", "missing", "10", "NX"]
    ),
    case!("expire bad options",
        ["SET", "k", "v"], ["EXPIRE", "k", "100", "NX", "XX"], ["EXPIRE", "k", "100", "GT", "LT"],
        ["EXPIRE", "k", "100", "NX", "GT"], ["EXPIRE", "k", "100", "NX", "LT"], ["EXPIRE", "k", "100", "FOO"],
        ["EXPIRE", "k", "abc"], ["EXPIRE", "k", "1.5"], ["EXPIRE", "k", ""], ["EXPIRE", "k"], ["PEXPIRE", "k"],
        ["EXPIREAT", "k"], ["EXPIRE", "k", "9223372036854775807"], ["EXPIRE", "k", "-9223372036854775808"],
        ["PEXPIRE", "k", "9223372036854775807"], ["EXPIREAT", "k", "9223372036854775807"],
        ["EXPIRE", "k", "99999999999999999999"], ["TTL", "k"], ["EXISTS", "k"]
    ),
    case!("expire huge pexpireat",
        ["SET", "k", "v"], ["PEXPIREAT", "k", "9223372036854775807"], ttl ["PTTL", "k"], ["PEXPIRETIME", "k"]
    ),
    case!("expire in the past deletes",
        ["SET", "k", "v"], ["EXPIRE", "k", "-1"], ["EXISTS", "k"], ["SET", "k", "v"], ["PEXPIRE", "k", "0"],
        ["GET", "k"], ["SET", "k", "v"], ["EXPIREAT", "k", "1"], ["EXISTS", "k"], ["SET", "k", "v"],
        ["PEXPIREAT", "k", "1000"], ["EXISTS", "k"], ["SET", "k", "v"], ["EXPIRE", "k", "0", "XX"], ["EXISTS", "k"],
        ["EXPIRE", "k", "0", "NX"], ["EXISTS", "k"], ["EXPIRE", "missing", "-1"]
    ),
    case!("expireat exact",
        ["SET", "k", "v"], ["EXPIREAT", "k", FAR], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"],
        ["PEXPIREAT", "k", "4102444800600"], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"],
        ["PEXPIREAT", "k", "4102444800400"], ["EXPIRETIME", "k"], ["EXPIREAT", "k", "4102444900", "LT"],
        ["EXPIREAT", "k", "4102444900", "GT"], ["EXPIRETIME", "k"], ["EXPIREAT", "k", FAR, "NX"],
        ["EXPIREAT", "k", FAR, "XX"], ["PEXPIRETIME", "k"], ["EXPIRETIME", "missing"], ["PEXPIRETIME", "missing"],
        ["SET", "n", "v"], ["EXPIRETIME", "n"], ["PEXPIRETIME", "n"], ["EXPIRETIME"], ["PEXPIRETIME", "a", "b"]
    ),
    case!("persist",
        ["SET", "k", "v", "EX", "100"], ["PERSIST", "k"], ["TTL", "k"], ["PERSIST", "k"], ["PERSIST", "missing"],
        ["PERSIST"], ["PERSIST", "a", "b"]
    ),
    case!("rename",
        ["SET", "{t}a", "1"], ["RENAME", "{t}a", "{t}b"], ["GET", "{t}a"], ["GET", "{t}b"],
        ["RENAME", "{t}missing", "{t}x"], ["RENAME", "{t}b", "{t}b"], ["GET", "{t}b"],
        ["RENAME", "{t}missing", "{t}missing"], ["SET", "{t}c", "3"], ["RENAME", "{t}b", "{t}c"], ["GET", "{t}c"],
        ["EXISTS", "{t}b"], ["RENAME", "{t}c"], ["RENAME"]
    ),
    case!("rename ttl",
        ["SET", "{t}a", "1", "EX", "100"], ["RENAME", "{t}a", "{t}b"], ttl ["TTL", "{t}b"],
        ["SET", "{t}c", "1", "EX", "100"], ["SET", "{t}d", "1"], ["RENAME", "{t}d", "{t}c"], ["TTL", "{t}c"]
    ),
    case!("renamenx",
        ["SET", "{t}a", "1"], ["SET", "{t}b", "2"], ["RENAMENX", "{t}a", "{t}b"], ["RENAMENX", "{t}a", "{t}c"],
        ["MGET", "{t}a", "{t}b", "{t}c"], ["RENAMENX", "{t}c", "{t}c"], ["RENAMENX", "{t}missing", "{t}d"],
        ["RENAMENX", "{t}a"]
    ),
    case!("copy",
        ["SET", "{t}a", "1"], ["COPY", "{t}a", "{t}b"], ["GET", "{t}b"], ["COPY", "{t}a", "{t}b"],
        ["SET", "{t}a", "2"], ["COPY", "{t}a", "{t}b", "REPLACE"], ["GET", "{t}b"],
        ["COPY", "{t}a", "{t}b", "replace"], ["COPY", "{t}a", "{t}a"], ["COPY", "{t}missing", "{t}b"],
        ["COPY", "{t}missing", "{t}missing"], ["COPY", "{t}a", "{t}c", "DB", "0"], ["COPY", "{t}a", "{t}d", "FOO"],
        ["COPY", "{t}a", "{t}d", "DB"], ["COPY", "{t}a", "{t}d", "DB", "abc"], ["COPY", "{t}a"], ["EXISTS", "{t}d"]
    ),
    case!("copy ttl and encoding",
        ["SET", "{t}e", "v", "EX", "100"], ["COPY", "{t}e", "{t}f"], ttl ["TTL", "{t}f"], ["SET", "{t}i", "42"],
        ["COPY", "{t}i", "{t}j"], ["OBJECT", "ENCODING", "{t}j"], ["INCR", "{t}j"], ["GET", "{t}i"]
    ),
    case!("keys patterns",
        ["MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1", "h*llo", "1", "h?llo", "1", "h[a]llo", "1", "hbllo", "1", "other", "1"],
        sorted ["KEYS", "*"], sorted ["KEYS", "h?llo"], sorted ["KEYS", "h*llo"], sorted ["KEYS", "h[ae]llo"],
        sorted ["KEYS", "h[^e]llo"], sorted ["KEYS", "h[a-b]llo"], sorted ["KEYS", "h[b-a]llo"],
        sorted ["KEYS", "h\\*llo"], sorted ["KEYS", "h\\?llo"], sorted ["KEYS", "h\\[a\\]llo"],
        sorted ["KEYS", "h\\ello"], sorted ["KEYS", "*llo"], sorted ["KEYS", "nomatch*"], sorted ["KEYS", "h[a"],
        sorted ["KEYS", "hello"], sorted ["KEYS", "HELLO"], sorted ["KEYS", "h[a-]llo"], sorted ["KEYS", "*\\"],
        ["KEYS"], ["KEYS", "a", "b"]
    ),
    case!("keys empty db", ["KEYS", "*"]),
    case!("scan",
        ["MSET", "k0", "v", "k1", "v", "k2", "v", "k3", "v", "k4", "v", "k5", "v", "k6", "v", "k7", "v", "k8", "v", "k9", "v", "k10", "v", "k11", "v", "k12", "v", "k13", "v", "{t}x", "v", "other", "v"],
        scan [], scan ["COUNT", "3"], scan ["MATCH", "k1*"], scan ["MATCH", "k1*", "COUNT", "2"],
        scan ["TYPE", "string"], scan ["TYPE", "list"], scan ["TYPE", "foo"],
        scan ["MATCH", "*", "TYPE", "string", "COUNT", "100"], scan ["match", "{t}*"], scan ["MATCH", "nomatch"]
    ),
    case!("scan errors",
        ["SCAN", "0"], ["SCAN", "abc"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "-1"],
        ["SCAN", "0", "COUNT", "abc"], ["SCAN", "0", "FOO"], ["SCAN", "0", "MATCH"], ["SCAN", "0", "COUNT"],
        ["SCAN", "0", "TYPE"], ["SCAN"], ["SCAN", "1.5"], ["SCAN", ""]
    ),
    case!("dbsize randomkey",
        ["DBSIZE"], ["RANDOMKEY"], ["SET", "only", "1"], ["RANDOMKEY"], ["DBSIZE"], ["MSET", "a", "1", "b", "2"],
        ["DBSIZE"], ["DBSIZE", "x"], ["RANDOMKEY", "x"]
    ),
    case!("flushdb flushall",
        ["MSET", "a", "1", "b", "2"], ["FLUSHDB"], ["DBSIZE"], ["SET", "a", "1"], ["FLUSHDB", "ASYNC"], ["DBSIZE"],
        ["SET", "a", "1"], ["FLUSHDB", "SYNC"], ["DBSIZE"], ["SET", "a", "1"], ["FLUSHALL", "ASYNC"], ["DBSIZE"],
        ["FLUSHALL", "SYNC"], ["FLUSHALL", "sync"], ["FLUSHALL", "FOO"], ["FLUSHDB", "FOO"],
        ["FLUSHALL", "SYNC", "ASYNC"], ["FLUSHDB", "ASYNC", "x"], ["DBSIZE"]
    ),
];

#[rustfmt::skip]
static EXPIRY: &[Case] = &[
    case!("px expires",
        ["SET", "k", "v", "PX", "100"], sleep [300], ["GET", "k"], ["EXISTS", "k"], ["TTL", "k"], ["PTTL", "k"],
        ["STRLEN", "k"], ["TYPE", "k"], ["OBJECT", "ENCODING", "k"], ["APPEND", "k", "x"], ["TTL", "k"], ["GET", "k"]
    ),
    case!("pexpire expires",
        ["SET", "k", "v"], ["PEXPIRE", "k", "100"], sleep [300], ["GET", "k"], ["EXISTS", "k"], ["TTL", "k"],
        ["INCR", "k"], ["TTL", "k"]
    ),
    case!("psetex and getex px expire",
        ["PSETEX", "a", "100", "v"], ["SET", "b", "v"], ["GETEX", "b", "PX", "100"], sleep [300], ["GET", "a"],
        ["GET", "b"], ["EXISTS", "a", "b"], ["SETNX", "a", "new"], ["GET", "a"]
    ),
    case!("expired keys in multi-key commands",
        ["MSET", "{t}a", "1", "{t}b", "2"], ["PEXPIRE", "{t}a", "100"], sleep [300], ["MGET", "{t}a", "{t}b"],
        sorted ["KEYS", "*"], scan [], ["EXISTS", "{t}a", "{t}b"], ["RENAME", "{t}a", "{t}c"],
        ["COPY", "{t}a", "{t}d"], ["MSETNX", "{t}a", "x", "{t}e", "y"], ["GET", "{t}a"], ["DEL", "{t}a", "{t}b"]
    ),
    case!("set clears ttl",
        ["SET", "k", "v", "EX", "100"], ttl ["TTL", "k"], ["SET", "k", "w"], ["TTL", "k"],
        ["SET", "k", "v", "EX", "100"], ["SET", "k", "x", "KEEPTTL"], ttl ["TTL", "k"], ["GET", "k"],
        ["GETSET", "k", "y"], ["TTL", "k"]
    ),
    case!("set and mset over expired keys",
        ["SET", "{t}a", "v", "PX", "100"], ["SET", "{t}b", "v", "PX", "100"], sleep [300], ["SET", "{t}a", "new"],
        ["TTL", "{t}a"], ["MSET", "{t}b", "x", "{t}c", "y"], ["TTL", "{t}b"], ["MGET", "{t}a", "{t}b", "{t}c"],
        ["DBSIZE"], ["SET", "{t}a", "z", "PXAT", "1"], ["EXISTS", "{t}a"], ["SET", "{t}b", "z", "EX", "0"],
        ["DBSIZE"]
    ),
    case!("getex persist",
        ["SET", "k", "v", "EX", "100"], ["GETEX", "k", "PERSIST"], ["TTL", "k"], ["GETEX", "k", "PERSIST"],
        ["TTL", "k"]
    ),
];

#[rustfmt::skip]
static CONNECTION: &[Case] = &[
    case!("ping echo",
        ["PING"], ["PING", "hello"], ["PING", ""], ["PING", "a", "b"], ["ping"], ["ECHO", "hi"], ["ECHO", ""],
        ["ECHO", "a\r\nb"], ["ECHO"], ["ECHO", "a", "b"]
    ),
    case!("unknown command",
        ["FOO", "a", "b"], ["FOO"], ["foo", "bar"], ["FOO", "a b", "c"], ["FOO", "a\r\nb"],
        ["FOO", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "yyyy", "zzzz"],
        ["FOO", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"], [""]
    ),
    case!("wrong arity",
        ["GET"], ["SET", "k"], ["MGET"], ["DEL"], ["INCR"], ["EXPIRE", "k"], ["TTL"], ["STRLEN", "a", "b"], ["TYPE"],
        ["KEYS"], ["DBSIZE", "x"], ["GETRANGE", "k", "0"], ["APPEND", "k"], ["RENAME", "a"], ["COPY", "a"],
        ["SELECT"], ["TIME", "x"], ["QUIT", "x"], closed []
    ),
    case!("unknown subcommand",
        ["CONFIG"], ["CONFIG", "FOO"], ["CLIENT"], ["CLIENT", "FOO"], ["OBJECT", "FOO"], ["COMMAND", "FOO"],
        ["CONFIG", "GET"], ["CLIENT", "foo", "bar"]
    ),
    case!("select", ["SELECT", "0"], ["SELECT", "abc"], ["SELECT", "0", "1"], ["PING"]),
    case!("time", shape ["TIME"], ["TIME", "x"]),
    case!("auth without password", ["AUTH", "x"], ["AUTH", "default", "x"], ["AUTH"]),
    // TIME and CLIENT ID values differ by nature: shape only. CONFIG GET with
    // several parameters answers in dict order, which redis seeds randomly.
    case!("config get",
        ["CONFIG", "GET", "maxclients"], ["CONFIG", "GET", "proto-max-bulk-len"], ["CONFIG", "GET", "timeout"],
        ["CONFIG", "GET", "MAXCLIENTS"], ["CONFIG", "GET", "nonexistent"], ["CONFIG", "GET", "nonexistent*"],
        sorted ["CONFIG", "GET", "maxclients", "timeout"]
    ),
    case!("config set errors",
        ["CONFIG", "SET", "foo", "bar"], ["CONFIG", "SET", "maxclients"], ["CONFIG", "SET"],
        ["CONFIG", "SET", "timeout", "abc"], ["CONFIG", "GET", "timeout"]
    ),
    case!("command info",
        ["COMMAND", "INFO", "get", "set", "mget", "mset", "del"], ["COMMAND", "INFO", "nosuchcmd"],
        ["COMMAND", "INFO", "GET", "nosuchcmd"]
    ),
    // Cluster clients read key positions from these.
    case!("command info strings",
        ["COMMAND", "INFO", "setnx", "setex", "psetex", "getset", "getdel", "getex", "msetnx", "incr", "decr"],
        ["COMMAND", "INFO", "incrby", "decrby", "incrbyfloat", "append", "strlen", "getrange", "substr", "setrange"]
    ),
    case!("command info keyspace",
        ["COMMAND", "INFO", "unlink", "exists", "type", "touch", "expire", "pexpire", "expireat", "pexpireat"],
        ["COMMAND", "INFO", "ttl", "pttl", "expiretime", "pexpiretime", "persist", "rename", "renamenx", "copy"],
        ["COMMAND", "INFO", "keys", "scan", "dbsize", "randomkey", "flushdb", "flushall"]
    ),
    // Container commands (CONFIG, CLIENT, ..) list subcommands in dict order, which
    // redis seeds randomly: ask for the subcommands one by one instead.
    case!("command info connection",
        ["COMMAND", "INFO", "ping", "echo", "select", "hello", "auth", "quit", "reset", "time"],
        ["COMMAND", "INFO", "config|get", "config|set", "client|setname", "client|getname", "client|id"],
        ["COMMAND", "INFO", "command|count", "command|info", "command|getkeys", "object|encoding"]
    ),
    case!("command getkeys",
        ["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"], ["COMMAND", "GETKEYS", "get", "k"],
        ["COMMAND", "GETKEYS", "set", "k", "v", "EX", "10"], ["COMMAND", "GETKEYS", "del", "a", "b"],
        ["COMMAND", "GETKEYS", "nosuch"], ["COMMAND", "GETKEYS", "nosuch", "a"], ["COMMAND", "GETKEYS", "get"],
        ["COMMAND", "GETKEYS", "get", "a", "b"], ["COMMAND", "GETKEYS", "ping"], ["COMMAND", "GETKEYS", "ping", "x"],
        ["COMMAND", "GETKEYS"]
    ),
    case!("command count", shape ["COMMAND", "COUNT"]),
    case!("client name",
        ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "conn1"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "a b"],
        ["CLIENT", "SETNAME", "a\nb"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", ""], ["CLIENT", "GETNAME"],
        ["CLIENT", "SETNAME"], ["CLIENT", "SETNAME", "a", "b"], ["CLIENT", "GETNAME", "x"],
        ["client", "setname", "x"], ["CLIENT", "GETNAME"]
    ),
    case!("client id", shape ["CLIENT", "ID"], ["CLIENT", "ID", "x"]),
    case!("quit", ["SET", "k", "v"], ["QUIT"], closed [], ["GET", "k"]),
    case!("reset",
        ["CLIENT", "SETNAME", "x"], shape ["HELLO", "3"], ["RESET"], ["CLIENT", "GETNAME"], ["GET", "nokey"],
        ["RESET", "x"]
    ),
    case!("hello errors",
        ["HELLO", "4"], ["HELLO", "1"], ["HELLO", "0"], ["HELLO", "abc"], ["HELLO", "3", "FOO"],
        ["HELLO", "3", "AUTH", "default"], ["HELLO", "3", "SETNAME"], ["GET", "nokey"]
    ),
    case!("hello variants",
        shape ["HELLO"], shape ["HELLO", "2"], shape ["HELLO", "3", "SETNAME", "named"], ["CLIENT", "GETNAME"],
        shape ["HELLO", "2", "AUTH", "default", "anything"], ["GET", "nokey"]
    ),
    case!("resp3 replies",
        shape ["HELLO", "3"], ["GET", "missing"], ["SET", "k", "v"], ["GET", "k"], ["MGET", "k", "missing"],
        ["SET", "k", "w", "GET"], ["SET", "n", "v", "XX", "GET"], ["SET", "n", "v", "NX"], ["GETDEL", "missing"],
        ["GETEX", "missing"], ["OBJECT", "ENCODING", "missing"], ["CLIENT", "GETNAME"], ["INCRBYFLOAT", "f", "1.5"],
        ["INCR", "i"], ["TTL", "missing"], ["EXISTS", "k"], ["CONFIG", "GET", "maxclients"],
        ["CONFIG", "GET", "nonexistent"], ["COMMAND", "GETKEYS", "mset", "a", "1"],
        ["COMMAND", "INFO", "get", "nosuchcmd"], ["PING"], ["PING", "x"], ["ECHO", "x"], ["FOO"], ["GET"],
        shape ["TIME"], sorted ["KEYS", "*"], scan [], ["FLUSHALL"], ["RANDOMKEY"], ["KEYS", "*"], ["SCAN", "0"],
        shape ["HELLO", "2"], ["GET", "missing"], ["CONFIG", "GET", "maxclients"]
    ),
];

/// Compared against a redis-server running in cluster mode.
/// A library of one function per name (FUNCTION LIST orders functions as redis's dict does:
/// one function per library keeps the comparison exact).
const LIB_INCR: &str = "#!lua name=incrlib\nredis.register_function('myincr', function(keys, args) return redis.call('incr', keys[1]) end)";
const LIB_INCR2: &str = "#!lua name=incrlib\nredis.register_function('myincr2', function(keys, args) return redis.call('incrby', keys[1], 2) end)";
const LIB_OTHER: &str =
    "#!lua name=other\nredis.register_function('myincr', function(keys, args) return 0 end)";
const LIB_RO: &str = "#!lua name=rolib\nredis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}";
const LIB_RO_WRITES: &str = "#!lua name=rowlib\nredis.register_function{function_name='row', callback=function(keys, args) return redis.call('set', keys[1], 'x') end, flags={'no-writes', 'allow-oom'}}";
const LIB_CALLS: &str = "#!lua name=calls\nredis.register_function('calls', function(keys, args)\n  if args[1] == 'boom' then error('boom') end\n  if args[1] == 'keys' then return KEYS end\n  if args[1] == 'pcall' then return redis.pcall('incr', keys[1]) end\n  if args[1] == 'call' then return redis.call('incr', keys[1]) end\n  if args[1] == 'reg' then return redis.register_function end\n  return {keys[1], keys[2], args[2], #keys, #args, string.len(args[1])}\nend)";

#[rustfmt::skip]
static FUNCTIONS: &[Case] = &[
    case!("function load errors",
        ["FUNCTION", "FLUSH"], ["FUNCTION", "LOAD", "return 1"], ["FUNCTION", "LOAD", "#!lua name=x"],
        ["FUNCTION", "LOAD", "#!lua\nreturn 1"], ["FUNCTION", "LOAD", "#!lua name=a name=b\nreturn 1"],
        ["FUNCTION", "LOAD", "#!lua foo=bar\nreturn 1"], ["FUNCTION", "LOAD", "#!js name=x\nreturn 1"],
        ["FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"], ["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
        ["FUNCTION", "LOAD", "#!lua name=x\nlocal x = = 1"], ["FUNCTION", "LOAD", "#!lua name=x\nlocal x = string.len('a')"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.call('set', 'a', 'b')"], ["FUNCTION", "LOAD", "#!lua name=x\nerror('boom')"],
        ["FUNCTION", "LOAD", "#!lua name=x\nx = 1"], ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function = 1"],
        ["FUNCTION", "LOAD", "#!lua name=x\nwhile true do end"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function()"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function(5)"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('h', 5)"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f-1', function() end)"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('g', function() end) redis.register_function('g', function() end)"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='h', callback=function() end, foo=1}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{callback=function() end}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='zz'}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name={}}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='q', callback=function() end, flags='no-writes'}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='q', callback=function() end, flags={'bad'}}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='q', callback=function() end, description={}}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='q', callback=5}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{[1]='a'}"], ["FUNCTION", "LOAD", "#!lua name=x\nredis.foo()"],
        ["FUNCTION", "LOAD", "REPLACE"], ["FUNCTION", "LOAD", "REPLACE", "REPLACE"], ["FUNCTION", "LOAD", "foo", "bar"],
        ["FUNCTION", "LOAD"], ["FUNCTION", "LIST"], ["FUNCTION", "STATS"]
    ),
    case!("function load, list, replace, delete",
        ["FUNCTION", "FLUSH"], ["FUNCTION", "LOAD", LIB_INCR], ["FUNCTION", "LOAD", LIB_INCR], ["FUNCTION", "LOAD", LIB_OTHER],
        ["FUNCTION", "LIST"], ["FUNCTION", "LIST", "WITHCODE"], ["FUNCTION", "LIST", "LIBRARYNAME", "incr*"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"], ["FUNCTION", "LIST", "withcode", "libraryname", "*lib"],
        ["FUNCTION", "LIST", "LIBRARYNAME"], ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"], ["FUNCTION", "LIST", "bad"],
        ["FCALL", "myincr", "1", "{f}n"], ["FUNCTION", "LOAD", "REPLACE", LIB_INCR2], ["FCALL", "myincr", "1", "{f}n"],
        ["FCALL", "myincr2", "1", "{f}n"], ["FUNCTION", "LOAD", LIB_OTHER], ["FCALL", "myincr", "1", "{f}n"],
        sorted ["FUNCTION", "LIST"], ["FUNCTION", "STATS"], ["FUNCTION", "DELETE", "incrlib"], ["FUNCTION", "DELETE", "incrlib"],
        ["FCALL", "myincr2", "1", "{f}n"], ["FUNCTION", "LIST"], ["FUNCTION", "FLUSH", "bad"], ["FUNCTION", "FLUSH", "SYNC", "x"],
        ["FUNCTION", "FLUSH", "ASYNC"], ["FUNCTION", "LIST"], ["FUNCTION", "DELETE"], ["FUNCTION", "KILL"], ["SCRIPT", "KILL"],
        ["FUNCTION", "NOSUCH"]
    ),
    case!("fcall and its errors",
        ["FUNCTION", "FLUSH"], ["FUNCTION", "LOAD", LIB_CALLS], ["FUNCTION", "LOAD", LIB_RO], ["FUNCTION", "LOAD", LIB_RO_WRITES],
        ["SET", "{f}s", "str"], ["SET", "{f}n", "5"],
        ["FCALL", "calls", "2", "{f}a", "{f}b", "hello", "x\0y"], ["FCALL", "calls", "0", "boom"], ["FCALL", "calls", "0", "keys"],
        ["FCALL", "calls", "1", "{f}s", "call"], ["FCALL", "calls", "1", "{f}s", "pcall"], ["FCALL", "calls", "1", "{f}n", "call"],
        ["FCALL", "calls", "0", "reg"], ["FCALL", "nosuch", "0"], ["FCALL", "nosuch", "x"], ["FCALL", "calls", "x"],
        ["FCALL", "calls", "-1"], ["FCALL", "calls", "3", "{f}a"], ["FCALL", "calls"], ["fcall", "calls", "0", "x"],
        ["FCALL", "ro", "1", "{f}s"], ["FCALL_RO", "ro", "1", "{f}s"], ["FCALL_RO", "calls", "1", "{f}n", "call"],
        ["FCALL_RO", "row", "1", "{f}s"], ["FCALL", "row", "1", "{f}s"], ["GET", "{f}s"], ["GET", "{f}n"],
        shape ["HELLO", "3"], ["FUNCTION", "LIST", "LIBRARYNAME", "rolib"], ["FCALL", "calls", "2", "{f}a", "{f}b", "hello", "x"],
        ["FUNCTION", "STATS"]
    ),
];

#[rustfmt::skip]
static CLUSTER: &[Case] = &[
    case!("a no-cluster script does not run on a cluster",
        ["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"], ["EVAL_RO", "#!lua flags=no-cluster\nreturn 1", "0"]
    ),
    case!("a no-cluster function does not run on a cluster",
        ["FUNCTION", "FLUSH"],
        ["FUNCTION", "LOAD", "#!lua name=nc\nredis.register_function{function_name='nc', callback=function() return 1 end, flags={'no-cluster'}}"],
        ["FCALL", "nc", "0"], ["FCALL_RO", "nc", "0"], ["FUNCTION", "FLUSH"]
    ),
    case!("select in cluster mode", ["SELECT", "0"], ["SELECT", "1"], ["SELECT", "-1"], ["SELECT", "abc"], ["PING"]),
    case!("crossslot msetnx",
        ["MSETNX", "a", "1", "b", "2"], ["EXISTS", "a"], ["EXISTS", "b"], ["MSETNX", "{t}a", "1", "{t}b", "2"],
        ["MGET", "{t}a", "{t}b"]
    ),
    case!("crossslot rename",
        ["SET", "a", "1"], ["RENAME", "a", "b"], ["RENAMENX", "a", "b"], ["RENAME", "x", "y"], ["RENAME", "a", "a"],
        ["GET", "a"], ["EXISTS", "b"]
    ),
    case!("crossslot copy",
        ["SET", "a", "1"], ["COPY", "a", "b"], ["COPY", "a", "b", "REPLACE"], ["COPY", "{t}a", "{t}b"],
        ["SET", "{t}a", "1"], ["COPY", "{t}a", "{t}b", "DB", "1"], ["COPY", "{t}a", "{t}b", "DB", "0"],
        ["GET", "{t}b"]
    ),
    case!("crossslot sort store",
        ["RPUSH", "l", "3", "1", "2"], ["SORT", "l", "STORE", "d"], ["SORT", "l", "STORE", "{l}d", "STORE", "l"],
        ["SORT", "l", "LIMIT", "0", "1", "STORE", "l"], ["SORT_RO", "l", "STORE", "d"],
        ["SORT", "l", "BY", "nosort"], ["LRANGE", "l", "0", "-1"]
    ),
    case!("readonly readwrite asking",
        ["READONLY"], ["GET", "{t}a"], ["READWRITE"], ["ASKING"], ["READONLY", "x"], ["READWRITE", "x"],
        ["ASKING", "x"]
    ),
    case!("cluster keyslot",
        ["CLUSTER", "KEYSLOT", "foo"], ["CLUSTER", "KEYSLOT", "123456789"], ["CLUSTER", "KEYSLOT", "{user1000}.following"],
        ["CLUSTER", "KEYSLOT", "{user1000}.followers"], ["CLUSTER", "KEYSLOT", "foo{}{bar}"], ["CLUSTER", "KEYSLOT", ""],
        ["CLUSTER", "KEYSLOT"], ["CLUSTER", "KEYSLOT", "a", "b"]
    ),
    case!("cluster keys in slot",
        ["CLUSTER", "COUNTKEYSINSLOT", "12182"], ["SET", "foo", "1"], ["SET", "{foo}x", "2"],
        ["CLUSTER", "COUNTKEYSINSLOT", "12182"], sorted ["CLUSTER", "GETKEYSINSLOT", "12182", "10"],
        ["CLUSTER", "GETKEYSINSLOT", "12182", "0"], ["CLUSTER", "GETKEYSINSLOT", "0", "10"],
        ["CLUSTER", "COUNTKEYSINSLOT", "16384"], ["CLUSTER", "COUNTKEYSINSLOT", "-1"],
        ["CLUSTER", "COUNTKEYSINSLOT", "abc"], ["CLUSTER", "GETKEYSINSLOT", "1", "-1"],
        ["CLUSTER", "GETKEYSINSLOT", "16384", "1"], ["CLUSTER", "GETKEYSINSLOT", "x", "1"],
        ["CLUSTER", "GETKEYSINSLOT", "1", "x"], ["CLUSTER", "COUNTKEYSINSLOT"],
        ["CLUSTER", "GETKEYSINSLOT", "1"], ["DEL", "foo"], ["CLUSTER", "COUNTKEYSINSLOT", "12182"]
    ),
    case!("cluster failover on a master", ["CLUSTER", "FAILOVER"], ["CLUSTER", "FAILOVER", "bogus"]),
    case!("scripts: keys of several slots",
        ["EVAL", "return 1", "2", "{a}x", "{b}y"], ["EVAL", "return redis.call('get', KEYS[1])", "1", "{a}x"]
    ),
    case!("transactions: keys of several slots",
        ["MULTI"], ["SET", "{a}x", "1"], ["SET", "{b}y", "2"], ["EXEC"], ["EXISTS", "{a}x", "{a}y"],
        ["MULTI"], ["MSET", "{a}x", "1", "{b}y", "2"], ["SET", "{a}x", "1"], ["EXEC"], ["EXISTS", "{a}x"],
        ["MULTI"], ["GET", "{a}x"], ["MGET", "{a}x", "{a}y"], ["EXEC"],
        ["WATCH", "{a}x", "{b}y"], ["MULTI"], ["EXEC"]
    ),
];

/// Compared with `--maxclients 2 --timeout 1` on both servers.
#[rustfmt::skip]
static LIMITS: &[Case] = &[
    case!("config get limits", ["CONFIG", "GET", "maxclients"], ["CONFIG", "GET", "timeout"]),
];

/// `maxmemory` under `noeviction`: the settings and their errors, then with a limit of one byte
/// (every server is past it) every command that may grow memory answers -OOM while reads, DEL
/// and the expiry commands go on; the limit lifted, writes work again.
#[rustfmt::skip]
static MAXMEMORY: &[Case] = &[
    case!("maxmemory settings",
        ["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "maxmemory-policy"],
        ["CONFIG", "SET", "maxmemory-policy", "foo"], ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
        ["CONFIG", "SET", "maxmemory", "abc"], ["CONFIG", "SET", "maxmemory", "-1"],
        ["CONFIG", "SET", "maxmemory", "1.5gb"], ["CONFIG", "SET", "maxmemory", "2gb"],
        ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "0"]
    ),
    case!("object freq and idletime",
        ["SET", "k", "v"], ["OBJECT", "IDLETIME", "k"], ["OBJECT", "IDLETIME", "missing"],
        ["OBJECT", "FREQ", "k"], ["OBJECT", "FREQ", "missing"], ["OBJECT", "IDLETIME"],
        ["OBJECT", "FREQ"], ["OBJECT", "IDLETIME", "k", "x"], ["DEL", "k"]
    ),
    // The byte counts differ by design (Shardis counts its own layout): shapes only.
    case!("memory usage and purge",
        ["SET", "k", "v"], ["HSET", "h", "f", "v"], ["MEMORY", "USAGE", "nokey"],
        shape ["MEMORY", "USAGE", "k"], shape ["MEMORY", "USAGE", "h", "SAMPLES", "0"],
        shape ["MEMORY", "USAGE", "k", "samples", "3", "SAMPLES", "9"],
        ["MEMORY", "USAGE", "k", "SAMPLES", "x"], ["MEMORY", "USAGE", "k", "SAMPLES", "-1"],
        ["MEMORY", "USAGE", "k", "SAMPLES"], ["MEMORY", "USAGE", "k", "foo"],
        ["MEMORY", "USAGE"], ["MEMORY"], ["MEMORY", "FOO"], ["MEMORY", "PURGE"],
        ["MEMORY", "PURGE", "x"], ["DEL", "k", "h"]
    ),
    // With lfu-log-factor 0 every access counts, so the counts are exact: a new key starts at
    // 5, each read or write adds one (an overwrite keeps the count), OBJECT FREQ does not.
    case!("lfu counts",
        ["CONFIG", "GET", "lfu-log-factor"], ["CONFIG", "GET", "lfu-decay-time"],
        ["CONFIG", "SET", "lfu-log-factor", "-1"], ["CONFIG", "SET", "lfu-log-factor", "x"],
        ["CONFIG", "SET", "lfu-decay-time", "2147483648"], ["CONFIG", "SET", "lfu-decay-time", "3"],
        ["CONFIG", "GET", "lfu-decay-time"], ["CONFIG", "SET", "lfu-decay-time", "1"],
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], ["CONFIG", "GET", "maxmemory-policy"],
        ["CONFIG", "SET", "lfu-log-factor", "0"],
        ["SET", "k", "v"], ["OBJECT", "FREQ", "k"], ["OBJECT", "FREQ", "k"], ["GET", "k"],
        ["GET", "k"], ["OBJECT", "FREQ", "k"], ["SET", "k", "v2"], ["OBJECT", "FREQ", "k"],
        ["APPEND", "k", "x"], ["OBJECT", "FREQ", "k"], ["EXISTS", "k"], ["OBJECT", "FREQ", "k"],
        ["HSET", "h", "f", "v"], ["HGET", "h", "f"], ["OBJECT", "FREQ", "h"],
        ["RPUSH", "l", "a"], ["RPUSH", "l", "b"], ["LRANGE", "l", "0", "-1"], ["OBJECT", "FREQ", "l"],
        ["OBJECT", "IDLETIME", "k"], ["OBJECT", "FREQ", "missing"],
        ["CONFIG", "SET", "maxmemory-policy", "volatile-lfu"], ["OBJECT", "FREQ", "k"],
        ["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["OBJECT", "FREQ", "k"],
        ["CONFIG", "SET", "lfu-log-factor", "10"], ["DEL", "k", "h", "l"]
    ),
    case!("past maxmemory under noeviction",
        ["SET", "k", "v"], ["SET", "t", "v", "EX", "100"], ["SET", "{x}a", "1"],
        ["CONFIG", "SET", "maxmemory", "1"],
        ["SET", "k", "w"], ["SET", "k", "w", "NX"], ["SETNX", "n", "1"], ["GET", "k"], ["MGET", "k", "t"],
        ["INCR", "c"], ["INCRBY", "c", "2"], ["INCRBYFLOAT", "c", "1.5"], ["DECR", "c"],
        ["APPEND", "k", "x"], ["SETRANGE", "k", "0", "x"], ["MSET", "a", "1"], ["MSETNX", "a", "1"],
        ["GETSET", "k", "z"], ["SETEX", "k", "10", "v"], ["PSETEX", "k", "10", "v"],
        ["EXPIRE", "k", "10"], ["PERSIST", "k"], ["TTL", "k"], ["GETEX", "k", "PERSIST"],
        ["STRLEN", "k"], ["EXISTS", "k"], ["TYPE", "k"],
        ["COPY", "{x}a", "{x}b"], ["RENAME", "{x}a", "{x}c"], ["GET", "{x}c"],
        ["GETDEL", "t"], ["DEL", "k"], ["UNLINK", "k"], ["DBSIZE"],
        ["CONFIG", "SET", "maxmemory", "0"], ["SET", "k", "again"], ["GET", "k"], ["FLUSHALL"]
    ),
];

/// Buffer limit settings: defaults, every error text, units, and a change read back (each case
/// puts the defaults back: a small limit would close the next cases' clients).
#[rustfmt::skip]
static BUFFER_LIMITS: &[Case] = &[
    case!("output buffer limit settings",
        ["CONFIG", "GET", "client-output-buffer-limit"],
        ["CONFIG", "SET", "client-output-buffer-limit", "x"],
        ["CONFIG", "SET", "client-output-buffer-limit", "normal 1 2"],
        ["CONFIG", "SET", "client-output-buffer-limit", "master 10mb 10mb 60"],
        ["CONFIG", "SET", "client-output-buffer-limit", "invalid 10mb 10mb 60"],
        ["CONFIG", "SET", "client-output-buffer-limit", "normal 10mbs 10mb 60"],
        ["CONFIG", "SET", "client-output-buffer-limit", "normal 10mb 10mb 6x"],
        ["CONFIG", "SET", "client-output-buffer-limit", "normal -1 10mb 60"],
        ["CONFIG", "SET", "client-output-buffer-limit", "normal 1.5mb 10mb 60"],
        ["CONFIG", "SET", "client-output-buffer-limit", "replica 5 6 7 normal 1 2 x"],
        ["CONFIG", "GET", "client-output-buffer-limit"],
        ["CONFIG", "SET", "client-output-buffer-limit", "PUBSUB 1K 2mb 3 slave 5 6 7"],
        ["CONFIG", "GET", "client-output-buffer-limit"],
        ["CONFIG", "SET", "client-output-buffer-limit", ""],
        ["CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60 replica 256mb 64mb 60"],
        ["CONFIG", "GET", "client-output-buffer-limit"]
    ),
    case!("query buffer limit settings",
        ["CONFIG", "GET", "client-query-buffer-limit"],
        ["CONFIG", "SET", "client-query-buffer-limit", "1000"],
        ["CONFIG", "SET", "client-query-buffer-limit", "1x"],
        ["CONFIG", "SET", "client-query-buffer-limit", "-5"],
        ["CONFIG", "SET", "client-query-buffer-limit", "1048575b"],
        ["CONFIG", "SET", "client-query-buffer-limit", "9223372036854775808"],
        ["CONFIG", "SET", "client-query-buffer-limit", "2mb"],
        ["CONFIG", "GET", "client-query-buffer-limit"],
        ["CONFIG", "SET", "client-query-buffer-limit", "5gb"],
        ["CONFIG", "GET", "client-query-buffer-limit"],
        ["CONFIG", "SET", "client-query-buffer-limit", "1gb"]
    ),
];

/// Compared with `--requirepass secret` on both servers.
#[rustfmt::skip]
static AUTH: &[Case] = &[
    case!("auth required",
        ["GET", "k"], ["PING"], ["AUTH", "wrong"], ["AUTH", "default", "wrong"], ["AUTH", "nouser", "secret"],
        ["GET", "k"], ["AUTH", "secret"], ["GET", "k"], ["AUTH", "wrong"], ["GET", "k"], ["AUTH"],
        ["AUTH", "a", "b", "c"]
    ),
    case!("auth hello",
        ["HELLO", "3"], ["HELLO", "3", "AUTH", "default", "wrong"], ["HELLO", "2", "AUTH", "default"],
        shape ["HELLO", "3", "AUTH", "default", "secret"], ["GET", "k"], ["SET", "k", "v"], ["GET", "k"]
    ),
    case!("auth quit and unknown", ["FOO"], ["QUIT"], closed []),
];

/// Raw bytes sent on a fresh connection (see [`raw_outcome`]).
struct RawCase {
    name: &'static str,
    input: Vec<u8>,
    /// Append an `ECHO` sentinel to find out whether the connection survived.
    sentinel: bool,
    /// Write one byte at a time (exercises partial reads in the server).
    bytewise: bool,
}

fn protocol_cases() -> Vec<RawCase> {
    let c = |name: &'static str, input: &[u8]| RawCase {
        name,
        input: input.to_vec(),
        sentinel: true,
        bytewise: false,
    };
    // 300 pipelined commands over 50 keys in one write: replies must come
    // back in order even though the keys live on different shards.
    let mut pipeline = Vec::new();
    for i in 0..100 {
        let (k, prev) = (format!("p{}", i % 50), format!("p{}", (i + 49) % 50));
        let v = i.to_string();
        pipeline.extend(support::encode_command(&[
            b"APPEND",
            k.as_bytes(),
            v.as_bytes(),
        ]));
        pipeline.extend(support::encode_command(&[b"GET", prev.as_bytes()]));
        pipeline.extend(support::encode_command(&[b"INCR", b"counter"]));
    }
    let mut big_set = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$100000\r\n".to_vec();
    big_set.extend_from_slice(&vec![b'x'; 100_000]);
    big_set.extend_from_slice(
        b"\r\n*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n*2\r\n$6\r\nSTRLEN\r\n$3\r\nbig\r\n",
    );
    vec![
        c("bad multibulk length", b"*abc\r\n"),
        c("bad bulk length", b"*1\r\n$abc\r\n"),
        c("expected dollar", b"*1\r\nfoo\r\n"),
        c("expected dollar got colon", b"*2\r\n$3\r\nGET\r\n:1\r\n"),
        c("leading dollar is inline", b"$3\r\nfoo\r\n"),
        c("unbalanced double quote", b"\"foo\r\n"),
        c("unbalanced single quote", b"'foo\r\n"),
        c("closing quote followed by char", b"echo \"a\"b\r\n"),
        c("inline ping", b"PING\r\n"),
        c("inline lf only", b"PING\n"),
        c("inline set quoted then get", b"set a \"b c\"\r\nget a\r\n"),
        c(
            "inline escapes",
            b"echo \"a\\x41\\n\\tb\\\"\"\r\necho 'it\\'s'\r\n",
        ),
        c("inline extra spaces", b"  echo   x  \r\n"),
        c("inline unknown command", b"foo bar\r\n"),
        c("empty line ignored", b"\r\n"),
        c("blank lines ignored", b"\r\n\n   \r\nPING\r\n"),
        c("null multibulk ignored", b"*-1\r\n"),
        c("empty multibulk ignored", b"*0\r\n"),
        c("bulk length too big", b"*1\r\n$1000000000000\r\n"),
        c(
            "bulk length above proto-max-bulk-len",
            b"*1\r\n$536870913\r\n",
        ),
        c("negative bulk length", b"*1\r\n$-1\r\n"),
        c("multibulk length too big", b"*3000000000\r\n"),
        c(
            "pipelined commands",
            b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$3\r\nfoo\r\n",
        ),
        c(
            "multibulk after inline",
            b"PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n",
        ),
        c("empty bulk command name", b"*1\r\n$0\r\n\r\n"),
        // Cross-protocol scripting: an HTTP request closes the connection with no reply, not
        // even to what came before it in the same read.
        c(
            "http request closes",
            b"POST / HTTP/1.1\r\nHost: example\r\n\r\n",
        ),
        c("ping then post closes", b"PING\r\npost /x HTTP/1.1\r\n"),
        c(
            "multibulk host: closes",
            b"*1\r\n$4\r\nPING\r\n*2\r\n$5\r\nHOST:\r\n$1\r\nx\r\n",
        ),
        RawCase {
            name: "too big inline request",
            input: vec![b'a'; 70_000],
            sentinel: false,
            bytewise: false,
        },
        RawCase {
            name: "byte by byte",
            input: b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nPING\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
            sentinel: true,
            bytewise: true,
        },
        RawCase {
            name: "pipeline across shards",
            input: pipeline,
            sentinel: true,
            bytewise: false,
        },
        RawCase {
            name: "100 kB value",
            input: big_set,
            sentinel: true,
            bytewise: false,
        },
    ]
}

fn main_pair() -> (Server, Server) {
    (Server::redis(), Server::shardis())
}

#[test]
fn strings() {
    let (mut r, mut s) = main_pair();
    finish("strings", run_cases(&mut r, &mut s, "strings", STRINGS));
}

#[test]
fn hashes() {
    let (mut r, mut s) = main_pair();
    let mut failures = run_cases(&mut r, &mut s, "hashes", HASHES);
    failures.extend(run_cases(&mut r, &mut s, "hashes", &large_hash_cases()));
    finish("hashes", failures);
}

#[test]
fn sets() {
    let (mut r, mut s) = main_pair();
    let mut failures = run_cases(&mut r, &mut s, "sets", SETS);
    failures.extend(run_cases(&mut r, &mut s, "sets", &large_set_cases()));
    finish("sets", failures);
}

#[test]
fn sorted_sets() {
    let (mut r, mut s) = main_pair();
    let mut failures = run_cases(&mut r, &mut s, "sorted sets", ZSETS);
    failures.extend(run_cases(
        &mut r,
        &mut s,
        "sorted sets",
        &large_zset_cases(),
    ));
    finish("sorted sets", failures);
}

#[test]
fn encoding_settings() {
    let (mut r, mut s) = main_pair();
    finish(
        "encodings",
        run_cases(&mut r, &mut s, "encodings", ENCODINGS),
    );
}

#[test]
fn sort() {
    let (mut r, mut s) = main_pair();
    finish("sort", run_cases(&mut r, &mut s, "sort", SORT));
}

#[test]
fn scripts() {
    let (mut r, mut s) = main_pair();
    finish("scripts", run_cases(&mut r, &mut s, "scripts", SCRIPTS));
}

#[test]
fn functions() {
    let (mut r, mut s) = main_pair();
    let mut failures = run_cases(&mut r, &mut s, "functions", FUNCTIONS);
    failures.extend(dump_and_restore(&r, &s));
    finish("functions", failures);
}

/// FUNCTION DUMP and RESTORE both ways: a dump of either server restores into both, with
/// every policy and error, and both then list the same libraries. (The payloads themselves
/// differ: redis compresses long strings, Shardis does not.)
fn dump_and_restore(r: &Server, s: &Server) -> Vec<String> {
    let mut failures = Vec::new();
    let (mut rc, mut sc) = (r.client(), s.client());
    for c in [&mut rc, &mut sc] {
        c.cmd_str(&["FUNCTION", "FLUSH"]);
        // One library: which of several collides first is the order of redis's dict.
        c.cmd_str(&["FUNCTION", "LOAD", LIB_INCR]);
    }
    let payload = |c: &mut support::RawClient| -> Vec<u8> {
        match parse_reply(&c.cmd_str(&["FUNCTION", "DUMP"])) {
            Reply::Bulk(Some(b)) => b,
            other => panic!("FUNCTION DUMP: {other:?}"),
        }
    };
    let dumps = [("redis", payload(&mut rc)), ("shardis", payload(&mut sc))];
    for (from, dump) in &dumps {
        let mut corrupt = dump.clone();
        if let Some(b) = corrupt.first_mut() {
            *b ^= 1;
        }
        let steps: Vec<Vec<&[u8]>> = vec![
            vec![b"FUNCTION", b"RESTORE", dump],
            vec![b"FUNCTION", b"RESTORE", dump, b"APPEND"],
            vec![b"FUNCTION", b"RESTORE", dump, b"REPLACE"],
            vec![
                b"FUNCTION",
                b"LIST",
                b"WITHCODE",
                b"LIBRARYNAME",
                b"incrlib",
            ],
            vec![b"FUNCTION", b"DELETE", b"incrlib"],
            vec![b"FUNCTION", b"LOAD", LIB_OTHER.as_bytes()],
            vec![b"FUNCTION", b"RESTORE", dump, b"REPLACE"],
            vec![b"FUNCTION", b"RESTORE", dump, b"FLUSH"],
            vec![b"FUNCTION", b"LIST", b"LIBRARYNAME", b"other"],
            vec![b"FCALL", b"myincr", b"1", b"{f}k"],
            vec![b"FUNCTION", b"RESTORE", &corrupt],
            vec![b"FUNCTION", b"RESTORE", b"short"],
            vec![b"FUNCTION", b"RESTORE", dump, b"BAD"],
            vec![b"FUNCTION", b"RESTORE", dump, b"FLUSH", b"X"],
            vec![b"FUNCTION", b"FLUSH"],
            vec![b"FUNCTION", b"RESTORE", dump],
            vec![b"FUNCTION", b"LIST", b"WITHCODE"],
            vec![b"FUNCTION", b"STATS"],
        ];
        for step in steps {
            let (a, b) = (rc.cmd(&step), sc.cmd(&step));
            if a != b {
                failures.push(format!(
                    "functions: dump from {from}: {}\n  redis:   {}\n  shardis: {}",
                    pretty_command(&step[..2]),
                    pretty(&a),
                    pretty(&b)
                ));
            }
        }
    }
    failures
}

#[test]
fn transactions() {
    let (mut r, mut s) = main_pair();
    let mut failures = run_cases(&mut r, &mut s, "transactions", TRANSACTIONS);
    for scenario in TRANSACTION_SCENARIOS {
        failures.extend(compare_scenario(&r, &s, scenario));
    }
    finish("transactions", failures);
}

#[test]
fn blocking_pops() {
    let (mut r, mut s) = main_pair();
    finish(
        "blocking pops",
        run_cases(&mut r, &mut s, "blocking pops", BLOCKING),
    );
}

/// One step of a scenario over several connections (see [`blocking_pops_across_connections`]).
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Client `.0` sends a command and reads its reply.
    Cmd(usize, &'static [&'static str]),
    /// Client `.0` sends a command without reading (it blocks).
    Send(usize, &'static [&'static str]),
    /// Client `.0` sends these commands in one write, without reading.
    Pipe(usize, &'static [&'static [&'static str]]),
    /// One reply of client `.0` (within 3 s).
    Read(usize),
    /// Client `.0` has no reply within 200 ms: it is still blocked.
    Quiet(usize),
    /// Client `.0` sends CLIENT UNBLOCK with client `.1`'s id and these words.
    Unblock(usize, usize, &'static [&'static str]),
    /// Client `.0` closes its connection.
    Close(usize),
    /// Client `.0` switches to RESP3 (HELLO's reply is not compared).
    Hello3(usize),
    /// Client `.0` reads INFO's `blocked_clients`.
    BlockedClients(usize),
    /// Pause this many milliseconds (so that blocked clients queue in a known order).
    Sleep(u64),
}

/// A scenario: how many clients, and what they do.
struct Scenario {
    name: &'static str,
    clients: usize,
    acts: &'static [Act],
}

/// Lets a blocking command reach its server and queue before the next step.
const SETTLE: Act = Act::Sleep(150);

#[rustfmt::skip]
static BLOCKING_SCENARIOS: &[Scenario] = &[
    Scenario { name: "a push serves the blocked clients in arrival order", clients: 4, acts: &[
        Act::Send(0, &["BLPOP", "{b}l", "0"]), SETTLE, Act::Send(1, &["BLPOP", "{b}l", "0"]), SETTLE,
        Act::Send(2, &["BRPOP", "{b}l", "0"]), SETTLE, Act::BlockedClients(3), Act::Cmd(3, &["RPUSH", "{b}l", "a", "b"]),
        Act::Read(0), Act::Read(1), Act::Quiet(2), Act::Cmd(3, &["RPUSH", "{b}l", "c", "d"]), Act::Read(2),
        Act::Cmd(3, &["LRANGE", "{b}l", "0", "-1"]), Act::BlockedClients(3),
    ]},
    Scenario { name: "a client blocked on several keys is woken by any", clients: 2, acts: &[
        Act::Send(0, &["BLPOP", "{b}a", "{b}b", "{b}c", "0"]), SETTLE, Act::Cmd(1, &["LPUSH", "{b}c", "x", "y"]), Act::Read(0),
        Act::Send(0, &["BRPOP", "{b}a", "{b}b", "0"]), SETTLE, Act::Cmd(1, &["RPUSH", "{b}b", "1"]), Act::Read(0),
        Act::Cmd(1, &["LRANGE", "{b}c", "0", "-1"]),
    ]},
    Scenario { name: "blmove feeds a blocked blpop", clients: 3, acts: &[
        Act::Send(0, &["BLMOVE", "{b}a", "{b}b", "LEFT", "RIGHT", "0"]), SETTLE, Act::Send(1, &["BLPOP", "{b}b", "0"]), SETTLE,
        Act::Cmd(2, &["RPUSH", "{b}a", "1", "2", "3"]), Act::Read(0), Act::Read(1), Act::Cmd(2, &["LRANGE", "{b}a", "0", "-1"]),
        Act::Cmd(2, &["EXISTS", "{b}b"]), Act::Send(0, &["BRPOPLPUSH", "{b}x", "{b}y", "0"]), SETTLE,
        Act::Cmd(2, &["RPUSH", "{b}x", "p", "q"]), Act::Read(0), Act::Cmd(2, &["LRANGE", "{b}y", "0", "-1"]),
    ]},
    Scenario { name: "sorted set pops woken by zadd", clients: 3, acts: &[
        Act::Send(0, &["BZPOPMIN", "{b}z", "0"]), SETTLE, Act::Send(1, &["BZMPOP", "0", "2", "{b}q", "{b}z", "MAX", "COUNT", "5"]), SETTLE,
        Act::Cmd(2, &["ZADD", "{b}z", "1", "a", "2.5", "b", "3", "c"]), Act::Read(0), Act::Read(1), Act::Cmd(2, &["EXISTS", "{b}z"]),
        Act::Send(0, &["BZPOPMAX", "{b}z", "{b}w", "0"]), SETTLE, Act::Cmd(2, &["ZADD", "{b}w", "-inf", "m"]), Act::Read(0),
    ]},
    Scenario { name: "blmpop takes its count", clients: 2, acts: &[
        Act::Send(0, &["BLMPOP", "0", "2", "{b}a", "{b}b", "RIGHT", "COUNT", "2"]), SETTLE, Act::Cmd(1, &["LPUSH", "{b}b", "x", "y", "z"]),
        Act::Read(0), Act::Cmd(1, &["LRANGE", "{b}b", "0", "-1"]),
    ]},
    Scenario { name: "a timeout while waiting takes nothing", clients: 2, acts: &[
        Act::Send(0, &["BLPOP", "{b}l", "0.4"]), Act::Quiet(0), Act::Read(0), Act::Cmd(1, &["RPUSH", "{b}l", "a"]),
        Act::Cmd(1, &["LLEN", "{b}l"]), Act::Send(0, &["BZPOPMIN", "{b}z", "0.3"]), Act::Read(0),
    ]},
    Scenario { name: "a key of another type leaves the client blocked", clients: 2, acts: &[
        Act::Send(0, &["BLPOP", "{b}l", "0"]), SETTLE, Act::Cmd(1, &["SET", "{b}l", "str"]), Act::Quiet(0),
        Act::Cmd(1, &["DEL", "{b}l"]), Act::Cmd(1, &["RPUSH", "{b}l", "x"]), Act::Read(0),
        Act::Send(0, &["BZPOPMIN", "{b}z", "0"]), SETTLE, Act::Cmd(1, &["RPUSH", "{b}z", "a"]), Act::Quiet(0),
        Act::Cmd(1, &["DEL", "{b}z"]), Act::Cmd(1, &["ZADD", "{b}z", "5", "m"]), Act::Read(0),
    ]},
    Scenario { name: "a list renamed or copied into place wakes the client", clients: 2, acts: &[
        Act::Send(0, &["BLPOP", "{b}l", "0"]), SETTLE, Act::Cmd(1, &["RPUSH", "{b}src", "a", "b"]),
        Act::Cmd(1, &["RENAME", "{b}src", "{b}l"]), Act::Read(0), Act::Cmd(1, &["DEL", "{b}l"]),
        Act::Send(0, &["BRPOP", "{b}l", "0"]), SETTLE, Act::Cmd(1, &["RPUSH", "{b}src", "c"]),
        Act::Cmd(1, &["COPY", "{b}src", "{b}l"]), Act::Read(0), Act::Cmd(1, &["LLEN", "{b}src"]),
    ]},
    Scenario { name: "client unblock", clients: 2, acts: &[
        Act::Send(0, &["BLPOP", "{b}l", "0"]), SETTLE, Act::Unblock(1, 0, &[]), Act::Read(0),
        Act::Send(0, &["BZPOPMIN", "{b}z", "0"]), SETTLE, Act::Unblock(1, 0, &["ERROR"]), Act::Read(0),
        Act::Send(0, &["BLMOVE", "{b}l", "{b}d", "LEFT", "LEFT", "0"]), SETTLE, Act::Unblock(1, 0, &["timeout"]), Act::Read(0),
        Act::Unblock(1, 0, &[]), Act::Unblock(1, 0, &["FOO"]), Act::Cmd(1, &["CLIENT", "UNBLOCK", "abc"]),
        Act::Cmd(1, &["CLIENT", "UNBLOCK", "999999"]), Act::Cmd(1, &["RPUSH", "{b}l", "v"]), Act::Cmd(1, &["LLEN", "{b}l"]),
    ]},
    Scenario { name: "replies before a blocking pop come at once, requests after it wait", clients: 2, acts: &[
        Act::Pipe(0, &[&["SET", "{b}x", "1"], &["BLPOP", "{b}l", "0"], &["GET", "{b}x"]]), Act::Read(0), Act::Quiet(0),
        Act::Cmd(1, &["RPUSH", "{b}l", "v"]), Act::Read(0), Act::Read(0),
        Act::Send(0, &["BLPOP", "{b}l", "0"]), SETTLE, Act::Send(0, &["INCR", "{b}x"]), Act::Quiet(0),
        Act::Cmd(1, &["GET", "{b}x"]), Act::Cmd(1, &["RPUSH", "{b}l", "w"]), Act::Read(0), Act::Read(0),
    ]},
    Scenario { name: "a client gone while waiting takes nothing", clients: 2, acts: &[
        Act::Send(0, &["BLPOP", "{b}l", "0"]), SETTLE, Act::Close(0), SETTLE, Act::BlockedClients(1),
        Act::Cmd(1, &["RPUSH", "{b}l", "a"]), Act::Cmd(1, &["LRANGE", "{b}l", "0", "-1"]),
    ]},
    Scenario { name: "resp3 blocking replies", clients: 2, acts: &[
        Act::Hello3(0), Act::Send(0, &["BLPOP", "{b}l", "0.05"]), Act::Read(0), Act::Send(0, &["BZPOPMIN", "{b}z", "0"]), SETTLE,
        Act::Cmd(1, &["ZADD", "{b}z", "1.5", "a"]), Act::Read(0), Act::Send(0, &["BZMPOP", "0", "1", "{b}z", "MIN"]), SETTLE,
        Act::Cmd(1, &["ZADD", "{b}z", "inf", "b"]), Act::Read(0), Act::Send(0, &["BLMOVE", "{b}l", "{b}d", "LEFT", "LEFT", "0.05"]),
        Act::Read(0),
    ]},
];

/// Runs a scenario on `server`; one line per step that answered something.
fn run_scenario(server: &Server, scenario: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    let mut clients: Vec<Option<RawClient>> = Vec::new();
    let mut ids = Vec::new();
    for i in 0..scenario.clients {
        let Ok(mut c) = connect(server) else {
            return vec![format!("cannot connect client {i}")];
        };
        c.set_read_timeout(Duration::from_secs(3));
        if i == 0 {
            c.cmd_str(&["FLUSHALL"]);
        }
        let id = parse_reply(&c.cmd_str(&["CLIENT", "ID"]))
            .as_int()
            .unwrap_or(-1);
        ids.push(id.to_string());
        clients.push(Some(c));
    }
    let reply = |c: &mut RawClient| match c.try_read_reply() {
        Ok(r) => pretty(&r),
        Err(e) => format!("<{e}>"),
    };
    for (at, act) in scenario.acts.iter().enumerate() {
        let client = |i: usize, clients: &mut Vec<Option<RawClient>>| clients[i].take();
        let step = match *act {
            Act::Sleep(ms) => {
                thread::sleep(Duration::from_millis(ms));
                continue;
            }
            Act::Cmd(i, args) => {
                let Some(mut c) = client(i, &mut clients) else {
                    continue;
                };
                let r = match c.try_cmd(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>()) {
                    Ok(r) => pretty(&r),
                    Err(e) => format!("<{e}>"),
                };
                clients[i] = Some(c);
                format!("{i}: {} -> {r}", pretty_command(args))
            }
            Act::Send(i, args) => {
                if let Some(c) = clients[i].as_mut() {
                    c.send(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
                }
                continue;
            }
            Act::Pipe(i, cmds) => {
                let mut bytes = Vec::new();
                for args in cmds {
                    bytes.extend(support::encode_command(
                        &args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
                    ));
                }
                if let Some(c) = clients[i].as_mut() {
                    c.send_raw(&bytes);
                }
                continue;
            }
            Act::Read(i) => match clients[i].as_mut() {
                Some(c) => format!("{i}: read -> {}", reply(c)),
                None => continue,
            },
            Act::Quiet(i) => match clients[i].as_mut() {
                Some(c) => {
                    c.set_read_timeout(Duration::from_millis(200));
                    let r = match c.try_read_reply() {
                        Err(support::ReadError::Timeout(rest)) if rest.is_empty() => {
                            "blocked".into()
                        }
                        Ok(r) => pretty(&r),
                        Err(e) => format!("<{e}>"),
                    };
                    c.set_read_timeout(Duration::from_secs(3));
                    format!("{i}: quiet? {r}")
                }
                None => continue,
            },
            Act::Unblock(i, target, words) => {
                let mut args = vec!["CLIENT", "UNBLOCK", ids[target].as_str()];
                args.extend_from_slice(words);
                match clients[i].as_mut() {
                    Some(c) => format!(
                        "{i}: CLIENT UNBLOCK <{target}> {words:?} -> {}",
                        pretty(&c.cmd_str(&args))
                    ),
                    None => continue,
                }
            }
            Act::Close(i) => {
                clients[i] = None;
                continue;
            }
            Act::Hello3(i) => {
                if let Some(c) = clients[i].as_mut() {
                    c.cmd_str(&["HELLO", "3"]);
                }
                continue;
            }
            Act::BlockedClients(i) => match clients[i].as_mut() {
                Some(c) => {
                    let info = c.cmd_str(&["INFO", "clients"]);
                    let text = String::from_utf8_lossy(&info).into_owned();
                    let blocked = text
                        .lines()
                        .find_map(|l| l.strip_prefix("blocked_clients:"))
                        .unwrap_or("?")
                        .to_string();
                    format!("{i}: blocked_clients {blocked}")
                }
                None => continue,
            },
        };
        out.push(format!("step {at}: {step}"));
    }
    out
}

#[test]
fn blocking_pops_across_connections() {
    let (r, s) = main_pair();
    let mut failures = Vec::new();
    for scenario in BLOCKING_SCENARIOS {
        failures.extend(compare_scenario(&r, &s, scenario));
    }
    finish("blocking pops across connections", failures);
}

/// Runs a scenario on both servers: the failure, if they differ.
fn compare_scenario(r: &Server, s: &Server, scenario: &Scenario) -> Option<String> {
    let (want, got) = (run_scenario(r, scenario), run_scenario(s, scenario));
    if std::env::var_os("DIFF_TRACE").is_some() {
        eprintln!("[{}]\n  {}", scenario.name, got.join("\n  "));
    }
    (want != got).then(|| {
        format!(
            "[{}]\n    redis:\n      {}\n    shardis:\n      {}",
            scenario.name,
            want.join("\n      "),
            got.join("\n      ")
        )
    })
}

#[rustfmt::skip]
static TRANSACTION_SCENARIOS: &[Scenario] = &[
    Scenario { name: "another client's write aborts a watcher's exec, its read does not", clients: 2, acts: &[
        Act::Cmd(0, &["WATCH", "{t}a"]), Act::Cmd(1, &["GET", "{t}a"]), Act::Cmd(0, &["MULTI"]),
        Act::Cmd(0, &["SET", "{t}a", "0"]), Act::Cmd(0, &["EXEC"]),
        Act::Cmd(0, &["WATCH", "{t}a"]), Act::Cmd(1, &["INCR", "{t}a"]), Act::Cmd(0, &["MULTI"]),
        Act::Cmd(0, &["SET", "{t}a", "0"]), Act::Cmd(0, &["EXEC"]), Act::Cmd(1, &["GET", "{t}a"]),
    ]},
    Scenario { name: "queued writes are invisible until exec, then all at once", clients: 2, acts: &[
        Act::Cmd(0, &["MULTI"]), Act::Cmd(0, &["SET", "{t}a", "1"]), Act::Cmd(0, &["RPUSH", "{t}l", "x"]),
        Act::Cmd(1, &["GET", "{t}a"]), Act::Cmd(1, &["LLEN", "{t}l"]), Act::Cmd(0, &["EXEC"]),
        Act::Cmd(1, &["MGET", "{t}a", "{t}b"]), Act::Cmd(1, &["LLEN", "{t}l"]),
    ]},
    Scenario { name: "another client creates and deletes a watched absent key", clients: 2, acts: &[
        Act::Cmd(0, &["WATCH", "{t}x"]), Act::Cmd(1, &["SET", "{t}x", "1"]), Act::Cmd(1, &["DEL", "{t}x"]),
        Act::Cmd(0, &["MULTI"]), Act::Cmd(0, &["PING"]), Act::Cmd(0, &["EXEC"]),
    ]},
    Scenario { name: "a transaction's pushes serve a blocked client", clients: 2, acts: &[
        Act::Send(1, &["BLPOP", "{t}l", "0"]), SETTLE, Act::Cmd(0, &["MULTI"]), Act::Cmd(0, &["RPUSH", "{t}l", "a", "b"]),
        Act::Cmd(0, &["LLEN", "{t}l"]), Act::Cmd(0, &["EXEC"]), Act::Read(1), Act::Cmd(0, &["LRANGE", "{t}l", "0", "-1"]),
    ]},
    Scenario { name: "pipelined scripts see each other's writes, in order", clients: 2, acts: &[
        Act::Pipe(0, &[
            &["EVAL", "return redis.call('set', KEYS[1], 'one')", "1", "{p}x"],
            &["EVAL", "local v = redis.call('get', KEYS[1]) redis.call('set', KEYS[2], v .. '+two') return v", "2", "{p}x", "{p}y"],
            &["EVAL", "return redis.call('get', KEYS[1])", "1", "{p}y"],
            &["EVAL", "redis.call('incr', KEYS[1]) error('after a write')", "1", "{p}n"],
            &["EVAL", "return redis.call('incr', KEYS[1])", "1", "{p}n"],
            &["GET", "{p}y"],
            &["EVAL", "return redis.call('incr', KEYS[1])", "1", "{q}other"],
            &["EVAL", "return redis.call('get', KEYS[1])", "1", "{p}n"],
        ]),
        Act::Read(0), Act::Read(0), Act::Read(0), Act::Read(0), Act::Read(0), Act::Read(0), Act::Read(0), Act::Read(0),
        Act::Cmd(1, &["MGET", "{p}x", "{p}y", "{p}n"]),
    ]},
    Scenario { name: "a pipelined transaction", clients: 2, acts: &[
        Act::Pipe(0, &[&["MULTI"], &["INCR", "{t}n"], &["INCR", "{t}n"], &["EXEC"], &["GET", "{t}n"]]),
        Act::Read(0), Act::Read(0), Act::Read(0), Act::Read(0), Act::Read(0), Act::Cmd(1, &["GET", "{t}n"]),
    ]},
];

#[test]
fn lists() {
    let (mut r, mut s) = main_pair();
    let mut failures = run_cases(&mut r, &mut s, "lists", LISTS);
    failures.extend(run_cases(&mut r, &mut s, "lists", &large_list_cases()));
    finish("lists", failures);
}

/// Lists past a packed node's 8 KiB: the deque form answers alike.
fn large_list_cases() -> Vec<Case> {
    let words = |w: &[&str]| leak(w.iter().map(|s| s.to_string()).collect());
    let mut rpush = vec!["RPUSH".to_string(), "{l}big".to_string()];
    rpush.extend((0..3000).map(|i| format!("item-{}", i % 700)));
    let steps: Vec<Step> = vec![
        Step::Exact(leak(rpush)),
        Step::Exact(words(&["OBJECT", "ENCODING", "{l}big"])),
        Step::Exact(words(&["LLEN", "{l}big"])),
        Step::Exact(words(&["LRANGE", "{l}big", "0", "-1"])),
        Step::Exact(words(&["LRANGE", "{l}big", "-100", "-50"])),
        Step::Exact(words(&["LINDEX", "{l}big", "1500"])),
        Step::Exact(words(&[
            "LPOS", "{l}big", "item-5", "RANK", "-2", "COUNT", "3",
        ])),
        Step::Exact(words(&["LINSERT", "{l}big", "AFTER", "item-699", "new"])),
        Step::Exact(words(&["LREM", "{l}big", "-2", "item-3"])),
        Step::Exact(words(&["LSET", "{l}big", "-1", "last"])),
        Step::Exact(words(&["LPOP", "{l}big", "5"])),
        Step::Exact(words(&["RPOP", "{l}big", "5"])),
        Step::Exact(words(&["LTRIM", "{l}big", "100", "-100"])),
        Step::Exact(words(&["LRANGE", "{l}big", "0", "-1"])),
        Step::Exact(words(&["LMOVE", "{l}big", "{l}other", "LEFT", "RIGHT"])),
        Step::Exact(words(&["LLEN", "{l}big"])),
    ];
    // Ranges of 4096 elements or more are streamed from the list's nodes: integers, strings and
    // empty ones, whole, from mid-node, and after the list changed under an earlier range.
    let mut huge = vec!["RPUSH".to_string(), "{l}huge".to_string()];
    huge.extend((0..20_000i64).map(|i| match i % 3 {
        0 => (i * 37 - 100_000).to_string(),
        1 => format!("s{i}"),
        _ => String::new(),
    }));
    let steps: Vec<Step> = steps
        .into_iter()
        .chain([
            Step::Exact(leak(huge)),
            Step::Exact(words(&["LRANGE", "{l}huge", "0", "-1"])),
            Step::Exact(words(&["LRANGE", "{l}huge", "7", "10000"])),
            Step::Exact(words(&["LRANGE", "{l}huge", "-4096", "-1"])),
            Step::Exact(words(&["LRANGE", "{l}huge", "-4095", "-1"])),
            Step::Exact(words(&["LSET", "{l}huge", "5000", "changed"])),
            Step::Exact(words(&["LPOP", "{l}huge", "3"])),
            Step::Exact(words(&["LRANGE", "{l}huge", "4990", "9200"])),
        ])
        .collect();
    vec![Case {
        name: "lists past a packed node",
        steps: Box::leak(steps.into_boxed_slice()),
    }]
}

/// Sorted sets past the listpack's 128 members or 64 bytes: the skiplist form answers alike.
fn large_zset_cases() -> Vec<Case> {
    let words = |w: &[&str]| leak(w.iter().map(|s| s.to_string()).collect());
    let mut zadd = vec!["ZADD".to_string(), "{z}big".to_string()];
    for i in 0..1000 {
        zadd.push(format!("{}", (i * 37) % 500));
        zadd.push(format!("m{i}"));
    }
    let steps: Vec<Step> = vec![
        Step::Exact(leak(zadd)),
        Step::Exact(words(&["OBJECT", "ENCODING", "{z}big"])),
        Step::Exact(words(&["ZCARD", "{z}big"])),
        Step::Exact(words(&["ZRANGE", "{z}big", "0", "-1", "WITHSCORES"])),
        Step::Exact(words(&["ZRANGE", "{z}big", "100", "120", "REV"])),
        Step::Exact(words(&["ZRANGE", "{z}big", "0", "-1"])),
        Step::Exact(words(&[
            "ZRANGEBYSCORE",
            "{z}big",
            "(3",
            "+inf",
            "LIMIT",
            "5",
            "40",
        ])),
        Step::Exact(words(&["ZRANK", "{z}big", "m500"])),
        Step::Exact(words(&["ZREVRANK", "{z}big", "m500"])),
        Step::Exact(words(&["ZCOUNT", "{z}big", "(100", "200"])),
        Step::Exact(words(&[
            "ZRANGEBYSCORE",
            "{z}big",
            "(100",
            "200",
            "WITHSCORES",
            "LIMIT",
            "5",
            "10",
        ])),
        Step::Exact(words(&[
            "ZREVRANGEBYSCORE",
            "{z}big",
            "300",
            "-inf",
            "LIMIT",
            "0",
            "7",
        ])),
        Step::Exact(words(&[
            "ZADD", "{z}big", "CH", "1000", "m1", "1000", "new",
        ])),
        Step::Exact(words(&["ZREM", "{z}big", "m2", "m3", "nope"])),
        Step::Exact(words(&["ZREMRANGEBYSCORE", "{z}big", "10", "20"])),
        Step::Exact(words(&["ZREMRANGEBYRANK", "{z}big", "-10", "-5"])),
        Step::Exact(words(&["ZPOPMIN", "{z}big", "3"])),
        Step::Exact(words(&["ZPOPMAX", "{z}big"])),
        Step::Exact(words(&["ZCARD", "{z}big"])),
        Step::Exact(words(&["ZRANGE", "{z}big", "0", "-1", "WITHSCORES"])),
        Step::Scan(words(&["ZSCAN", "{z}big", "COUNT", "7"])),
        Step::Shape(words(&["ZRANDMEMBER", "{z}big", "-20", "WITHSCORES"])),
        Step::Exact(words(&["ZADD", "{z}long", "1", &"x".repeat(65)])),
        Step::Exact(words(&["OBJECT", "ENCODING", "{z}long"])),
        Step::Exact(words(&["ZUNIONSTORE", "{z}u", "2", "{z}big", "{z}long"])),
        Step::Exact(words(&["ZRANGE", "{z}u", "0", "-1", "WITHSCORES"])),
        Step::Exact(words(&["OBJECT", "ENCODING", "{z}u"])),
        Step::Exact(words(&["ZINTERSTORE", "{z}i", "1", "{z}long"])),
        Step::Exact(words(&["OBJECT", "ENCODING", "{z}i"])),
    ];
    vec![Case {
        name: "sorted sets past the listpack",
        steps: Box::leak(steps.into_boxed_slice()),
    }]
}

/// Sets past the intset's 512 members, and large tables (replies compared as sets).
fn large_set_cases() -> Vec<Case> {
    let sadd = |key: &str, members: Vec<String>| {
        let mut w = vec!["SADD".to_string(), key.to_string()];
        w.extend(members);
        leak(w)
    };
    let words = |w: &[&str]| leak(w.iter().map(|s| s.to_string()).collect());
    let steps: Vec<Step> = vec![
        Step::Exact(sadd(
            "{s}i",
            (0..512).map(|i| (i * 3).to_string()).collect(),
        )),
        Step::Exact(words(&["OBJECT", "ENCODING", "{s}i"])),
        Step::Exact(words(&["SMEMBERS", "{s}i"])),
        Step::Exact(words(&["SADD", "{s}i", "-5"])),
        Step::Exact(words(&["OBJECT", "ENCODING", "{s}i"])),
        Step::Sorted(words(&["SMEMBERS", "{s}i"])),
        Step::Exact(sadd("{s}t", (0..800).map(|i| format!("m{i}")).collect())),
        Step::Exact(words(&["SCARD", "{s}t"])),
        Step::Exact(sadd(
            "{s}u",
            (0..700).map(|i| (i * 2).to_string()).collect(),
        )),
        Step::Exact(words(&["SINTERCARD", "2", "{s}i", "{s}u"])),
        Step::Sorted(words(&["SINTER", "{s}i", "{s}u"])),
        Step::Sorted(words(&["SUNION", "{s}i", "{s}u"])),
        Step::Sorted(words(&["SDIFF", "{s}u", "{s}i"])),
        Step::Exact(words(&["SUNIONSTORE", "{s}d", "{s}i", "{s}t"])),
        Step::Exact(words(&["SCARD", "{s}d"])),
        Step::Exact(words(&["SINTERSTORE", "{s}d", "{s}i", "{s}u"])),
        Step::Exact(words(&["OBJECT", "ENCODING", "{s}d"])),
        Step::Scan(words(&["SSCAN", "{s}t"])),
        Step::Scan(words(&["SSCAN", "{s}t", "COUNT", "7", "MATCH", "m1*"])),
        Step::Shape(words(&["SRANDMEMBER", "{s}t", "-20"])),
        Step::Exact(words(&["SCARD", "{s}t"])),
        Step::Shape(words(&["SPOP", "{s}t", "5"])),
        Step::Exact(words(&["SCARD", "{s}t"])),
        Step::Shape(words(&["SPOP", "{s}t", "1000"])),
        Step::Exact(words(&["EXISTS", "{s}t"])),
    ];
    vec![Case {
        name: "sets past the intset",
        steps: Box::leak(steps.into_boxed_slice()),
    }]
}

/// Leaks `words` as the `'static` arguments of a step (cases built at run time; a test's
/// leak).
fn leak(words: Vec<String>) -> &'static [&'static str] {
    let words: Vec<&'static str> = words
        .into_iter()
        .map(|w| &*Box::leak(w.into_boxed_str()))
        .collect();
    Box::leak(words.into_boxed_slice())
}

/// Cases over hashes too large to write by hand: the conversion to a table past redis's field
/// count, and the replies of a table (whose order redis does not fix: compared sorted).
fn large_hash_cases() -> Vec<Case> {
    let hset = |key: &str, n: usize| {
        let mut w = vec!["HSET".to_string(), key.to_string()];
        for i in 0..n {
            w.push(format!("field:{i}"));
            w.push(format!("{i}"));
        }
        leak(w)
    };
    let words = |w: &[&str]| leak(w.iter().map(|s| s.to_string()).collect());
    // redis-server 7.0's built-in hash-max-listpack-entries is 512 (its redis.conf says 128).
    let steps: Vec<Step> = vec![
        Step::Exact(hset("h", 512)),
        Step::Exact(words(&["OBJECT", "ENCODING", "h"])),
        Step::Exact(words(&["HGETALL", "h"])),
        Step::Exact(words(&["HSET", "h", "one-more", "512"])),
        Step::Exact(words(&["OBJECT", "ENCODING", "h"])),
        Step::Exact(words(&["HLEN", "h"])),
        Step::Sorted(words(&["HGETALL", "h"])),
        Step::Sorted(words(&["HKEYS", "h"])),
        Step::Sorted(words(&["HVALS", "h"])),
        Step::Exact(words(&["HGET", "h", "field:77"])),
        Step::Exact(words(&["HINCRBY", "h", "field:77", "3"])),
        Step::Exact(words(&["HDEL", "h", "field:1", "field:2", "nope"])),
        Step::Exact(words(&["HLEN", "h"])),
        Step::Exact(words(&["OBJECT", "ENCODING", "h"])),
        Step::Shape(words(&["HRANDFIELD", "h", "-300", "WITHVALUES"])),
        Step::Sorted(words(&["HRANDFIELD", "h", "1000"])),
        Step::Exact(words(&["HRANDFIELD", "h", "-5", "WITHVALUES", "x"])),
        Step::Shape(words(&["HRANDFIELD", "h", "20"])),
        Step::Exact(hset("big", 1000)),
        Step::Exact(words(&["HLEN", "big"])),
        Step::Sorted(words(&["HGETALL", "big"])),
        Step::Scan(words(&["HSCAN", "big"])),
        Step::Scan(words(&["HSCAN", "big", "COUNT", "7"])),
        Step::Scan(words(&["HSCAN", "big", "MATCH", "field:1*", "COUNT", "3"])),
        Step::Exact(words(&["DEL", "big"])),
    ];
    vec![Case {
        name: "a hash past 512 fields",
        steps: Box::leak(steps.into_boxed_slice()),
    }]
}

#[test]
fn keyspace() {
    let (mut r, mut s) = main_pair();
    finish("keyspace", run_cases(&mut r, &mut s, "keyspace", KEYSPACE));
}

#[test]
fn expiry() {
    let (mut r, mut s) = main_pair();
    finish("expiry", run_cases(&mut r, &mut s, "expiry", EXPIRY));
}

#[test]
fn connection() {
    let (mut r, mut s) = main_pair();
    finish(
        "connection",
        run_cases(&mut r, &mut s, "connection", CONNECTION),
    );
}

#[test]
fn protocol_errors() {
    let (r, s) = main_pair();
    finish("protocol", run_raw_cases(&r, &s, &protocol_cases()));
}

#[test]
fn cluster_mode() {
    let mut r = Server::redis_cluster();
    let mut s = Server::shardis();
    finish("cluster", run_cases(&mut r, &mut s, "cluster", CLUSTER));
}

#[test]
fn auth() {
    let mut r = Server::redis_with(&["--requirepass", "secret"]);
    let mut s = Server::shardis_with(&["--requirepass", "secret"]);
    finish("auth", run_cases(&mut r, &mut s, "auth", AUTH));
}

/// `--maxclients 2 --timeout 1` on both: CONFIG GET, the error for a third
/// client, and idle connections being dropped.
#[test]
fn client_limits() {
    let mut r = Server::redis_with(&LIMIT_ARGS);
    let mut s = Server::shardis_with(&LIMIT_ARGS);
    finish("limits", limits(&mut r, &mut s));
}

const LIMIT_ARGS: [&str; 4] = ["--maxclients", "2", "--timeout", "1"];

/// The body of [`client_limits`], for any pair of servers.
fn limits(r: &mut Server, s: &mut Server) -> Vec<String> {
    let mut failures = run_cases(r, s, "limits", LIMITS);
    // The readiness probe and case connections must be gone first.
    thread::sleep(Duration::from_millis(300));
    let third_client = |srv: &Server| -> Vec<String> {
        let mut out = Vec::new();
        let mut keep = Vec::new();
        for _ in 0..2 {
            match connect(srv) {
                Ok(mut c) => {
                    out.push(show(&run(&mut c, &["PING"])));
                    keep.push(c);
                }
                Err(e) => out.push(e),
            }
        }
        // The refused client must not write: the server closes at once.
        match connect(srv) {
            Ok(mut c) => {
                c.set_read_timeout(Duration::from_secs(2));
                out.push(match c.try_read_reply() {
                    Ok(reply) => pretty(&reply),
                    Err(e) => e.to_string(),
                });
                out.push(match c.expect_closed() {
                    Ok(()) => "<closed>".into(),
                    Err(e) => e,
                });
            }
            Err(e) => out.push(e),
        }
        out
    };
    let (tr, ts) = (third_client(r), third_client(s));
    if std::env::var_os("DIFF_TRACE").is_some() {
        eprintln!("third client:\n    a: {tr:?}\n    b: {ts:?}");
    }
    if tr != ts {
        failures.push(format!(
            "[limits/third client with maxclients 2]\n    {}: {tr:?}\n    {}: {ts:?}",
            r.name, s.name
        ));
    }
    thread::sleep(Duration::from_millis(300));
    // Idle for 2.5 s with timeout 1: both must have closed the connection.
    let conns: Vec<Result<RawClient, String>> = [&*r, &*s]
        .iter()
        .map(|srv| {
            let mut c = connect(srv)?;
            run(&mut c, &["PING"])?;
            Ok(c)
        })
        .collect();
    thread::sleep(Duration::from_millis(2500));
    let idle: Vec<String> = conns
        .into_iter()
        .map(|c| match c.map(|mut c| c.expect_closed()) {
            Ok(Ok(())) => "<closed>".to_string(),
            Ok(Err(e)) | Err(e) => e,
        })
        .collect();
    if std::env::var_os("DIFF_TRACE").is_some() {
        eprintln!("idle timeout:\n    a: {}\n    b: {}", idle[0], idle[1]);
    }
    if idle[0] != idle[1] {
        failures.push(format!(
            "[limits/idle timeout 1 s]\n    {}: {}\n    {}: {}",
            r.name, idle[0], s.name, idle[1]
        ));
    }
    failures
}

#[test]
fn maxmemory() {
    let (mut r, mut s) = main_pair();
    finish(
        "maxmemory",
        run_cases(&mut r, &mut s, "maxmemory", MAXMEMORY),
    );
}

/// MEMORY STATS: redis's field names in redis's order with redis's reply types (the figures
/// differ by design: Shardis's own layout and Raft logs): under RESP3 the map's shape (keys and
/// value types, the nested db.0 map included), under RESP2 the names at every other position.
#[test]
fn memory_stats_fields() {
    let (r, s) = main_pair();
    let stats = |srv: &Server, resp3: bool| -> Reply {
        let mut c = connect(srv).expect("connect");
        run(&mut c, &["SET", "k", "v"]).expect("set");
        if resp3 {
            run(&mut c, &["HELLO", "3"]).expect("hello");
        }
        parse_reply(&run(&mut c, &["MEMORY", "STATS"]).expect("memory stats"))
    };
    assert_eq!(shape(&stats(&s, true)), shape(&stats(&r, true)));
    let names = |reply: Reply| -> Vec<String> {
        let Reply::Array(Some(items)) = reply else {
            panic!("not an array: {reply:?}");
        };
        items
            .iter()
            .step_by(2)
            .map(|n| String::from_utf8_lossy(n.bytes().expect("a name")).into_owned())
            .collect()
    };
    let (ours, theirs) = (names(stats(&s, false)), names(stats(&r, false)));
    assert!(ours.len() > 25, "{ours:?}");
    assert_eq!(ours, theirs);
}

/// MEMORY DOCTOR on fresh servers (both empty: redis's report byte for byte, a bulk string under
/// RESP2 and a `txt` verbatim string under RESP3) and MEMORY MALLOC-STATS (jemalloc's report on
/// both: its first line, and the reply's type), with their arity errors.
#[test]
fn memory_doctor_and_malloc_stats() {
    let (r, s) = main_pair();
    let replies = |srv: &Server| -> Vec<Vec<u8>> {
        let mut c = connect(srv).expect("connect");
        let mut out = Vec::new();
        for args in [
            &["MEMORY", "DOCTOR"][..],
            &["MEMORY", "DOCTOR", "x"],
            &["MEMORY", "MALLOC-STATS", "x"],
            &["HELLO", "3"],
            &["MEMORY", "DOCTOR"],
        ] {
            let reply = run(&mut c, args).expect("reply");
            if args[0] != "HELLO" {
                out.push(reply);
            }
        }
        for resp in ["2", "3"] {
            run(&mut c, &["HELLO", resp]).expect("hello");
            let stats = run(&mut c, &["MEMORY", "MALLOC-STATS"]).expect("malloc-stats");
            // The type, then the report's first line.
            let body = stats.splitn(2, |&b| b == b'\n').nth(1).unwrap_or_default();
            let first = body.split(|&b| b == b'\n').next().unwrap_or_default();
            out.push([&stats[..1], b" ", first].concat());
        }
        out
    };
    let (ours, theirs) = (replies(&s), replies(&r));
    assert!(
        String::from_utf8_lossy(&theirs[0]).contains("this instance is empty"),
        "{:?}",
        String::from_utf8_lossy(&theirs[0])
    );
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    }
    assert_eq!(ours.len(), theirs.len());
}

/// The buffer limit settings, then the limits at work on both servers: a request growing past
/// `client-query-buffer-limit` and a pipeline whose replies pass the hard output limit close
/// the connection (no reply to the first, fewer replies than requests to the second).
#[test]
fn buffer_limits() {
    let (mut r, mut s) = main_pair();
    let mut failures = run_cases(&mut r, &mut s, "buffer limits", BUFFER_LIMITS);
    let outcomes: Vec<(String, String)> = [&r, &s]
        .iter()
        .map(|srv| (query_limit_outcome(srv), output_limit_outcome(srv)))
        .collect();
    if std::env::var_os("DIFF_TRACE").is_some() {
        eprintln!(
            "buffer limits at work:\n    a: {:?}\n    b: {:?}",
            outcomes[0], outcomes[1]
        );
    }
    if outcomes[0] != outcomes[1] {
        failures.push(format!(
            "[buffer limits at work]\n    {}: {:?}\n    {}: {:?}",
            r.name, outcomes[0], s.name, outcomes[1]
        ));
    }
    finish("buffer limits", failures);
}

/// With a 1 MB query buffer limit, a SET whose value grows past it without ending.
fn query_limit_outcome(srv: &Server) -> String {
    let mut admin = srv.client();
    admin.cmd_str(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]);
    let mut c = srv.client();
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1500000\r\n");
    let chunk = vec![b'x'; 16 * 1024];
    // Writing may fail part-way once the server has closed.
    for _ in 0..80 {
        if c.try_send_raw(&chunk).is_err() {
            break;
        }
    }
    c.set_read_timeout(Duration::from_secs(3));
    let outcome = match c.expect_closed() {
        Ok(()) => "closed, no reply".to_string(),
        Err(e) => e,
    };
    admin.cmd_str(&["CONFIG", "SET", "client-query-buffer-limit", "1gb"]);
    let gone = pretty(&admin.cmd_str(&["EXISTS", "q"]));
    format!("{outcome}; EXISTS q: {gone}")
}

/// With a 1 MB hard output limit, 40 pipelined GETs of a 100 kB value, read afterwards.
fn output_limit_outcome(srv: &Server) -> String {
    let mut admin = srv.client();
    admin.cmd(&[b"SET", b"obuf", &vec![b'v'; 100_000]]);
    admin.cmd_str(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 1mb 0 0",
    ]);
    let mut c = srv.client();
    let mut pipeline = Vec::new();
    for _ in 0..40 {
        pipeline.extend(support::encode_command(&[b"GET", b"obuf"]));
    }
    c.send_raw(&pipeline);
    c.set_read_timeout(Duration::from_secs(3));
    let mut replies = 0;
    let end = loop {
        match c.try_read_reply() {
            Ok(_) => replies += 1,
            Err(e) => break e.to_string(),
        }
    };
    admin.cmd_str(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 0 0 0",
    ]);
    let closed = end.contains("closed") || end.contains("reset") || end.contains("EOF");
    format!(
        "fewer than 40 replies: {}, then closed: {closed}",
        replies < 40
    )
}

#[test]
fn random_string_ops() {
    let (r, s) = main_pair();
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seed = env("DIFF_SEED", 0x5eed_1234_abcd_0001);
    let ops = env("DIFF_OPS", 600) as usize;
    finish("random", random_ops(&r, &s, seed, ops));
}

/// Runs every group redis-vs-redis: any failure here is a harness bug or a
/// nondeterministic case, not a shardis bug.
#[test]
#[ignore = "harness self-check; run manually"]
fn self_check_redis_vs_redis() {
    let mut a = Server::redis();
    let mut b = Server::redis();
    b.name = "redis#2".into();
    let mut failures = Vec::new();
    for (group, cases) in [
        ("strings", STRINGS),
        ("keyspace", KEYSPACE),
        ("expiry", EXPIRY),
        ("connection", CONNECTION),
        ("functions", FUNCTIONS),
    ] {
        failures.extend(run_cases(&mut a, &mut b, group, cases));
    }
    failures.extend(run_raw_cases(&a, &b, &protocol_cases()));
    failures.extend(random_ops(&a, &b, 0x5eed_1234_abcd_0001, 600));

    let mut ca = Server::redis_cluster();
    let mut cb = Server::redis_cluster();
    cb.name = "redis-cluster#2".into();
    failures.extend(run_cases(&mut ca, &mut cb, "cluster", CLUSTER));

    let mut pa = Server::redis_with(&["--requirepass", "secret"]);
    let mut pb = Server::redis_with(&["--requirepass", "secret"]);
    pb.name = "redis#2".into();
    failures.extend(run_cases(&mut pa, &mut pb, "auth", AUTH));

    let mut la = Server::redis_with(&LIMIT_ARGS);
    let mut lb = Server::redis_with(&LIMIT_ARGS);
    lb.name = "redis#2".into();
    failures.extend(limits(&mut la, &mut lb));
    finish("self-check", failures);
}

/// Parser sanity checks that need no server.
#[test]
fn resp_parser_splits_replies() {
    let pipelined: &[u8] = b"+OK\r\n$3\r\nfoo\r\n*2\r\n:1\r\n*1\r\n_\r\n%1\r\n+a\r\n,1.5\r\n|1\r\n+k\r\n#t\r\n:7\r\n$-1\r\n*-1\r\n=7\r\ntxt:abc\r\n$?\r\n;2\r\nab\r\n;0\r\n*?\r\n:1\r\n.\r\n";
    let mut rest = pipelined;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let n = support::frame_len(rest)
            .expect("valid RESP")
            .expect("complete frame");
        frames.push(&rest[..n]);
        rest = &rest[n..];
    }
    assert_eq!(frames.len(), 10, "{frames:?}");
    assert_eq!(frames[3], b"%1\r\n+a\r\n,1.5\r\n");
    assert_eq!(frames[4], b"|1\r\n+k\r\n#t\r\n:7\r\n");
    for frame in &frames {
        for cut in 0..frame.len() {
            let got = support::frame_len(&frame[..cut]).expect("valid prefix");
            assert_eq!(got, None, "prefix of {} reported complete", pretty(frame));
        }
    }
    assert_eq!(
        parse_reply(b"*2\r\n$1\r\na\r\n_\r\n"),
        Reply::Array(Some(vec![Reply::Bulk(Some(b"a".to_vec())), Reply::Null]))
    );
    assert!(support::frame_len(b"$3\r\nfooXX").is_err());
    assert!(support::frame_len(b"?\r\n").is_err());
}

// ---------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------

type Outcome = Result<Vec<u8>, String>;

fn show(o: &Outcome) -> String {
    match o {
        Ok(raw) => pretty(raw),
        Err(e) => e.clone(),
    }
}

fn run(c: &mut RawClient, args: &[&str]) -> Outcome {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.try_cmd(&args).map_err(|e| e.to_string())
}

/// With `DIFF_TRACE=1` in the environment, prints every command and both
/// replies (use with `--nocapture`).
fn trace(at: &str, args: &[&str], ra: &Outcome, rb: &Outcome) {
    if std::env::var_os("DIFF_TRACE").is_some() {
        eprintln!(
            "{at}: {}\n    a: {}\n    b: {}",
            pretty_command(args),
            show(ra),
            show(rb)
        );
    }
}

/// Whether a fresh connection gets `+PONG` within 2 s.
fn responsive(s: &Server) -> bool {
    let Ok(mut c) = connect(s) else {
        return false;
    };
    c.set_read_timeout(Duration::from_secs(2));
    matches!(c.try_cmd(&[b"PING"]), Ok(r) if r == b"+PONG\r\n" || r.starts_with(b"-NOAUTH"))
}

fn connect(s: &Server) -> Result<RawClient, String> {
    RawClient::try_connect(s.port).map_err(|e| format!("cannot connect to {}: {e}", s.name))
}

/// Formats one mismatch: where, the command and both replies.
fn mismatch(a: &Server, b: &Server, at: &str, args: &[&str], ra: &str, rb: &str) -> String {
    format!(
        "{at}: {}\n    {:<8} {ra}\n    {:<8} {rb}",
        pretty_command(args),
        format!("{}:", a.name),
        format!("{}:", b.name)
    )
}

/// Adds where two raw replies first differ, for long replies.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if i < 40 {
        return String::new();
    }
    let from = i.saturating_sub(40);
    let cut = |s: &[u8]| escape(&s[from.min(s.len())..(i + 60).min(s.len())]);
    format!(
        "\n    first difference at byte {i}:\n      ...{}\n      ...{}",
        cut(a),
        cut(b)
    )
}

fn exact(
    ca: &mut RawClient,
    cb: &mut RawClient,
    (a, b): (&Server, &Server),
    at: &str,
    args: &[&str],
) -> Result<(), Mismatch> {
    let (ra, rb) = (run(ca, args), run(cb, args));
    trace(at, args, &ra, &rb);
    if ra == rb {
        return Ok(());
    }
    let mut msg = mismatch(a, b, at, args, &show(&ra), &show(&rb));
    if let (Ok(x), Ok(y)) = (&ra, &rb) {
        msg.push_str(&first_difference(x, y));
    }
    Err(Mismatch::new(msg, &ra, &rb))
}

/// Reply shape: types, aggregate sizes and map keys, no scalar values.
fn shape(r: &Reply) -> String {
    let list = |v: &[Reply]| v.iter().map(shape).collect::<Vec<_>>().join(",");
    let map = |v: &[(Reply, Reply)]| {
        v.iter()
            .map(|(k, val)| {
                let key = k.bytes().map(escape).unwrap_or_else(|| shape(k));
                format!("{key}={}", shape(val))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    match r {
        Reply::Simple(_) => "+".into(),
        Reply::Error(e) => format!("-{}", escape(e.split(|&b| b == b' ').next().unwrap_or(b""))),
        Reply::Integer(_) => ":".into(),
        Reply::Bulk(None) => "$-1".into(),
        Reply::Bulk(Some(_)) if r.as_int().is_some() => "$int".into(),
        Reply::Bulk(Some(_)) => "$".into(),
        Reply::Array(None) => "*-1".into(),
        Reply::Array(Some(v)) => format!("*[{}]", list(v)),
        Reply::Null => "_".into(),
        Reply::Double(_) => ",".into(),
        Reply::Boolean(_) => "#".into(),
        Reply::BigNumber(_) => "(".into(),
        Reply::BulkError(_) => "!".into(),
        Reply::Verbatim(_) => "=".into(),
        Reply::Map(v) => format!("%{{{}}}", map(v)),
        Reply::Set(v) => format!("~[{}]", list(v)),
        Reply::Push(v) => format!(">[{}]", list(v)),
        Reply::Attribute(a, v) => format!("|{{{}}}{}", map(a), shape(v)),
    }
}

/// Collects all keys of a full `SCAN 0 <opts>` iteration.
fn scan_all(c: &mut RawClient, opts: &[&str]) -> Result<BTreeSet<Vec<u8>>, String> {
    let mut keys = BTreeSet::new();
    let mut cursor = String::from("0");
    // `HSCAN key <opts>` (and SSCAN, ZSCAN) scan one key's elements; anything else is SCAN's.
    let (command, opts): (&[&str], &[&str]) = match opts.first() {
        Some(c) if ["hscan", "sscan", "zscan"].contains(&c.to_ascii_lowercase().as_str()) => {
            opts.split_at(2)
        }
        _ => (&["SCAN"], opts),
    };
    for _ in 0..10_000 {
        let mut args = command.to_vec();
        args.push(cursor.as_str());
        args.extend_from_slice(opts);
        let raw = run(c, &args)?;
        let reply = parse_reply(&raw);
        let (next, batch) = match reply.items() {
            Some([cur, Reply::Array(Some(batch))]) => (cur.bytes(), batch),
            _ => return Err(format!("unexpected SCAN reply {}", pretty(&raw))),
        };
        for k in batch {
            let k = k
                .bytes()
                .ok_or_else(|| format!("non-string key in {}", pretty(&raw)))?;
            keys.insert(k.to_vec());
        }
        match next {
            Some(b"0") => return Ok(keys),
            Some(n) => cursor = String::from_utf8_lossy(n).into_owned(),
            None => return Err(format!("bad SCAN cursor in {}", pretty(&raw))),
        }
    }
    Err("SCAN did not finish within 10000 calls".into())
}

fn show_keys(r: &Result<BTreeSet<Vec<u8>>, String>) -> String {
    match r {
        Ok(keys) => format!(
            "{{{}}}",
            keys.iter()
                .map(|k| escape(k))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => e.clone(),
    }
}

/// One failed comparison; `fatal` when a connection broke, so the rest of the
/// case cannot be trusted.
struct Mismatch {
    msg: String,
    fatal: bool,
}

impl Mismatch {
    fn new(msg: String, ra: &Outcome, rb: &Outcome) -> Mismatch {
        Mismatch {
            msg,
            fatal: ra.is_err() || rb.is_err(),
        }
    }
}

/// Runs one step on both connections and compares the replies.
fn run_step(
    ca: &mut RawClient,
    cb: &mut RawClient,
    (a, b): (&Server, &Server),
    at: &str,
    step: Step,
) -> Result<(), Mismatch> {
    match step {
        Step::Exact(args) => exact(ca, cb, (a, b), at, args)?,
        Step::Sorted(args) => {
            let (ra, rb) = (run(ca, args), run(cb, args));
            trace(at, args, &ra, &rb);
            let sorted = |o: &Outcome| -> Option<Vec<Reply>> {
                let mut v = match parse_reply(o.as_ref().ok()?) {
                    Reply::Map(pairs) => pairs
                        .into_iter()
                        .map(|(k, v)| Reply::Array(Some(vec![k, v])))
                        .collect(),
                    other => other.items()?.to_vec(),
                };
                v.sort();
                Some(v)
            };
            let same = match (sorted(&ra), sorted(&rb)) {
                (Some(x), Some(y)) => x == y,
                _ => ra == rb,
            };
            if !same {
                let at = format!("{at} (compared as sorted)");
                let msg = mismatch(a, b, &at, args, &show(&ra), &show(&rb));
                return Err(Mismatch::new(msg, &ra, &rb));
            }
        }
        Step::Ttl(args) => {
            let (ra, rb) = (run(ca, args), run(cb, args));
            trace(at, args, &ra, &rb);
            let tolerance = if args[0].to_ascii_uppercase().starts_with('P') {
                1000
            } else {
                1
            };
            let int = |o: &Outcome| o.as_ref().ok().and_then(|raw| parse_reply(raw).as_int());
            let same = match (int(&ra), int(&rb)) {
                (Some(x), Some(y)) if x < 0 || y < 0 => x == y,
                (Some(x), Some(y)) => x.abs_diff(y) <= tolerance,
                _ => ra == rb,
            };
            if !same {
                let at = format!("{at} (compared with tolerance {tolerance})");
                let msg = mismatch(a, b, &at, args, &show(&ra), &show(&rb));
                return Err(Mismatch::new(msg, &ra, &rb));
            }
        }
        Step::Shape(args) => {
            let (ra, rb) = (run(ca, args), run(cb, args));
            trace(at, args, &ra, &rb);
            let sh = |o: &Outcome| match o {
                Ok(raw) => shape(&parse_reply(raw)),
                Err(e) => e.clone(),
            };
            let (sa, sb) = (sh(&ra), sh(&rb));
            if sa != sb {
                let at = format!("{at} (compared by shape)");
                let with_raw = |o: &Outcome, s: &str| format!("{s}   raw {}", show(o));
                let msg = mismatch(a, b, &at, args, &with_raw(&ra, &sa), &with_raw(&rb, &sb));
                return Err(Mismatch::new(msg, &ra, &rb));
            }
        }
        Step::Scan(opts) => {
            let (ka, kb) = (scan_all(ca, opts), scan_all(cb, opts));
            if ka != kb {
                let mut args = vec!["SCAN", "<cursor>"];
                args.extend_from_slice(opts);
                let at = format!("{at} (full SCAN iteration, key sets)");
                let msg = mismatch(a, b, &at, &args, &show_keys(&ka), &show_keys(&kb));
                return Err(Mismatch { msg, fatal: false });
            }
        }
        Step::Sleep(ms) => thread::sleep(Duration::from_millis(ms)),
        Step::Closed => {
            let (ra, rb) = (ca.expect_closed(), cb.expect_closed());
            if ra != rb {
                let label = |r: &Result<(), String>| match r {
                    Ok(()) => "<closed>".to_string(),
                    Err(e) => e.clone(),
                };
                let at = format!("{at} (connection must be closed)");
                let msg = mismatch(a, b, &at, &[], &label(&ra), &label(&rb));
                return Err(Mismatch { msg, fatal: true });
            }
            let fatal = |msg| Mismatch { msg, fatal: true };
            *ca = connect(a).map_err(fatal)?;
            *cb = connect(b).map_err(fatal)?;
        }
    }
    Ok(())
}

/// Runs one case on fresh connections after `FLUSHALL`; returns every
/// mismatch (continuing after one unless a connection broke) and whether the
/// case was aborted.
fn run_case(a: &Server, b: &Server, case: &Case) -> (Vec<String>, bool) {
    let (mut ca, mut cb) = match (connect(a), connect(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return (vec![e], true),
    };
    let mut found = Vec::new();
    let setup = std::iter::once(("setup".to_string(), Step::Exact(&["FLUSHALL"])));
    let steps = case
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("step {}", i + 1), *s));
    for (at, step) in setup.chain(steps) {
        if let Err(m) = run_step(&mut ca, &mut cb, (a, b), &at, step) {
            found.push(m.msg);
            if m.fatal || at == "setup" {
                found.push("(case aborted)".into());
                return (found, true);
            }
        }
    }
    (found, false)
}

/// Runs `cases` on `a` (reference) and `b`; returns one message per failing
/// case. Stops early if either server dies.
fn run_cases(a: &mut Server, b: &mut Server, group: &str, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let (found, aborted) = run_case(a, b, case);
        if !found.is_empty() {
            failures.push(format!("[{group}/{}] {}", case.name, found.join("\n  ")));
        }
        for s in [&mut *a, &mut *b] {
            if !s.is_alive() {
                failures.push(format!(
                    "[{group}] {} died after case '{}'; rest skipped",
                    s.name, case.name
                ));
                return failures;
            }
            // A hung server would cost a read timeout per case: give up early.
            if aborted && !responsive(s) {
                failures.push(format!(
                    "[{group}] {} stopped answering PING after case '{}'; rest skipped",
                    s.name, case.name
                ));
                return failures;
            }
        }
    }
    failures
}

/// How a raw exchange ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The sentinel came back: the connection is still usable.
    Open,
    /// The server closed the connection.
    Closed,
    /// Neither sentinel nor close within the timeout.
    Timeout,
    /// Anything else (malformed reply, io error).
    Broken(String),
}

const SENTINEL_REPLY: &[u8] = b"$13\r\nsentinel-4242\r\n";

/// Sends `input` (plus an `ECHO` sentinel if asked) in one write (or byte by
/// byte) on a fresh connection; returns every reply before the sentinel and
/// how it ended. One write keeps a server that closes on a protocol error
/// from resetting the connection before its error reply is read.
fn raw_outcome(s: &Server, case: &RawCase) -> (Vec<Vec<u8>>, End) {
    let mut c = match connect(s) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), End::Broken(e)),
    };
    c.set_read_timeout(Duration::from_secs(2));
    let mut input = case.input.clone();
    if case.sentinel {
        input.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$13\r\nsentinel-4242\r\n");
    }
    let chunk = if case.bytewise { 1 } else { input.len() };
    for part in input.chunks(chunk) {
        if let Err(e) = c.try_send_raw(part) {
            return (Vec::new(), End::Broken(format!("write failed: {e}")));
        }
    }
    let mut replies = Vec::new();
    loop {
        match c.try_read_reply() {
            Ok(r) if case.sentinel && r == SENTINEL_REPLY => return (replies, End::Open),
            Ok(r) => replies.push(r),
            Err(support::ReadError::Closed(rest)) if rest.is_empty() => {
                return (replies, End::Closed)
            }
            Err(support::ReadError::Timeout(rest)) if rest.is_empty() => {
                return (replies, End::Timeout)
            }
            Err(e) => return (replies, End::Broken(e.to_string())),
        }
    }
}

fn run_raw_cases(a: &Server, b: &Server, cases: &[RawCase]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let flush = connect(a).and_then(|mut ca| {
            connect(b).and_then(|mut cb| {
                exact(&mut ca, &mut cb, (a, b), "setup", &["FLUSHALL"]).map_err(|m| m.msg)
            })
        });
        if let Err(msg) = flush {
            failures.push(format!("[protocol/{}] {msg}\n  (rest skipped)", case.name));
            return failures;
        }
        let (oa, ob) = (raw_outcome(a, case), raw_outcome(b, case));
        let stuck = |o: &(Vec<Vec<u8>>, End)| matches!(o.1, End::Timeout | End::Broken(_));
        let fmt = |(replies, end): &(Vec<Vec<u8>>, End)| {
            let r: Vec<String> = replies.iter().map(|r| pretty(r)).collect();
            format!("[{}] then {end:?}", r.join(", "))
        };
        if std::env::var_os("DIFF_TRACE").is_some() {
            eprintln!(
                "raw {}:\n    a: {}\n    b: {}",
                case.name,
                fmt(&oa),
                fmt(&ob)
            );
        }
        if oa != ob {
            let input = if case.input.len() > 80 {
                format!(
                    "{}... ({} bytes)",
                    escape(&case.input[..80]),
                    case.input.len()
                )
            } else {
                escape(&case.input)
            };
            failures.push(format!(
                "[protocol/{}] raw input \"{input}\"{}\n    {:<8} {}\n    {:<8} {}",
                case.name,
                if case.sentinel {
                    " + ECHO sentinel"
                } else {
                    ""
                },
                format!("{}:", a.name),
                fmt(&oa),
                format!("{}:", b.name),
                fmt(&ob)
            ));
        }
        for (s, o) in [(a, &oa), (b, &ob)] {
            if stuck(o) && !responsive(s) {
                failures.push(format!(
                    "[protocol] {} stopped answering PING after case '{}'; rest skipped",
                    s.name, case.name
                ));
                return failures;
            }
        }
    }
    failures
}

/// Deterministic pseudo-random string commands over a few keys, compared
/// byte for byte. After a mismatch both servers are flushed (state diverged)
/// and the run goes on; one report per command name.
fn random_ops(a: &Server, b: &Server, seed: u64, count: usize) -> Vec<String> {
    const KEYS: &[&str] = &["a", "b", "{t}c", "{t}d"];
    const VALUES: &[&str] = &[
        "",
        "0",
        "1",
        "-5",
        "10",
        "abc",
        "hello world",
        "9223372036854775806",
        "3.5",
        "-0.25",
        "1e3",
        " 1",
        "x\0y",
        "007",
    ];
    const INDEXES: &[&str] = &["0", "1", "2", "5", "-1", "-2", "-10", "100", "-100"];
    const FLOATS: &[&str] = &["0.1", "-1.5", "2", "1e2", "abc", "0"];
    let mut state = seed;
    let mut next = |n: usize| -> usize {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut ca, mut cb) = match (connect(a), connect(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return vec![format!("[random] {e}")],
    };
    if let Err(m) = exact(&mut ca, &mut cb, (a, b), "setup", &["FLUSHALL"]) {
        return vec![format!("[random] {}", m.msg)];
    }
    let mut history: Vec<(usize, Vec<&str>)> = Vec::new();
    let mut failures = Vec::new();
    let mut reported: Vec<&str> = Vec::new();
    for i in 0..count {
        let k = KEYS[next(KEYS.len())];
        let k2 = if k.starts_with("{t}") {
            KEYS[2 + next(2)]
        } else {
            KEYS[next(2)]
        };
        let v = VALUES[next(VALUES.len())];
        let i1 = INDEXES[next(INDEXES.len())];
        let i2 = INDEXES[next(INDEXES.len())];
        let f = FLOATS[next(FLOATS.len())];
        let off = ["0", "1", "3", "7", "12"][next(5)];
        let args: Vec<&str> = match next(20) {
            0 => vec!["SET", k, v],
            1 => vec!["GET", k],
            2 => vec!["APPEND", k, v],
            3 => vec!["STRLEN", k],
            4 => vec!["GETRANGE", k, i1, i2],
            5 => vec!["SETRANGE", k, off, v],
            6 => vec!["INCR", k],
            7 => vec!["DECRBY", k, i1],
            8 => vec!["INCRBYFLOAT", k, f],
            9 => vec!["GETSET", k, v],
            10 => vec!["GETDEL", k],
            11 => vec!["MSET", k, v, k2, v],
            12 => vec!["MGET", k, k2, "missing"],
            13 => vec!["DEL", k, k2],
            14 => vec!["EXISTS", k, k2, k],
            15 => vec!["SETNX", k, v],
            16 => vec!["SUBSTR", k, i1, i2],
            17 => vec!["SET", k, v, ["NX", "XX", "GET", "KEEPTTL"][next(4)]],
            18 => vec!["INCRBY", k, i1],
            _ => vec!["TYPE", k],
        };
        if let Err(m) = exact(&mut ca, &mut cb, (a, b), &format!("op {}", i + 1), &args) {
            // Earlier commands on the same keys explain the state.
            let touches = |cmd: &[&str]| cmd.iter().any(|x| KEYS.contains(x) && args.contains(x));
            let related: Vec<String> = history
                .iter()
                .filter(|(_, cmd)| touches(cmd))
                .map(|(n, cmd)| format!("op {n}: {}", pretty_command(cmd)))
                .collect();
            let from = related.len().saturating_sub(25);
            if !reported.contains(&args[0]) {
                reported.push(args[0]);
                failures.push(format!(
                    "[random seed {seed:#x}] {}\n    earlier commands on the same keys:\n      {}",
                    m.msg,
                    related[from..].join("\n      ")
                ));
            }
            // Start over from an empty keyspace so one bug does not hide the next.
            let flush = exact(&mut ca, &mut cb, (a, b), "resync", &["FLUSHALL"]);
            if m.fatal || flush.is_err() {
                failures.push("[random] connection broke; stopped".into());
                break;
            }
            history.clear();
            continue;
        }
        history.push((i + 1, args));
    }
    failures
}

/// Fails the test with every collected mismatch.
fn finish(group: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} mismatching case(s) in group '{group}':\n\n{}\n",
        failures.len(),
        failures.join("\n\n")
    );
}

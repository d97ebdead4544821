//! Helpers for reading command arguments the way redis-server reads them.

use bytes::Bytes;

use super::errors;
use crate::protocol::parse::parse_i64;
use crate::protocol::Frame;

/// The arguments of one command, `argv[0]` being its name.
pub type Argv = Vec<Bytes>;

/// An integer argument (`string2ll` rules), or the standard not-an-integer error.
pub fn int(arg: &[u8]) -> Result<i64, Frame> {
    parse_i64(arg).ok_or_else(errors::not_integer)
}

/// True when `arg` equals `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A command's full name from the command table, as carried by parsed commands for their
/// error texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandName(pub &'static str);

/// A fixed word of a command (a name, an option), without an allocation.
pub fn word(w: &'static str) -> Bytes {
    Bytes::from_static(w.as_bytes())
}

/// An integer argument, in decimal as a client writes it.
pub fn from_int(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// The common form of LMPOP and ZMPOP: `numkeys key … <end> [COUNT count]`, with `ends` the two
/// words the end may be (LEFT/RIGHT, MIN/MAX). Returns the keys, whether the end is the second
/// word, and the count (1 by default; COUNT given once at most, as redis reads it).
pub fn numkeys_end_count(
    argv: &Argv,
    ends: (&str, &str),
) -> Result<(Vec<Bytes>, bool, i64), Frame> {
    let numkeys = match parse_i64(&argv[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(Frame::error("ERR numkeys should be greater than 0")),
    };
    if argv.len() < numkeys + 3 {
        return Err(errors::syntax());
    }
    let keys = argv[2..2 + numkeys].to_vec();
    let end = &argv[2 + numkeys];
    let second = if is(end, ends.0) {
        false
    } else if is(end, ends.1) {
        true
    } else {
        return Err(errors::syntax());
    };
    let mut count = None;
    let mut i = 3 + numkeys;
    while i < argv.len() {
        match argv.get(i + 1) {
            Some(v) if is(&argv[i], "count") && count.is_none() => {
                count = match parse_i64(v) {
                    Some(n) if n > 0 => Some(n),
                    _ => return Err(Frame::error("ERR count should be greater than 0")),
                };
                i += 2;
            }
            _ => return Err(errors::syntax()),
        }
    }
    Ok((keys, second, count.unwrap_or(1)))
}

/// The optional `LIMIT limit` after a command's keys (SINTERCARD, ZINTERCARD), from `argv[at]`
/// on: 0 (no limit) when absent.
pub fn limit_from(argv: &Argv, mut at: usize) -> Result<u64, Frame> {
    let mut limit = 0;
    while at < argv.len() {
        match argv.get(at + 1) {
            Some(v) if is(&argv[at], "limit") => {
                limit = match parse_i64(v) {
                    Some(n) if n >= 0 => n as u64,
                    _ => return Err(Frame::error("ERR LIMIT can't be negative")),
                };
                at += 2;
            }
            _ => return Err(errors::syntax()),
        }
    }
    Ok(limit)
}

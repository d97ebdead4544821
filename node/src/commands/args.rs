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

//! Error replies shared by many commands, with redis-server's exact texts.

use crate::protocol::Frame;

/// `-ERR syntax error`.
pub fn syntax() -> Frame {
    Frame::error("ERR syntax error")
}

/// `-ERR value is not an integer or out of range`.
pub fn not_integer() -> Frame {
    Frame::error("ERR value is not an integer or out of range")
}

/// `-ERR value is not a valid float`.
pub fn not_float() -> Frame {
    Frame::error("ERR value is not a valid float")
}

/// `-WRONGTYPE …`.
pub fn wrong_type() -> Frame {
    Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value")
}

/// The keyspace's type error is answered as redis answers it.
impl From<crate::keyspace::WrongType> for Frame {
    fn from(_: crate::keyspace::WrongType) -> Frame {
        wrong_type()
    }
}

/// `-ERR wrong number of arguments for '<name>' command`.
pub fn wrong_arity(name: &str) -> Frame {
    Frame::error_owned(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// `-ERR invalid expire time in '<name>' command`.
pub fn invalid_expire(name: &str) -> Frame {
    Frame::error_owned(format!("ERR invalid expire time in '{name}' command"))
}

/// `-CROSSSLOT …`, for multi-key commands whose keys are in different slots.
pub fn cross_slot() -> Frame {
    Frame::error("CROSSSLOT Keys in request don't hash to the same slot")
}

/// `-ERR string exceeds maximum allowed size (proto-max-bulk-len)`.
pub fn too_big() -> Frame {
    Frame::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// Text of a client-supplied argument for an error reply: at most `max` bytes, lossy UTF-8,
/// CR and LF turned into spaces as redis does.
pub fn quote_arg(arg: &[u8], max: usize) -> String {
    let cut = &arg[..arg.len().min(max)];
    String::from_utf8_lossy(cut).replace(['\r', '\n'], " ")
}

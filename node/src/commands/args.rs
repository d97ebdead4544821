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

/// A command's full name from the command table, as carried by replicated commands for their
/// error texts. It travels as text and comes back as the table's own `&'static str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandName(pub &'static str);

impl serde::Serialize for CommandName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CommandName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CommandName, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(d)?;
        let (parent, sub) = match name.split_once('|') {
            Some((p, s)) => (p, Some(s)),
            None => (name.as_str(), None),
        };
        let spec = super::table::lookup(parent.as_bytes())
            .and_then(|p| match sub {
                Some(s) => super::table::lookup_subcommand(p, s.as_bytes()),
                None => Some(p),
            })
            .ok_or_else(|| serde::de::Error::custom(format!("unknown command name {name}")))?;
        Ok(CommandName(spec.name))
    }
}

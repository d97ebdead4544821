//! The one binary encoding of replicated data, on disk and on the wire: bincode 2 over serde.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a value.
pub fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, config()).map_err(io::Error::other)
}

/// Appends the encoding of a value to `out`.
pub fn encode_append<T: Serialize>(value: &T, out: &mut Vec<u8>) -> io::Result<()> {
    bincode::serde::encode_into_std_write(value, out, config())
        .map(|_| ())
        .map_err(io::Error::other)
}

/// Decodes a value that must fill `data` exactly.
pub fn decode<T: DeserializeOwned>(data: &[u8]) -> io::Result<T> {
    let (value, used) =
        bincode::serde::decode_from_slice(data, config()).map_err(io::Error::other)?;
    if used != data.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "trailing bytes after a record",
        ));
    }
    Ok(value)
}

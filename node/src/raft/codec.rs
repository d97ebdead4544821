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

/// Encodes a value into a buffer made for `capacity` bytes up front: for large values of a
/// known size (a snapshot is about the size of the last one), it saves the copies and page
/// faults of growing the buffer step by step.
pub fn encode_sized<T: Serialize>(value: &T, capacity: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(capacity);
    bincode::serde::encode_into_std_write(value, &mut out, config()).map_err(io::Error::other)?;
    Ok(out)
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

//! The one binary encoding of replicated data, on disk and on the wire (bincode 2 over serde),
//! and the checksum that guards it (CRC-32C).
//!
//! Shared by the keyspace (snapshot data), the WAL (record frames) and the Raft layer (log
//! records, transport payloads), so that none of them needs to import another for it.

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

/// CRC-32C (Castagnoli, as iSCSI and ext4 use it), table-driven 16 bytes at a time.
pub static CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// The CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    CRC32C.checksum(data)
}

/// The error for data in a format this release does not read: `what` in format `found`,
/// where this release reads `reads` only. Says whether an older or a newer release wrote it.
pub fn unsupported_format(what: &str, found: u8, reads: u8) -> io::Error {
    unsupported_formats(what, found, reads..=reads)
}

/// As [`unsupported_format`], for data of which this release reads several formats.
pub fn unsupported_formats(
    what: &str,
    found: u8,
    reads: std::ops::RangeInclusive<u8>,
) -> io::Error {
    let who = if found > *reads.end() {
        "a newer"
    } else {
        "an older"
    };
    let formats = if reads.start() == reads.end() {
        format!("format {} only", reads.end())
    } else {
        format!("formats {} to {} only", reads.start(), reads.end())
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{what} in format {found}, written by {who} release of Shardis; this release reads \
             {formats} (start the release that wrote it, or move the data aside)"
        ),
    )
}

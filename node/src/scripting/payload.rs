//! The payload of FUNCTION DUMP and FUNCTION RESTORE, in redis's format, so that a dump taken
//! from redis restores into Shardis and the other way round: per library the opcode
//! `RDB_OPCODE_FUNCTION2` (245) and its code as an RDB string, then the RDB version (2 bytes,
//! little-endian) and a CRC-64 (redis's Jones polynomial, little-endian) of all that precedes it.
//!
//! Shardis writes its strings plain; it reads plain, integer-encoded and LZF-compressed ones,
//! as redis writes any of them.

use bytes::Bytes;

/// The RDB version redis 7.0 writes and the newest a payload may carry.
const RDB_VERSION: u16 = 10;
/// A library's code (redis 7.0 GA on).
const OPCODE_FUNCTION2: u8 = 245;
/// A library as 7.0's release candidates wrote it: name, engine, description, body.
const OPCODE_FUNCTION: u8 = 246;

const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// The payload of these libraries' codes.
pub fn encode<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Bytes {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        push_len(&mut out, code.len() as u64);
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Bytes::from(out)
}

/// Why a payload was refused, in redis's words (the caller adds `ERR`).
#[derive(Debug, PartialEq, Eq)]
pub enum BadPayload {
    /// Too short, from a newer RDB version, or a wrong checksum.
    Footer,
    /// An item that is not a library, or cannot be read.
    Item(&'static str),
}

impl BadPayload {
    /// Redis's error text.
    pub fn message(&self) -> &'static str {
        match self {
            BadPayload::Footer => "DUMP payload version or checksum are wrong",
            BadPayload::Item(m) => m,
        }
    }
}

/// The libraries' codes in a payload, in order.
pub fn decode(payload: &[u8]) -> Result<Vec<Bytes>, BadPayload> {
    if payload.len() < 10 {
        return Err(BadPayload::Footer);
    }
    let body_end = payload.len() - 10;
    let version = u16::from_le_bytes([payload[body_end], payload[body_end + 1]]);
    if version > RDB_VERSION {
        return Err(BadPayload::Footer);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&payload[body_end + 2..]);
    if CRC64.checksum(&payload[..body_end + 2]) != u64::from_le_bytes(crc) {
        return Err(BadPayload::Footer);
    }
    let mut reader = Reader {
        data: &payload[..body_end],
        at: 0,
    };
    let mut codes = Vec::new();
    while reader.at < reader.data.len() {
        match reader.byte() {
            Some(OPCODE_FUNCTION2) => codes.push(
                reader
                    .string()
                    .ok_or(BadPayload::Item("Failed loading library payload"))?,
            ),
            Some(OPCODE_FUNCTION) => codes.push(reader.old_library()?),
            Some(_) => return Err(BadPayload::Item("given type is not a function")),
            None => return Err(BadPayload::Item("can not read data type")),
        }
    }
    Ok(codes)
}

/// RDB's length encoding: 6 bits, 14 bits, or a marker and 32 or 64 bits, big-endian.
fn push_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// A length, or the kind of a specially encoded string.
enum Len {
    Plain(u64),
    Encoded(u8),
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let bytes = self.data.get(self.at..end)?;
        self.at = end;
        Some(bytes)
    }

    fn len(&mut self) -> Option<Len> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain(u64::from(first & 0x3f) << 8 | u64::from(self.byte()?)),
            2 => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().ok()?,
                ))),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
            _ => Len::Encoded(first & 0x3f),
        })
    }

    fn plain_len(&mut self) -> Option<usize> {
        match self.len()? {
            Len::Plain(n) => usize::try_from(n).ok(),
            Len::Encoded(_) => None,
        }
    }

    /// An RDB string: plain, an integer, or LZF-compressed.
    fn string(&mut self) -> Option<Bytes> {
        match self.len()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).ok()?;
                self.take(n).map(Bytes::copy_from_slice)
            }
            Len::Encoded(0) => Some(Bytes::from((self.byte()? as i8).to_string())),
            Len::Encoded(1) => Some(Bytes::from(
                i16::from_le_bytes(self.take(2)?.try_into().ok()?).to_string(),
            )),
            Len::Encoded(2) => Some(Bytes::from(
                i32::from_le_bytes(self.take(4)?.try_into().ok()?).to_string(),
            )),
            Len::Encoded(3) => {
                let compressed = self.plain_len()?;
                let len = self.plain_len()?;
                let data = self.take(compressed)?;
                let out = lzf::decompress(data, len).ok()?;
                (out.len() == len).then(|| Bytes::from(out))
            }
            Len::Encoded(_) => None,
        }
    }

    /// A library as redis 7.0's release candidates wrote it, rewritten as the code of today's
    /// form (its description dropped, as redis drops it).
    fn old_library(&mut self) -> Result<Bytes, BadPayload> {
        let name = self
            .string()
            .ok_or(BadPayload::Item("Failed loading library name"))?;
        let engine = self
            .string()
            .ok_or(BadPayload::Item("Failed loading engine name"))?;
        let has_desc = self.plain_len().ok_or(BadPayload::Item(
            "Failed loading library description indicator",
        ))?;
        if has_desc != 0 {
            self.string()
                .ok_or(BadPayload::Item("Failed loading library description"))?;
        }
        let body = self
            .string()
            .ok_or(BadPayload::Item("Failed loading library blob"))?;
        let mut code = b"#!".to_vec();
        code.extend_from_slice(&engine);
        code.extend_from_slice(b" name=");
        code.extend_from_slice(&name);
        code.push(b'\n');
        code.extend_from_slice(&body);
        Ok(Bytes::from(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_are_checked() {
        let long = "x".repeat(20_000);
        let codes: Vec<&[u8]> = vec![b"#!lua name=a\n", long.as_bytes(), b""];
        let payload = encode(codes.iter().copied());
        let back = decode(&payload).expect("decodes");
        assert_eq!(back.iter().map(|b| b.as_ref()).collect::<Vec<_>>(), codes);
        // Any flipped byte fails the checksum; a short or newer payload is refused.
        for at in 0..payload.len() {
            let mut bad = payload.to_vec();
            bad[at] ^= 1;
            assert!(decode(&bad).is_err(), "byte {at}");
        }
        assert_eq!(decode(b"short"), Err(BadPayload::Footer));
        assert_eq!(decode(&encode([])), Ok(Vec::new()));
    }

    #[test]
    fn a_payload_redis_wrote_is_read() {
        // FUNCTION DUMP of redis 7.0.15 after loading one library of two functions: its code
        // LZF-compressed.
        let dump: &[u8] = b"\xf5\xc3\x40\x61\x40\xa7\x1f\x23\x21\x6c\x75\x61\x20\x6e\x61\x6d\
\x65\x3d\x6d\x79\x6c\x69\x62\x0a\x72\x65\x64\x69\x73\x2e\x72\x65\
\x67\x69\x73\x74\x65\x72\x5f\x0b\x66\x75\x6e\x63\x74\x69\x6f\x6e\
\x28\x27\x6d\x79\x40\x0b\x02\x27\x2c\x20\x40\x06\x60\x12\x11\x6b\
\x65\x79\x73\x2c\x20\x61\x72\x67\x73\x29\x20\x72\x65\x74\x75\x72\
\x6e\x60\x0c\x07\x5b\x31\x5d\x20\x65\x6e\x64\x29\xe0\x17\x4a\x00\
\x32\xe0\x20\x4b\x01\x64\x29\x0a\x00\xa4\xdb\x13\x0c\x17\x4b\x69\
\xa4";
        let codes = decode(dump);
        let code = "#!lua name=mylib\n\
            redis.register_function('myfunc', function(keys, args) return args[1] end)\n\
            redis.register_function('myfunc2', function(keys, args) return args[1] end)";
        assert_eq!(codes, Ok(vec![Bytes::from(code)]));
    }
}

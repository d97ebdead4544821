//! Replies and their encoding in RESP2 or RESP3.
//!
//! A [`Frame`] is built once by the code that answers a command and encoded by the connection in the
//! protocol version the client chose with `HELLO`. Types that RESP2 lacks fall back the way
//! redis-server falls back: maps become flat arrays, sets become arrays, nulls become `$-1` or `*-1`,
//! doubles become bulk strings, verbatim strings become bulk strings.

use std::sync::Arc;

use bytes::{BufMut, Bytes};

/// One reply, in protocol-neutral form.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Frame {
    /// `+OK`-style status reply.
    Simple(Bytes),
    /// Error reply; the text carries its own prefix (`ERR …`, `WRONGTYPE …`).
    Error(Bytes),
    /// `:N` integer reply.
    Integer(i64),
    /// Binary-safe bulk string.
    Bulk(Bytes),
    /// Missing value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// Missing aggregate: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// Array of replies.
    Array(Vec<Frame>),
    /// Key/value pairs: `%` in RESP3, a flat array in RESP2.
    Map(Vec<(Frame, Frame)>),
    /// Unordered collection: `~` in RESP3, an array in RESP2.
    Set(Vec<Frame>),
    /// Floating point number: `,` in RESP3, a bulk string in RESP2.
    Double(f64),
    /// Text with a three-letter format (`txt`): `=` in RESP3, a bulk string in RESP2.
    Verbatim(Bytes),
    /// Ordered pairs that are not a map (HRANDFIELD … WITHVALUES, ZRANGE … WITHSCORES): an
    /// array of two-element arrays in RESP3, a flat array in RESP2, as redis replies.
    Pairs(Vec<(Frame, Frame)>),
    /// A reply already encoded, the same in RESP2 and RESP3 (an array of bulk strings, see
    /// [`Frame::bulk_array`]): how a long range leaves a shard as one buffer rather than a
    /// frame and an allocation per element.
    Encoded(Bytes),
    /// A boolean: `#t` / `#f` in RESP3, `:1` / `:0` in RESP2 (a script's `true` or `false`
    /// after `redis.setresp(3)`). Only scripts' replies carry it, which never cross the network
    /// between nodes.
    Boolean(bool),
    /// A number too big for an integer, as text: `(` in RESP3, a bulk string in RESP2 (a
    /// script's `{big_number = …}`).
    BigNumber(Bytes),
    /// An array of bulk strings encoded only while it is written, a chunk at a time
    /// ([`Streamed`]): how a range of millions of elements leaves its shard without being
    /// copied first. It never crosses the network between nodes, so it is not serialized.
    #[serde(skip)]
    Streamed(Streamed),
}

/// The elements of a long array of bulk strings, held without a copy (a list's nodes, shared
/// with the list until it changes them), in chunks of a few kilobytes.
pub trait BulkChunks: Send + Sync {
    /// Elements in all.
    fn count(&self) -> usize;
    /// Chunks in all.
    fn chunks(&self) -> usize;
    /// Appends chunk `i`'s elements to `out`, each encoded as a bulk string.
    fn encode_chunk(&self, i: usize, out: &mut Vec<u8>);
    /// About the bytes of the array's encoding, found without walking the elements (for
    /// output-buffer limits and statistics until the last chunk is encoded).
    fn estimated_len(&self) -> usize;
}

/// An array of bulk strings encoded as it is written ([`Frame::Streamed`]).
#[derive(Clone)]
pub struct Streamed(pub Arc<dyn BulkChunks>);

impl Streamed {
    /// Appends the array's header to `out`.
    pub fn encode_header(&self, out: &mut Vec<u8>) {
        header(out, b'*', self.0.count());
    }
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Streamed({} elements)", self.0.count())
    }
}

impl PartialEq for Streamed {
    /// Equal when they encode the same (tests compare replies).
    fn eq(&self, other: &Streamed) -> bool {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        Frame::Streamed(self.clone()).encode(2, &mut a);
        Frame::Streamed(other.clone()).encode(2, &mut b);
        a == b
    }
}

impl Frame {
    /// `+OK`.
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// An array of the `count` bulk strings `items` yields, encoded at once into one buffer
    /// ([`Frame::Encoded`]); `guess` is the expected bytes per element, for the buffer's first
    /// size. Arrays of bulk strings read the same in RESP2 and RESP3.
    pub fn bulk_array<T: AsRef<[u8]>>(
        count: usize,
        guess: usize,
        items: impl IntoIterator<Item = T>,
    ) -> Frame {
        // An element's header (`$`, digits, CRLF) and its own CRLF: 8 bytes below 1000 bytes.
        let mut out = Vec::with_capacity(count.saturating_mul(guess + 8).saturating_add(24));
        header(&mut out, b'*', count);
        for item in items {
            bulk(&mut out, item.as_ref());
        }
        // A guess far off leaves up to half the buffer unused: give it back.
        if out.capacity() > out.len() + out.len() / 4 {
            out.shrink_to_fit();
        }
        Frame::Encoded(Bytes::from(out))
    }

    /// A status reply from static text.
    pub fn simple(text: &'static str) -> Frame {
        Frame::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply from static text, which must include its prefix (`ERR …`).
    pub fn error(text: &'static str) -> Frame {
        Frame::Error(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply from owned text, which must include its prefix.
    pub fn error_owned(text: String) -> Frame {
        Frame::Error(Bytes::from(text))
    }

    /// A bulk string copied from a slice.
    pub fn bulk_from(data: &[u8]) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(data))
    }

    /// A bulk string of the decimal form of an integer.
    pub fn bulk_int(n: i64) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(
            itoa::Buffer::new().format(n).as_bytes(),
        ))
    }

    /// True for error replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// Appends the encoding of this frame in protocol `proto` (2 or 3) to `out`.
    pub fn encode(&self, proto: u8, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            Frame::Error(e) => line(out, b'-', e),
            Frame::Integer(n) => {
                out.push(b':');
                out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Frame::Bulk(b) => bulk(out, b),
            Frame::Null if proto >= 3 => out.extend_from_slice(b"_\r\n"),
            Frame::Null => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray if proto >= 3 => out.extend_from_slice(b"_\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(items) => {
                header(out, b'*', items.len());
                for item in items {
                    item.encode(proto, out);
                }
            }
            Frame::Set(items) => {
                header(out, if proto >= 3 { b'~' } else { b'*' }, items.len());
                for item in items {
                    item.encode(proto, out);
                }
            }
            Frame::Map(pairs) => {
                if proto >= 3 {
                    header(out, b'%', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Frame::Pairs(pairs) => {
                if proto >= 3 {
                    header(out, b'*', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (a, b) in pairs {
                    if proto >= 3 {
                        header(out, b'*', 2);
                    }
                    a.encode(proto, out);
                    b.encode(proto, out);
                }
            }
            Frame::Double(d) => {
                let text = format_double(*d);
                if proto >= 3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Frame::Encoded(bytes) => out.extend_from_slice(bytes),
            Frame::Boolean(b) if proto >= 3 => {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Frame::Boolean(b) => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Frame::BigNumber(text) if proto >= 3 => line(out, b'(', text),
            Frame::BigNumber(text) => bulk(out, text),
            Frame::Streamed(array) => {
                array.encode_header(out);
                for i in 0..array.0.chunks() {
                    array.0.encode_chunk(i, out);
                }
            }
            Frame::Verbatim(text) => {
                if proto >= 3 {
                    header(out, b'=', text.len() + 4);
                    out.extend_from_slice(b"txt:");
                    out.extend_from_slice(text);
                    out.extend_from_slice(b"\r\n");
                } else {
                    bulk(out, text);
                }
            }
        }
    }
}

/// Formats a double as redis-server 7.0 replies with one (`%.17g`; `inf`, `-inf`, `nan`, and
/// `-0` for negative zero): 17 significant digits, trailing zeros dropped, an exponent below
/// -4 or from 17 on in `e+NN` form. So a score of 1.1 reads `1.1000000000000001`, as redis 7.0
/// prints it.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{d:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{:.*}", (16 - exp) as usize, d))
    }
}

fn header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.push(kind);
    out.put_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Appends `data` encoded as a bulk string.
pub fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    header(out, b'$', data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_bulk_array_is_the_array_of_bulks_in_both_protocols() {
        let items: Vec<&[u8]> = vec![b"a", b"", b"12", b"x\r\ny"];
        let frames = Frame::Array(items.iter().map(|i| Frame::bulk_from(i)).collect());
        for proto in [2, 3] {
            let (mut want, mut got) = (Vec::new(), Vec::new());
            frames.encode(proto, &mut want);
            Frame::bulk_array(items.len(), 1, items.iter()).encode(proto, &mut got);
            assert_eq!(got, want);
        }
    }

    fn enc(f: &Frame, proto: u8) -> Vec<u8> {
        let mut out = Vec::new();
        f.encode(proto, &mut out);
        out
    }

    #[test]
    fn doubles_print_as_printf_17g() {
        for (d, text) in [
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (3.0, "3"),
            (-2.5, "-2.5"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (1.5e-5, "1.5e-05"),
            (2.2e-5, "2.1999999999999999e-05"),
            (0.0001, "0.0001"),
            (123456789.123, "123456789.123"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(format_double(d), text, "{d:e}");
        }
    }

    #[test]
    fn resp2_fallbacks() {
        assert_eq!(enc(&Frame::Null, 2), b"$-1\r\n");
        assert_eq!(enc(&Frame::NullArray, 2), b"*-1\r\n");
        let map = Frame::Map(vec![(Frame::bulk_from(b"a"), Frame::Integer(1))]);
        assert_eq!(enc(&map, 2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, 3), b"%1\r\n$1\r\na\r\n:1\r\n");
        let pairs = Frame::Pairs(vec![(Frame::bulk_from(b"a"), Frame::Integer(1))]);
        assert_eq!(enc(&pairs, 2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&pairs, 3), b"*1\r\n*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(
            enc(&Frame::Verbatim(Bytes::from_static(b"hi")), 3),
            b"=6\r\ntxt:hi\r\n"
        );
        assert_eq!(
            enc(&Frame::Verbatim(Bytes::from_static(b"hi")), 2),
            b"$2\r\nhi\r\n"
        );
    }
}

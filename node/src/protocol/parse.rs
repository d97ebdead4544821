//! Incremental request parser.
//!
//! Requests come as RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or as inline text lines
//! (`GET k\r\n`, what telnet sends). The parser scans one connection's read buffer, splits off every
//! complete request at once, and hands out the arguments as [`Bytes`] slices of that buffer: no
//! argument is copied. A request that has not fully arrived keeps its scan position, so a large
//! request arriving in many reads is scanned once, not once per read. Nothing is allocated for a
//! length a client announces before the bytes themselves arrive.
//!
//! The limits and error texts are redis-server's (networking.c): a malformed request is answered with
//! `-ERR Protocol error: …` and the connection is closed.

use bytes::{Bytes, BytesMut};

/// Longest inline request, or length line, that may arrive without its newline (redis: 64 KiB).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;
/// Largest multibulk count before authentication.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// Largest bulk length before authentication.
const UNAUTH_MAX_BULK: i64 = 16 * 1024;
/// Most argument slots reserved ahead of the arguments arriving.
const MAX_PREALLOC_ARGS: usize = 1024;

/// A malformed request; `0` is the text after `Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    /// The full error reply text (`ERR Protocol error: …`).
    pub fn reply_text(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

/// A multibulk request whose bytes have not all arrived. Offsets are relative to the request start.
#[derive(Debug, Default)]
struct Partial {
    expected: usize,
    args: Vec<(usize, usize)>,
    pos: usize,
}

/// One parsed request before the buffer is frozen.
enum Pending {
    Ranges(usize, Vec<(usize, usize)>),
    Owned(Vec<Bytes>),
}

/// Parses requests out of a connection's read buffer, keeping state across reads.
#[derive(Debug)]
pub struct RequestParser {
    max_bulk_len: i64,
    partial: Option<Partial>,
    /// Bytes of an unfinished inline line already searched for a newline.
    inline_scanned: usize,
    /// Total bytes the unfinished request needs, when known (for buffer reservation).
    needed: usize,
}

impl RequestParser {
    /// A parser enforcing `max_bulk_len` (redis `proto-max-bulk-len`).
    pub fn new(max_bulk_len: u64) -> Self {
        RequestParser {
            max_bulk_len: i64::try_from(max_bulk_len).unwrap_or(i64::MAX),
            partial: None,
            inline_scanned: 0,
            needed: 0,
        }
    }

    /// Changes the bulk length limit (CONFIG SET proto-max-bulk-len).
    pub fn set_max_bulk_len(&mut self, max_bulk_len: u64) {
        self.max_bulk_len = i64::try_from(max_bulk_len).unwrap_or(i64::MAX);
    }

    /// Bytes the request now arriving needs in all, when a bulk length announced it.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// Parses every complete request in `buf`, removing their bytes from it and pushing their
    /// arguments to `out`. Empty requests (`*0`, blank lines) are skipped. On a protocol error the
    /// requests before the bad one are still in `out`; the connection must answer them, then the error.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
        out: &mut Vec<Vec<Bytes>>,
    ) -> Result<(), ProtocolError> {
        let mut pending = Vec::new();
        let mut pos = 0;
        let result = self.scan(buf, authenticated, &mut pos, &mut pending);
        if pos > 0 {
            let chunk = buf.split_to(pos).freeze();
            out.reserve(pending.len());
            for p in pending {
                match p {
                    Pending::Ranges(start, ranges) => out.push(
                        ranges
                            .into_iter()
                            .map(|(a, b)| chunk.slice(start + a..start + b))
                            .collect(),
                    ),
                    Pending::Owned(args) => out.push(args),
                }
            }
        }
        result
    }

    fn scan(
        &mut self,
        buf: &[u8],
        authenticated: bool,
        pos: &mut usize,
        pending: &mut Vec<Pending>,
    ) -> Result<(), ProtocolError> {
        self.needed = 0;
        while *pos < buf.len() {
            let start = *pos;
            let req = &buf[start..];
            let step = if self.partial.is_some() || req[0] == b'*' {
                self.scan_multibulk(req, authenticated)?
            } else {
                self.scan_inline(req)?
            };
            match step {
                Step::Incomplete => break,
                Step::Skip(len) => *pos += len,
                Step::Ranges(len, ranges) => {
                    pending.push(Pending::Ranges(start, ranges));
                    *pos += len;
                }
                Step::Owned(len, args) => {
                    pending.push(Pending::Owned(args));
                    *pos += len;
                }
            }
        }
        Ok(())
    }

    fn scan_multibulk(&mut self, req: &[u8], authenticated: bool) -> Result<Step, ProtocolError> {
        let mut partial = match self.partial.take() {
            Some(p) => p,
            None => {
                let Some(cr) = find_line_end(req, 1) else {
                    if req.len() > INLINE_MAX_SIZE {
                        return Err(ProtocolError("too big mbulk count string".into()));
                    }
                    return Ok(Step::Incomplete);
                };
                let count = parse_i64(&req[1..cr])
                    .filter(|&n| n <= i64::from(i32::MAX))
                    .ok_or_else(|| ProtocolError("invalid multibulk length".into()))?;
                if count > UNAUTH_MAX_MULTIBULK && !authenticated {
                    return Err(ProtocolError("unauthenticated multibulk length".into()));
                }
                if count <= 0 {
                    return Ok(Step::Skip(cr + 2));
                }
                let expected = count as usize;
                Partial {
                    expected,
                    args: Vec::with_capacity(expected.min(MAX_PREALLOC_ARGS)),
                    pos: cr + 2,
                }
            }
        };
        while partial.args.len() < partial.expected {
            let at = partial.pos;
            if at >= req.len() {
                self.partial = Some(partial);
                return Ok(Step::Incomplete);
            }
            let Some(cr) = find_line_end(req, at) else {
                if req.len() - at > INLINE_MAX_SIZE {
                    return Err(ProtocolError("too big bulk count string".into()));
                }
                self.partial = Some(partial);
                return Ok(Step::Incomplete);
            };
            if req[at] != b'$' {
                let got = match req[at] {
                    b'\r' | b'\n' => ' ',
                    c => c as char,
                };
                return Err(ProtocolError(format!("expected '$', got '{got}'")));
            }
            let len = parse_i64(&req[at + 1..cr])
                .filter(|&n| n >= 0 && n <= self.max_bulk_len)
                .ok_or_else(|| ProtocolError("invalid bulk length".into()))?;
            if len > UNAUTH_MAX_BULK && !authenticated {
                return Err(ProtocolError("unauthenticated bulk length".into()));
            }
            let data = cr + 2;
            let end = data + len as usize;
            if end + 2 > req.len() {
                self.needed = end + 2;
                self.partial = Some(partial);
                return Ok(Step::Incomplete);
            }
            partial.args.push((data, end));
            // Like redis-server, the two bytes after the data are taken as CRLF unchecked.
            partial.pos = end + 2;
        }
        Ok(Step::Ranges(partial.pos, partial.args))
    }

    fn scan_inline(&mut self, req: &[u8]) -> Result<Step, ProtocolError> {
        let from = self.inline_scanned.min(req.len());
        let Some(nl) = memchr::memchr(b'\n', &req[from..]).map(|i| from + i) else {
            if req.len() > INLINE_MAX_SIZE {
                return Err(ProtocolError("too big inline request".into()));
            }
            self.inline_scanned = req.len();
            return Ok(Step::Incomplete);
        };
        self.inline_scanned = 0;
        let mut line = &req[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let args = split_inline_args(line)
            .ok_or_else(|| ProtocolError("unbalanced quotes in request".into()))?;
        if args.is_empty() {
            Ok(Step::Skip(nl + 1))
        } else {
            Ok(Step::Owned(nl + 1, args))
        }
    }
}

enum Step {
    Incomplete,
    Skip(usize),
    Ranges(usize, Vec<(usize, usize)>),
    Owned(usize, Vec<Bytes>),
}

/// Index of the `\r` ending the line that starts at `from`, when its `\n` byte has arrived too.
fn find_line_end(buf: &[u8], from: usize) -> Option<usize> {
    let cr = from + memchr::memchr(b'\r', &buf[from..])?;
    (cr + 1 < buf.len()).then_some(cr)
}

/// Strict decimal integer parsing as redis's `string2ll`: optional `-`, no `+`, no spaces,
/// no leading zeros, no empty string, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline request line into arguments with redis's quoting rules (`sdssplitargs`):
/// `"..."` with `\n \r \t \b \a \\ \" \xHH` escapes, `'...'` with `\'`, a closing quote must be
/// followed by a space or the end. A NUL byte ends the line, as in C. `None` on unbalanced quotes.
pub fn split_inline_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let end = memchr::memchr(0, line).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let (mut in_dq, mut in_sq) = (false, false);
        let mut current = Vec::new();
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && hex_value(at(p + 2)).is_some()
                    && hex_value(at(p + 3)).is_some()
                {
                    let hi = hex_value(at(p + 2))?;
                    let lo = hex_value(at(p + 3))?;
                    current.push(hi * 16 + lo);
                    p += 3;
                } else if c == b'\\' && p + 1 < line.len() {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if p + 1 < line.len() && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if p >= line.len() {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < line.len() && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if p >= line.len() {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        p += 1;
                        break;
                    }
                    0 if p >= line.len() => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => current.push(c),
                }
            }
            p += 1;
        }
        args.push(Bytes::from(current));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(input: &[u8]) -> (Vec<Vec<Bytes>>, Result<(), ProtocolError>, usize) {
        let mut p = RequestParser::new(512 * 1024 * 1024);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        let r = p.parse(&mut buf, true, &mut out);
        (out, r, buf.len())
    }

    fn encode(args: &[Vec<u8>]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            v.extend_from_slice(a);
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    #[test]
    fn multibulk_and_inline() {
        let (out, r, left) =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\nset a \"b c\"\r\n*1\r\n$4\r\nPI");
        assert!(r.is_ok());
        assert_eq!(left, 10);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(out[1], vec![Bytes::from("PING")]);
        assert_eq!(
            out[2],
            vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("b c")]
        );
    }

    #[test]
    fn errors_have_redis_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"*abc\r\n", "invalid multibulk length"),
            (b"*1\r\n$abc\r\n", "invalid bulk length"),
            (b"*1\r\nfoo\r\n", "expected '$', got 'f'"),
            (b"*1\r\n$-1\r\n", "invalid bulk length"),
            (b"*1\r\n$1000000000000\r\n", "invalid bulk length"),
            (b"\"foo\r\n", "unbalanced quotes in request"),
            (b"\"foo\"bar\r\n", "unbalanced quotes in request"),
        ];
        for (input, text) in cases {
            let (_, r, _) = parse_all(input);
            assert_eq!(
                r,
                Err(ProtocolError(text.to_string())),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::new(1 << 29);
        let mut out = Vec::new();
        let r = p.parse(&mut BytesMut::from(&b"*11\r\n"[..]), false, &mut out);
        assert_eq!(
            r,
            Err(ProtocolError("unauthenticated multibulk length".into()))
        );
        let r = p.parse(
            &mut BytesMut::from(&b"*1\r\n$16385\r\n"[..]),
            false,
            &mut out,
        );
        assert_eq!(r, Err(ProtocolError("unauthenticated bulk length".into())));
    }

    #[test]
    fn too_big_lines() {
        let long = vec![b'a'; INLINE_MAX_SIZE + 1];
        let (_, r, _) = parse_all(&long);
        assert_eq!(r, Err(ProtocolError("too big inline request".into())));
        let mut mb = b"*".to_vec();
        mb.extend_from_slice(&long);
        let (_, r, _) = parse_all(&mb);
        assert_eq!(r, Err(ProtocolError("too big mbulk count string".into())));
    }

    #[test]
    fn empty_requests_are_skipped() {
        let (out, r, left) = parse_all(b"*0\r\n*-1\r\n\r\n   \r\n*1\r\n$4\r\nPING\r\n");
        assert!(r.is_ok());
        assert_eq!(left, 0);
        assert_eq!(out, vec![vec![Bytes::from("PING")]]);
    }

    #[test]
    fn inline_escapes() {
        let args = split_inline_args(br#"set "a\x41\n" 'it\'s' plain"#).expect("balanced");
        assert_eq!(
            args,
            vec![
                Bytes::from("set"),
                Bytes::from("aA\n"),
                Bytes::from("it's"),
                Bytes::from("plain")
            ]
        );
        assert_eq!(split_inline_args(b"  "), Some(vec![]));
        assert_eq!(split_inline_args(b"'abc"), None);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"9223372036854775808"[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"",
            b"-",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_announced_length_allocates_nothing_up_front() {
        let mut p = RequestParser::new(1 << 29);
        let mut buf = BytesMut::from(&b"*2147483647\r\n$536870912\r\nabc"[..]);
        let mut out = Vec::new();
        assert!(p.parse(&mut buf, true, &mut out).is_ok());
        assert!(out.is_empty());
        assert_eq!(p.needed(), 13 + 12 + 536870912 + 2);
        assert!(p.partial.as_ref().map(|pt| pt.args.capacity()).unwrap_or(0) <= MAX_PREALLOC_ARGS);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
            let mut p = RequestParser::new(1 << 20);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let cut = split.min(data.len());
            buf.extend_from_slice(&data[..cut]);
            if p.parse(&mut buf, true, &mut out).is_ok() {
                buf.extend_from_slice(&data[cut..]);
                let _ = p.parse(&mut buf, false, &mut out);
            }
        }

        #[test]
        fn round_trip_in_any_chunking(
            cmds in proptest::collection::vec(proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
            chunk in 1usize..64,
        ) {
            let wire: Vec<u8> = cmds.iter().flat_map(|c| encode(c)).collect();
            let mut p = RequestParser::new(1 << 20);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for piece in wire.chunks(chunk) {
                buf.extend_from_slice(piece);
                prop_assert!(p.parse(&mut buf, true, &mut out).is_ok());
            }
            prop_assert_eq!(buf.len(), 0);
            let got: Vec<Vec<Vec<u8>>> = out.iter().map(|c| c.iter().map(|a| a.to_vec()).collect()).collect();
            prop_assert_eq!(got, cmds);
        }
    }
}

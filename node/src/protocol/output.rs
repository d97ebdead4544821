//! A connection's replies waiting to be written.
//!
//! Most replies are small and are encoded one after the other into one buffer. A long one that
//! left its shard already encoded ([`Frame::Encoded`], a long ZRANGE) is kept as the buffer it
//! came in and written from there: copying a reply of hundreds of megabytes into the
//! connection's buffer would hold it twice. A streamed one ([`Frame::Streamed`], a long LRANGE)
//! is encoded a chunk at a time as the socket takes it, so it is never held encoded at all.

use bytes::Bytes;

use super::frame::Streamed;
use super::Frame;

/// Encoded replies this long or longer are written from their own buffer.
const OWN_BUFFER_AT: usize = 64 * 1024;

/// How much of a streamed reply is encoded ahead of the socket.
const STREAM_CHUNK: usize = 64 * 1024;

/// A part of the replies, written in order.
enum Part {
    /// Encoded bytes.
    Bytes(Bytes),
    /// A streamed reply and how far its encoding has got.
    Streamed(StreamCursor),
}

/// A streamed reply being encoded: `buf` holds its bytes from `buf_start`, the chunks from
/// `next_chunk` on are still to be encoded. Its length is known once the last chunk is encoded;
/// until then it counts as its estimate (and always as more than what is encoded).
struct StreamCursor {
    array: Streamed,
    estimate: usize,
    started: bool,
    next_chunk: usize,
    buf: Vec<u8>,
    buf_start: usize,
}

impl StreamCursor {
    fn new(array: Streamed) -> StreamCursor {
        StreamCursor {
            estimate: array.0.estimated_len(),
            array,
            started: false,
            next_chunk: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    /// True once every chunk is encoded.
    fn finished(&self) -> bool {
        self.started && self.next_chunk == self.array.0.chunks()
    }

    /// End of what is encoded so far.
    fn encoded_end(&self) -> usize {
        self.buf_start + self.buf.len()
    }

    /// Its length: exact when finished, else the estimate (more than what is encoded).
    fn len(&self) -> usize {
        match self.finished() {
            true => self.encoded_end(),
            false => self.estimate.max(self.encoded_end() + 1),
        }
    }

    /// Encodes the next chunks (about [`STREAM_CHUNK`] bytes) once `offset` has reached the end
    /// of what is encoded, forgetting what was handed out. Offsets only move forward.
    fn fill(&mut self, offset: usize) {
        if offset < self.encoded_end() || self.finished() {
            return;
        }
        self.buf_start += self.buf.len();
        self.buf.clear();
        if !self.started {
            self.array.encode_header(&mut self.buf);
            self.started = true;
        }
        while self.buf.len() < STREAM_CHUNK && self.next_chunk < self.array.0.chunks() {
            self.array.0.encode_chunk(self.next_chunk, &mut self.buf);
            self.next_chunk += 1;
        }
    }
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Bytes(b) => b.len(),
            Part::Streamed(c) => c.len(),
        }
    }
}

/// Replies waiting to be written, in order.
#[derive(Default)]
pub struct Output {
    /// Completed parts, written before `tail`.
    parts: Vec<Part>,
    /// Where small replies are encoded.
    tail: Vec<u8>,
}

impl Output {
    /// Empty, with room for `capacity` bytes of small replies.
    pub fn with_capacity(capacity: usize) -> Output {
        Output {
            parts: Vec::new(),
            tail: Vec::with_capacity(capacity),
        }
    }

    /// Bytes waiting: exact once every streamed reply is encoded, before that with their
    /// estimates (always more than has been written).
    pub fn len(&self) -> usize {
        self.parts.iter().map(Part::len).sum::<usize>() + self.tail.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `frame` encoded in protocol `proto` (a long already-encoded one without a copy,
    /// a streamed one to be encoded as it is written).
    pub fn push(&mut self, proto: u8, frame: Frame) {
        let part = match frame {
            Frame::Encoded(bytes) if bytes.len() >= OWN_BUFFER_AT => Part::Bytes(bytes),
            Frame::Streamed(array) => Part::Streamed(StreamCursor::new(array)),
            frame => return frame.encode(proto, &mut self.tail),
        };
        if !self.tail.is_empty() {
            let tail = std::mem::take(&mut self.tail);
            self.parts.push(Part::Bytes(Bytes::from(tail)));
        }
        self.parts.push(part);
    }

    /// The waiting bytes from `offset` on, up to the end of the part (or of the encoded chunk
    /// of a streamed reply) holding it; empty past the end. Offsets only move forward between
    /// two [`Output::clear`]s (a streamed reply forgets what it has handed out).
    pub fn from(&mut self, mut offset: usize) -> &[u8] {
        for part in &mut self.parts {
            // A streamed part's end once it has encoded what `offset` needs: its length when
            // `offset` is past it (it is finished then).
            let end = match part {
                Part::Bytes(b) => b.len(),
                Part::Streamed(c) => {
                    c.fill(offset);
                    c.encoded_end()
                }
            };
            if offset < end {
                return match part {
                    Part::Bytes(b) => &b[offset..],
                    Part::Streamed(c) => &c.buf[offset - c.buf_start..],
                };
            }
            offset -= end;
        }
        self.tail.get(offset..).unwrap_or_default()
    }

    /// Forgets what was written, keeping at most `keep` bytes of buffer for the next replies.
    pub fn clear(&mut self, keep: usize) {
        self.parts.clear();
        self.tail.clear();
        if self.tail.capacity() > 1024 * 1024 {
            self.tail.shrink_to(keep);
        }
    }

    /// Everything waiting, copied into one buffer (tests).
    pub fn to_vec(&mut self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len());
        let mut at = 0;
        while at < self.len() {
            let chunk = self.from(at);
            if chunk.is_empty() {
                break;
            }
            all.extend_from_slice(chunk);
            at += chunk.len();
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_encoded_replies_keep_their_buffer_and_the_order_holds() {
        let long: Vec<&[u8]> = vec![&[b'x'; 1000]; 100];
        let encoded = Frame::bulk_array(long.len(), 1000, long.iter());
        let Frame::Encoded(buffer) = &encoded else {
            panic!("not encoded");
        };
        let mut out = Output::with_capacity(16);
        out.push(2, Frame::ok());
        out.push(2, encoded.clone());
        out.push(3, Frame::Null);
        assert_eq!(
            out.parts.len(),
            2,
            "the reply before, then the long one as it came"
        );
        let Part::Bytes(kept) = &out.parts[1] else {
            panic!("not kept as bytes");
        };
        assert_eq!(kept.as_ptr(), buffer.as_ptr(), "not copied");
        let mut want = b"+OK\r\n".to_vec();
        encoded.encode(2, &mut want);
        want.extend_from_slice(b"_\r\n");
        assert_eq!(out.len(), want.len());
        assert_eq!(out.to_vec(), want);
        assert_eq!(out.from(want.len()), b"");
        out.clear(16);
        assert!(out.is_empty());
    }

    /// Chunks of elements (tests' [`BulkChunks`]), estimated too low or too high.
    struct Chunks(Vec<Vec<Vec<u8>>>, bool);

    impl super::super::frame::BulkChunks for Chunks {
        fn count(&self) -> usize {
            self.0.iter().map(Vec::len).sum()
        }
        fn chunks(&self) -> usize {
            self.0.len()
        }
        fn encode_chunk(&self, i: usize, out: &mut Vec<u8>) {
            for e in &self.0[i] {
                super::super::frame::bulk(out, e);
            }
        }
        fn estimated_len(&self) -> usize {
            let bytes: usize = self.0.iter().flatten().map(Vec::len).sum();
            if self.1 {
                bytes * 3
            } else {
                bytes / 2
            }
        }
    }

    #[test]
    fn streamed_replies_come_out_whole_and_in_order_however_the_socket_takes_them() {
        let chunks: Vec<Vec<Vec<u8>>> = (0..300u32)
            .map(|c| {
                (0..50u32)
                    .map(|e| format!("{c}:{e}").repeat(c as usize % 7 + 1).into_bytes())
                    .collect()
            })
            .collect();
        for (step, over) in [1, 1000, 7777, 65536, 1 << 20]
            .into_iter()
            .flat_map(|step| [(step, false), (step, true)])
        {
            let streamed =
                Frame::Streamed(Streamed(std::sync::Arc::new(Chunks(chunks.clone(), over))));
            let mut want = b"+OK\r\n".to_vec();
            streamed.encode(2, &mut want);
            want.extend_from_slice(b":7\r\n");
            streamed.encode(2, &mut want);
            let mut out = Output::with_capacity(16);
            out.push(2, Frame::ok());
            out.push(2, streamed.clone());
            out.push(2, Frame::Integer(7));
            out.push(2, streamed.clone());
            let mut got = Vec::new();
            while got.len() < out.len() {
                let at = got.len();
                let chunk = out.from(at);
                assert!(!chunk.is_empty(), "stalled at {at}");
                got.extend_from_slice(&chunk[..chunk.len().min(step)]);
            }
            assert!(got == want, "socket taking {step} bytes at a time");
            assert_eq!(out.len(), want.len(), "exact once written");
            assert_eq!(out.from(want.len()), b"");
        }
    }
}

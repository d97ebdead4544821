//! A connection's replies waiting to be written.
//!
//! Most replies are small and are encoded one after the other into one buffer. A long one that
//! left its shard already encoded ([`Frame::Encoded`], a long LRANGE) is kept as the buffer it
//! came in and written from there: copying a reply of hundreds of megabytes into the
//! connection's buffer would hold it twice.

use bytes::Bytes;

use super::Frame;

/// Encoded replies this long or longer are written from their own buffer.
const OWN_BUFFER_AT: usize = 64 * 1024;

/// Replies waiting to be written, in order.
#[derive(Default)]
pub struct Output {
    /// Completed parts, written before `tail`.
    parts: Vec<Bytes>,
    /// Bytes of `parts`.
    parts_len: usize,
    /// Where small replies are encoded.
    tail: Vec<u8>,
}

impl Output {
    /// Empty, with room for `capacity` bytes of small replies.
    pub fn with_capacity(capacity: usize) -> Output {
        Output {
            parts: Vec::new(),
            parts_len: 0,
            tail: Vec::with_capacity(capacity),
        }
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.parts_len + self.tail.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `frame` encoded in protocol `proto` (a long already-encoded one without a copy).
    pub fn push(&mut self, proto: u8, frame: Frame) {
        match frame {
            Frame::Encoded(bytes) if bytes.len() >= OWN_BUFFER_AT => {
                if !self.tail.is_empty() {
                    let tail = std::mem::take(&mut self.tail);
                    self.parts_len += tail.len();
                    self.parts.push(Bytes::from(tail));
                }
                self.parts_len += bytes.len();
                self.parts.push(bytes);
            }
            frame => frame.encode(proto, &mut self.tail),
        }
    }

    /// The waiting bytes from `offset` on, up to the end of the part holding it (empty past the
    /// end).
    pub fn from(&self, mut offset: usize) -> &[u8] {
        for part in &self.parts {
            if offset < part.len() {
                return &part[offset..];
            }
            offset -= part.len();
        }
        self.tail.get(offset..).unwrap_or_default()
    }

    /// Forgets what was written, keeping at most `keep` bytes of buffer for the next replies.
    pub fn clear(&mut self, keep: usize) {
        self.parts.clear();
        self.parts_len = 0;
        self.tail.clear();
        if self.tail.capacity() > 1024 * 1024 {
            self.tail.shrink_to(keep);
        }
    }

    /// Everything waiting, copied into one buffer (tests).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len());
        let mut at = 0;
        while at < self.len() {
            let chunk = self.from(at);
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
        assert_eq!(out.parts[1].as_ptr(), buffer.as_ptr(), "not copied");
        let mut want = b"+OK\r\n".to_vec();
        encoded.encode(2, &mut want);
        want.extend_from_slice(b"_\r\n");
        assert_eq!(out.len(), want.len());
        assert_eq!(out.to_vec(), want);
        assert_eq!(out.from(want.len()), b"");
        out.clear(16);
        assert!(out.is_empty());
    }
}

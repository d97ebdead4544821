//! An owned byte string of fixed length behind one 8-byte pointer: its length is written at the start of its
//! own allocation, as a varint, instead of beside the pointer as a `Box<[u8]>` keeps it.
//!
//! Every key's entry holds one, and a shard holds millions of entries in its slot maps' vectors,
//! so the 8 bytes saved per entry are 8 bytes per key (about 10 with the vectors' spare room).
//! The varint costs one byte for buffers under 128 bytes, two under 16 KiB; for a typical
//! 100-byte value the allocation stays in the same jemalloc size class.
//!
//! This is the one place of the keyspace with `unsafe` code. What makes it sound: the
//! allocation is made here with the layout [`layout`] computes from the length, the length is
//! written first and never changed (only the bytes after it can be), and every read recomputes the same bounds from it.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

use super::packed::varint;
use super::varint_len;

/// An owned byte string of fixed length behind a thin pointer; see the module documentation.
pub struct ThinBytes {
    /// Points at the varint length, followed by that many bytes.
    ptr: NonNull<u8>,
}

// SAFETY: a `ThinBytes` owns its allocation exclusively (no sharing, no interior mutability),
// exactly as a `Box<[u8]>` does.
unsafe impl Send for ThinBytes {}
// SAFETY: as above; `&ThinBytes` only ever reads.
unsafe impl Sync for ThinBytes {}

/// The layout of the allocation holding `len` bytes behind their varint length.
fn layout(len: usize) -> Layout {
    // Never zero-sized (the varint takes at least one byte); alignment 1 cannot be invalid, and a
    // size past isize::MAX cannot be reached by a byte string that already exists in memory.
    Layout::from_size_align(varint_len(len) + len, 1).unwrap_or_else(|_| {
        // Unreachable for any `len` of an existing slice; report it as the allocation failure it
        // would be rather than panic with a different message.
        handle_alloc_error(Layout::new::<u8>())
    })
}

impl ThinBytes {
    /// A copy of the concatenation of `parts`.
    pub fn concat(parts: &[&[u8]]) -> ThinBytes {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let (header, used) = varint(len as u64);
        let header = &header[..used];
        let layout = layout(len);
        debug_assert_eq!(layout.size(), header.len() + len);
        // SAFETY: the layout is not zero-sized (see `layout`).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the allocation is `header.len() + len` bytes long; each copy below writes
        // inside it, at increasing offsets that sum to exactly that size, from slices that
        // cannot overlap a fresh allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(header.as_ptr(), raw, header.len());
            let mut at = header.len();
            for part in parts {
                std::ptr::copy_nonoverlapping(part.as_ptr(), raw.add(at), part.len());
                at += part.len();
            }
        }
        ThinBytes { ptr }
    }

    /// The length of the bytes and the size of the varint in front of them.
    fn bounds(&self) -> (usize, usize) {
        let raw = self.ptr.as_ptr();
        // SAFETY: the allocation starts with a complete varint written by `concat`; the loop
        // reads its bytes up to and including the one without the continuation bit, all of
        // which lie inside the allocation.
        unsafe {
            let first = *raw;
            if first < 0x80 {
                return (usize::from(first), 1);
            }
            let (mut len, mut shift, mut at) = (0u64, 0u32, 0usize);
            loop {
                let byte = *raw.add(at);
                len |= u64::from(byte & 0x7f) << shift;
                at += 1;
                if byte < 0x80 {
                    return (len as usize, at);
                }
                shift += 7;
            }
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        let (len, start) = self.bounds();
        // SAFETY: `len` bytes follow the `start`-byte varint inside the allocation, initialized
        // by `concat`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(start), len) }
    }

    /// The bytes, to change in place (their number is fixed).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let (len, start) = self.bounds();
        // SAFETY: as in `as_slice`; `&mut self` makes this the only access, and the length in
        // front is outside the returned slice, so it cannot be changed through it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(start), len) }
    }

    /// Number of bytes (not counting the length in front).
    pub fn byte_count(&self) -> usize {
        self.bounds().0
    }

    /// Bytes the allocation holds: the bytes and their length.
    pub fn allocated(&self) -> usize {
        let (len, start) = self.bounds();
        start + len
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        let layout = layout(self.byte_count());
        // SAFETY: `ptr` came from `alloc` with this very layout (same length, so same size),
        // and is freed once, here.
        unsafe { dealloc(self.ptr.as_ptr(), layout) }
    }
}

impl std::fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ThinBytes")
            .field(&String::from_utf8_lossy(self.as_slice()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_it_was_given_at_every_varint_width() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000, 2_097_152] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let split = len / 3;
            let thin = ThinBytes::concat(&[&data[..split], &data[split..]]);
            assert_eq!(thin.byte_count(), len);
            assert_eq!(thin.as_slice(), &data[..]);
            assert_eq!(thin.allocated(), varint_len(len) + len);
        }
    }

    #[test]
    fn is_one_pointer_wide_and_so_is_an_option_of_it() {
        assert_eq!(std::mem::size_of::<ThinBytes>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBytes>>(), 8);
    }
}

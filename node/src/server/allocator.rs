//! Asks of the allocator that are commands (MEMORY PURGE); what it reports lives with INFO.

/// Hands the pages jemalloc keeps freed back to the system now (MEMORY PURGE), as redis's
/// `jemalloc_purge` does: the `arena.<all>.purge` control. False if jemalloc refused.
pub fn purge_allocator() -> bool {
    // `MALLCTL_ARENAS_ALL`: every arena.
    let name = c"arena.4096.purge";
    // SAFETY: `name` is a NUL-terminated string, and `arena.<i>.purge` takes and returns no
    // value: every pointer passed is null and the new length 0, as jemalloc requires.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    rc == 0
}

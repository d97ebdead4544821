//! Asks of the allocator that are commands (MEMORY PURGE) or settings (its background thread);
//! what it reports lives with INFO.

/// Starts jemalloc's background thread, as redis does by default (`jemalloc-bg-thread yes`):
/// it hands freed pages back to the system on time (over `dirty_decay_ms`) even while the node
/// is idle, where without it decay only advances on the next allocations — after a burst of
/// writes an idle node kept 200 MB of freed pages it no longer used. Logged if refused.
pub fn start_background_thread() {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc's background thread did not start");
    }
}

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

/// jemalloc's statistics report, the text of MEMORY MALLOC-STATS (redis answers the same
/// report from the same allocator, `je_malloc_stats_print`).
pub fn malloc_stats() -> String {
    /// Appends one piece of the report to the `String` behind `opaque`.
    unsafe extern "C" fn append(opaque: *mut std::ffi::c_void, text: *const std::ffi::c_char) {
        // SAFETY: `opaque` is the `&mut String` handed to `malloc_stats_print` below, alive and
        // not otherwise borrowed for the whole call; `text` is a NUL-terminated string jemalloc
        // owns for the duration of this callback.
        let (out, text) = unsafe {
            (
                &mut *opaque.cast::<String>(),
                std::ffi::CStr::from_ptr(text),
            )
        };
        out.push_str(&text.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback matches jemalloc's `write_cb` type and only touches `out`, passed as
    // its opaque pointer; a null `opts` asks for the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append),
            (&mut out as *mut String).cast(),
            std::ptr::null(),
        );
    }
    out
}

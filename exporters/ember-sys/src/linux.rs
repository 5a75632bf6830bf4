//! The `adjtimex(2)` and `mallopt(3)` calls themselves: the only code in the workspace
//! allowed `unsafe`.

#![allow(unsafe_code)] // the one place: a read-only libc call, see the SAFETY comments

use std::io;

use crate::Timex;

/// `adjtimex(2)` with `modes = 0` (read-only).
// `c_long`, `c_int` and `time_t` are `i32` or `i64` depending on the target: `i64::from`
// widens losslessly on all of them, and is the identity on some.
#[allow(clippy::useless_conversion)]
pub(crate) fn adjtimex() -> io::Result<Timex> {
    // SAFETY: `libc::timex` consists only of integer fields (and an integer `timeval`
    // and integer padding), for which the all-zero bit pattern is a valid value. Zero
    // also sets `modes = 0`, which makes the call read-only.
    let mut raw: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `raw` is a valid, exclusively borrowed `struct timex` that lives for the
    // whole call; the kernel writes at most `sizeof(struct timex)` bytes into it and
    // keeps no reference after returning. With `modes = 0` the call changes nothing.
    let state = unsafe { libc::adjtimex(&mut raw) };
    if state == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(Timex {
        offset: i64::from(raw.offset),
        freq: i64::from(raw.freq),
        maxerror: i64::from(raw.maxerror),
        esterror: i64::from(raw.esterror),
        status: i64::from(raw.status),
        constant: i64::from(raw.constant),
        precision: i64::from(raw.precision),
        tolerance: i64::from(raw.tolerance),
        time_sec: i64::from(raw.time.tv_sec),
        time_subsec: i64::from(raw.time.tv_usec),
        tick: i64::from(raw.tick),
        ppsfreq: i64::from(raw.ppsfreq),
        jitter: i64::from(raw.jitter),
        shift: i64::from(raw.shift),
        stabil: i64::from(raw.stabil),
        jitcnt: i64::from(raw.jitcnt),
        calcnt: i64::from(raw.calcnt),
        errcnt: i64::from(raw.errcnt),
        stbcnt: i64::from(raw.stbcnt),
        tai: i64::from(raw.tai),
        state,
    })
}

/// `mallopt(M_ARENA_MAX, arenas)`; whether glibc accepted it.
#[cfg(target_env = "gnu")]
pub(crate) fn malloc_arena_max(arenas: i32) -> bool {
    // SAFETY: `mallopt` takes two integers and only changes a tunable of glibc's
    // allocator, under the allocator's own lock; `M_ARENA_MAX` with a positive value is
    // documented (mallopt(3)) and may be set at any time: threads that already have an
    // arena keep it, later ones share the existing arenas once the limit is reached.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) == 1 }
}

//! The `adjtimex(2)` call itself: the only code in the workspace allowed `unsafe`.

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

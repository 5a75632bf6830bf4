//! The workspace's one `unsafe` boundary: safe wrappers around system calls that no
//! maintained crate (rustix, nix) wraps.
//!
//! The crate denies `unsafe_code`; only the private module that makes the call allows it,
//! and each `unsafe` block there says why it is sound in a `// SAFETY:` comment
//! (enforced by `clippy::undocumented_unsafe_blocks`).
//!
//! - [`adjtimex`]: the kernel clock's discipline state, read-only (`modes = 0`), as
//!   node_exporter's `timex` collector reads it.
//! - [`limit_malloc_arenas`]: glibc's `mallopt(M_ARENA_MAX, n)`, so that a small
//!   multi-threaded daemon does not keep a malloc arena (and its peak) per thread.
//!
//! ```
//! # #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
//! # {
//! let timex = ember_sys::adjtimex().unwrap();
//! // The kernel's largest frequency tolerance: 500 ppm, in ppm with a 16-bit fraction.
//! assert_eq!(timex.tolerance, 500 << 16);
//! # }
//! ```

use std::io;

#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
mod linux;

/// `STA_NANO` in [`Timex::status`]: `offset`, `jitter` and the sub-second part of `time`
/// are in nanoseconds (otherwise microseconds).
pub const STA_NANO: i64 = 0x2000;
/// `STA_UNSYNC` in [`Timex::status`]: the clock is not synchronized.
pub const STA_UNSYNC: i64 = 0x0040;

/// The clock state `adjtimex(2)` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClockState {
    /// `TIME_OK`: clock synchronized, no leap second pending.
    Ok,
    /// `TIME_INS`: a leap second will be inserted.
    Insert,
    /// `TIME_DEL`: a leap second will be deleted.
    Delete,
    /// `TIME_OOP`: leap second in progress.
    InProgress,
    /// `TIME_WAIT`: a leap second has occurred.
    Wait,
    /// `TIME_ERROR`: the clock is not synchronized to a reliable server.
    Error,
    /// A value this crate does not know.
    Other(i32),
}

impl ClockState {
    /// The state for the syscall's return value.
    ///
    /// ```
    /// use ember_sys::ClockState;
    /// assert_eq!(ClockState::from_raw(5), ClockState::Error);
    /// assert_eq!(ClockState::from_raw(0), ClockState::Ok);
    /// ```
    pub fn from_raw(raw: i32) -> Self {
        match raw {
            0 => Self::Ok,
            1 => Self::Insert,
            2 => Self::Delete,
            3 => Self::InProgress,
            4 => Self::Wait,
            5 => Self::Error,
            other => Self::Other(other),
        }
    }

    /// The raw value (`TIME_OK` = 0 ... `TIME_ERROR` = 5).
    ///
    /// ```
    /// assert_eq!(ember_sys::ClockState::Error.raw(), 5);
    /// ```
    pub fn raw(self) -> i32 {
        match self {
            Self::Ok => 0,
            Self::Insert => 1,
            Self::Delete => 2,
            Self::InProgress => 3,
            Self::Wait => 4,
            Self::Error => 5,
            Self::Other(other) => other,
        }
    }
}

/// The fields of `struct timex` (see `adjtimex(2)`), widened to `i64`, and the call's
/// return value.
///
/// Units are the kernel's: `offset` and `jitter` in microseconds or nanoseconds (see
/// [`Timex::is_nano`]), `maxerror`, `esterror`, `tick` in microseconds, `freq`,
/// `ppsfreq`, `stabil` and `tolerance` in ppm with a 16-bit fraction (65536 = 1 ppm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timex {
    /// Time offset.
    pub offset: i64,
    /// Frequency offset (ppm, 16-bit fraction).
    pub freq: i64,
    /// Maximum error (µs).
    pub maxerror: i64,
    /// Estimated error (µs).
    pub esterror: i64,
    /// Clock command/status bits (`STA_*`).
    pub status: i64,
    /// PLL time constant.
    pub constant: i64,
    /// Clock precision (µs, read-only).
    pub precision: i64,
    /// Clock frequency tolerance (ppm, 16-bit fraction, read-only).
    pub tolerance: i64,
    /// Current time: whole seconds since the epoch.
    pub time_sec: i64,
    /// Current time: sub-second part, in µs or ns (see [`Timex::is_nano`]).
    pub time_subsec: i64,
    /// µs between clock ticks.
    pub tick: i64,
    /// PPS frequency (ppm, 16-bit fraction, read-only).
    pub ppsfreq: i64,
    /// PPS jitter (µs or ns, read-only).
    pub jitter: i64,
    /// PPS interval duration (seconds, log2, read-only).
    pub shift: i64,
    /// PPS stability (ppm, 16-bit fraction, read-only).
    pub stabil: i64,
    /// PPS count of jitter limit exceeded events (read-only).
    pub jitcnt: i64,
    /// PPS count of calibration intervals (read-only).
    pub calcnt: i64,
    /// PPS count of calibration errors (read-only).
    pub errcnt: i64,
    /// PPS count of stability limit exceeded events (read-only).
    pub stbcnt: i64,
    /// TAI offset (seconds).
    pub tai: i64,
    /// The call's return value, the clock state.
    pub state: i32,
}

impl Timex {
    /// Whether `offset`, `jitter` and `time_subsec` are in nanoseconds (`STA_NANO`).
    ///
    /// ```
    /// let t = ember_sys::Timex { status: 0x2001, ..Default::default() };
    /// assert!(t.is_nano());
    /// ```
    pub fn is_nano(&self) -> bool {
        self.status & STA_NANO != 0
    }

    /// The clock state the call returned.
    ///
    /// ```
    /// let t = ember_sys::Timex { state: 5, ..Default::default() };
    /// assert_eq!(t.clock_state(), ember_sys::ClockState::Error);
    /// ```
    pub fn clock_state(&self) -> ClockState {
        ClockState::from_raw(self.state)
    }
}

/// Reads the kernel clock's state with `adjtimex(2)` and `modes = 0`: nothing is changed,
/// so no privilege is needed.
///
/// Linux only (glibc or musl); elsewhere an error of kind
/// [`io::ErrorKind::Unsupported`].
///
/// ```
/// match ember_sys::adjtimex() {
///     Ok(t) => assert!(t.tick > 0),
///     Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::Unsupported),
/// }
/// ```
pub fn adjtimex() -> io::Result<Timex> {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    {
        linux::adjtimex()
    }
    #[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
    {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "adjtimex(2) is only available on Linux (glibc or musl)",
        ))
    }
}

/// Limits glibc's malloc to `arenas` arenas (`mallopt(M_ARENA_MAX, arenas)`, as the
/// `MALLOC_ARENA_MAX` environment variable does); returns whether the limit was set.
///
/// glibc gives each thread that allocates its own arena (up to eight per core), and each
/// arena keeps the high-water mark of what its thread allocated; a daemon with a few
/// threads that each build part of a response keeps all those peaks resident. With
/// one arena the threads share one heap (and its lock). Call it early, before threads
/// start: threads that already have an arena keep it. Without glibc (musl, other
/// systems) this does nothing and returns `false`; `0` is refused (`false`).
///
/// ```
/// let set = ember_sys::limit_malloc_arenas(1);
/// assert_eq!(set, cfg!(all(target_os = "linux", target_env = "gnu")));
/// assert!(!ember_sys::limit_malloc_arenas(0));
/// ```
pub fn limit_malloc_arenas(arenas: usize) -> bool {
    let Ok(arenas) = i32::try_from(arenas) else {
        return false;
    };
    if arenas == 0 {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        linux::malloc_arena_max(arenas)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_state_round_trips_every_raw_value() {
        for raw in -1..8 {
            assert_eq!(ClockState::from_raw(raw).raw(), raw);
        }
        assert_eq!(ClockState::from_raw(7), ClockState::Other(7));
    }
}

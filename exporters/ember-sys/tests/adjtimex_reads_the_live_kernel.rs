//! `adjtimex()` against the kernel this test runs on, unprivileged, read-only.
#![cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{SystemTime, UNIX_EPOCH};

use ember_sys::{ClockState, STA_UNSYNC, adjtimex};

#[test]
fn succeeds_unprivileged_with_the_kernels_fixed_values() {
    let t = adjtimex().unwrap();
    // MAXFREQ_SCALED: 500 ppm with a 16-bit fraction (include/linux/timex.h).
    assert_eq!(t.tolerance, 500 << 16, "{t:?}");
    // The kernel reports its precision as 1 µs.
    assert_eq!(t.precision, 1, "{t:?}");
    // tick is µs per USER_HZ tick; the kernel only accepts values within ±10% of
    // 1_000_000 / USER_HZ, and USER_HZ is 100 on every Linux architecture.
    assert!(
        (9000..=11000).contains(&t.tick),
        "tick {} out of range",
        t.tick
    );
    // The frequency offset is bounded by the tolerance.
    assert!(t.freq.abs() <= t.tolerance, "{t:?}");
    // The state is one of TIME_OK..TIME_ERROR, and the kernel reports TIME_ERROR
    // whenever STA_UNSYNC is set.
    assert!(!matches!(t.clock_state(), ClockState::Other(_)), "{t:?}");
    if t.status & STA_UNSYNC != 0 {
        assert_eq!(t.clock_state(), ClockState::Error, "{t:?}");
    }
    // maxerror is capped at NTP_PHASE_LIMIT (16 s in µs).
    assert!((0..=16_000_000).contains(&t.maxerror), "{t:?}");
    assert!((0..=16_000_000).contains(&t.esterror), "{t:?}");
}

#[test]
fn time_is_the_current_realtime_clock() {
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t = adjtimex().unwrap();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sec = u64::try_from(t.time_sec).unwrap();
    assert!(
        before <= sec && sec <= after,
        "{before} <= {sec} <= {after}"
    );
    let subsec_limit = if t.is_nano() {
        1_000_000_000
    } else {
        1_000_000
    };
    assert!((0..subsec_limit).contains(&t.time_subsec), "{t:?}");
}

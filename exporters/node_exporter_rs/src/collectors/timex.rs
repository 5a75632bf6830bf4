//! `timex`: the kernel clock's discipline state from `adjtimex(2)` (read-only), as
//! `node_timex_*`.
//!
//! The syscall lives in the `ember-sys` crate, the workspace's one `unsafe` boundary.
//! The values come from the kernel, not from files under `--path.*`, so this collector
//! has no fixture tree; [`samples`] (the unit conversion) is tested with fixed values
//! below, and the compatibility test compares it with node_exporter on the live host.

use std::io;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use ember_sys::{ClockState, Timex};

use super::{Entry, no_args};
use crate::util::Family;

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "timex",
        enabled_by_default: true,
    },
    args: no_args,
    build: |_| Ok(Box::new(TimexCollector)),
};

/// One second in nanoseconds and in microseconds.
const NANOSECONDS: f64 = 1e9;
const MICROSECONDS: f64 = 1e6;
/// ppm with a 16-bit fraction to a plain ratio (see NOTES in `adjtimex(2)`).
const PPM16FRAC: f64 = 1e6 * 65536.0;

#[derive(Debug)]
struct TimexCollector;

impl Collector for TimexCollector {
    fn name(&self) -> &str {
        "timex"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let timex = match ember_sys::adjtimex() {
            Ok(t) => t,
            // As upstream: a host that forbids the call (seccomp) is "no data", not an
            // error.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                tracing::debug!(err = %e, "Not collecting timex metrics");
                return Err(CollectorError::NoData);
            }
            Err(e) => {
                return Err(CollectorError::Other(Box::new(io::Error::new(
                    e.kind(),
                    format!("failed to retrieve adjtimex stats: {e}"),
                ))));
            }
        };
        for s in samples(&timex) {
            let mut family = if s.counter {
                Family::counter(s.name, s.help)
            } else {
                Family::gauge(s.name, s.help)
            };
            family.add(&[], s.value);
            family.push_to(out);
        }
        Ok(())
    }
}

/// One `node_timex_*` sample: its family's name, HELP, type and the value.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    name: &'static str,
    help: &'static str,
    counter: bool,
    value: f64,
}

const fn gauge(name: &'static str, help: &'static str, value: f64) -> Sample {
    Sample {
        name,
        help,
        counter: false,
        value,
    }
}

const fn counter(name: &'static str, help: &'static str, value: f64) -> Sample {
    Sample {
        name,
        help,
        counter: true,
        value,
    }
}

/// node_exporter 1.5's 17 `node_timex_*` families for one `adjtimex(2)` reading, in its
/// order, with its unit conversions: `offset` and `jitter` in nanoseconds when
/// `STA_NANO` is set (microseconds otherwise), the errors and `tick` in microseconds,
/// frequencies in ppm with a 16-bit fraction.
fn samples(t: &Timex) -> [Sample; 17] {
    let divisor = if t.is_nano() {
        NANOSECONDS
    } else {
        MICROSECONDS
    };
    let sync = if t.clock_state() == ClockState::Error {
        0.0
    } else {
        1.0
    };
    [
        gauge(
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            sync,
        ),
        gauge(
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            t.offset as f64 / divisor,
        ),
        gauge(
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + t.freq as f64 / PPM16FRAC,
        ),
        gauge(
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            t.maxerror as f64 / MICROSECONDS,
        ),
        gauge(
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            t.esterror as f64 / MICROSECONDS,
        ),
        gauge(
            "node_timex_status",
            "Value of the status array bits.",
            t.status as f64,
        ),
        gauge(
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            t.constant as f64,
        ),
        gauge(
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            t.tick as f64 / MICROSECONDS,
        ),
        gauge(
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            t.ppsfreq as f64 / PPM16FRAC,
        ),
        gauge(
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            t.jitter as f64 / divisor,
        ),
        gauge(
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            t.shift as f64,
        ),
        gauge(
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            t.stabil as f64 / PPM16FRAC,
        ),
        counter(
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            t.jitcnt as f64,
        ),
        counter(
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            t.calcnt as f64,
        ),
        counter(
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            t.errcnt as f64,
        ),
        counter(
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            t.stbcnt as f64,
        ),
        gauge(
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            t.tai as f64,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(samples: &[Sample], name: &str) -> f64 {
        samples
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .value
    }

    /// An unsynchronized host, as the kernel reports it after boot without NTP.
    const UNSYNCED: Timex = Timex {
        offset: 0,
        freq: 0,
        maxerror: 16_000_000,
        esterror: 16_000_000,
        status: 0x40, // STA_UNSYNC
        constant: 2,
        precision: 1,
        tolerance: 32_768_000,
        time_sec: 1_700_000_000,
        time_subsec: 0,
        tick: 10_000,
        ppsfreq: 0,
        jitter: 0,
        shift: 0,
        stabil: 0,
        jitcnt: 0,
        calcnt: 0,
        errcnt: 0,
        stbcnt: 0,
        tai: 0,
        state: 5, // TIME_ERROR
    };

    #[test]
    fn unsynchronized_host_matches_node_exporter_output() {
        // node_exporter 1.5 on such a host: maxerror 16, tick 0.01, status 64, sync 0.
        let s = samples(&UNSYNCED);
        assert_eq!(value(&s, "node_timex_sync_status"), 0.0);
        assert_eq!(value(&s, "node_timex_maxerror_seconds"), 16.0);
        assert_eq!(value(&s, "node_timex_estimated_error_seconds"), 16.0);
        assert_eq!(value(&s, "node_timex_status"), 64.0);
        assert_eq!(value(&s, "node_timex_loop_time_constant"), 2.0);
        assert_eq!(value(&s, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&s, "node_timex_frequency_adjustment_ratio"), 1.0);
    }

    #[test]
    fn synchronized_ntp_host_in_microseconds() {
        let t = Timex {
            offset: -1500, // µs
            freq: -1_234_567,
            status: 0x0001, // STA_PLL, microseconds
            jitter: 250,
            state: 0, // TIME_OK
            ..UNSYNCED
        };
        let s = samples(&t);
        assert_eq!(value(&s, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&s, "node_timex_offset_seconds"), -1500.0 / 1e6);
        assert_eq!(value(&s, "node_timex_pps_jitter_seconds"), 250.0 / 1e6);
        // freq is ppm with a 16-bit fraction: -1234567 / 65536 ppm = -18.838 ppm.
        let ratio = value(&s, "node_timex_frequency_adjustment_ratio");
        assert_eq!(ratio, 1.0 + -1_234_567.0 / 65536.0 / 1e6);
        assert!((ratio - (1.0 - 18.838e-6)).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn sta_nano_switches_offset_and_jitter_to_nanoseconds() {
        let t = Timex {
            offset: 2_500_000, // ns
            jitter: 1_000,     // ns
            status: 0x2001,    // STA_PLL | STA_NANO
            maxerror: 1_000,   // still µs
            tick: 10_000,      // still µs
            state: 1,          // TIME_INS: synchronized, leap second pending
            ..UNSYNCED
        };
        let s = samples(&t);
        assert_eq!(value(&s, "node_timex_offset_seconds"), 0.0025);
        assert_eq!(value(&s, "node_timex_pps_jitter_seconds"), 1e-6);
        assert_eq!(value(&s, "node_timex_maxerror_seconds"), 0.001);
        assert_eq!(value(&s, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&s, "node_timex_status"), 8193.0);
        assert_eq!(value(&s, "node_timex_sync_status"), 1.0);
    }

    #[test]
    fn pps_fields_are_scaled_and_counted() {
        let t = Timex {
            ppsfreq: 65536 * 3, // 3 ppm
            stabil: 65536 / 2,  // 0.5 ppm
            shift: 4,
            jitcnt: 1,
            calcnt: 2,
            errcnt: 3,
            stbcnt: 4,
            tai: 37,
            ..UNSYNCED
        };
        let s = samples(&t);
        assert_eq!(value(&s, "node_timex_pps_frequency_hertz"), 3e-6);
        assert_eq!(value(&s, "node_timex_pps_stability_hertz"), 0.5e-6);
        assert_eq!(value(&s, "node_timex_pps_shift_seconds"), 4.0);
        assert_eq!(value(&s, "node_timex_pps_jitter_total"), 1.0);
        assert_eq!(value(&s, "node_timex_pps_calibration_total"), 2.0);
        assert_eq!(value(&s, "node_timex_pps_error_total"), 3.0);
        assert_eq!(value(&s, "node_timex_pps_stability_exceeded_total"), 4.0);
        assert_eq!(value(&s, "node_timex_tai_offset_seconds"), 37.0);
    }

    #[test]
    fn seventeen_distinct_families_with_upstream_types() {
        let s = samples(&UNSYNCED);
        let names: std::collections::BTreeSet<_> = s.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 17);
        let counters: Vec<_> = s.iter().filter(|s| s.counter).map(|s| s.name).collect();
        assert_eq!(
            counters,
            [
                "node_timex_pps_jitter_total",
                "node_timex_pps_calibration_total",
                "node_timex_pps_error_total",
                "node_timex_pps_stability_exceeded_total",
            ]
        );
    }

    #[test]
    fn live_kernel_reading_is_collected() {
        let mut out = Vec::new();
        TimexCollector.update(&mut out).unwrap();
        assert_eq!(out.len(), 17);
        assert!(out.iter().all(|f| f.name.starts_with("node_timex_")));
    }
}

//! `time`: the system clock (`node_time_seconds`), the local time zone's name and
//! offset (`node_time_zone_offset_seconds`), and the clock sources from
//! `<sysfs>/devices/system/clocksource/clocksource*/`.
//!
//! The zone is found as Go's `time.Local` finds it: `$TZ` (empty means UTC, a name is
//! looked up under `/usr/share/zoneinfo`), else `/etc/localtime`; the offset and
//! abbreviation in force now are read from the TZif file's transition table.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, dir_names, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "time",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Time {
            clocksource: ctx.paths.sys("devices/system/clocksource"),
            zone: local_zone_file(),
        }))
    },
};

#[derive(Debug)]
struct Time {
    clocksource: PathBuf,
    /// The local zone's TZif data, read once at start-up as Go's `time.Local` is;
    /// `None` means UTC.
    zone: Option<Vec<u8>>,
}

/// The TZif data of the local zone: `$TZ` (empty or `UTC` means UTC, a name is looked
/// up under `/usr/share/zoneinfo`), else `/etc/localtime`; `None` for UTC or when the
/// file cannot be read.
pub(crate) fn local_zone_file() -> Option<Vec<u8>> {
    let file = match std::env::var("TZ") {
        Ok(tz) if tz.is_empty() || tz == "UTC" => return None,
        Ok(tz) => {
            let name = tz.trim_start_matches(':');
            if name.starts_with('/') {
                PathBuf::from(name)
            } else {
                Path::new("/usr/share/zoneinfo").join(name)
            }
        }
        Err(_) => PathBuf::from("/etc/localtime"),
    };
    std::fs::read(file).ok()
}

/// The zone in force at `now` (Unix seconds): abbreviation and offset east of UTC.
pub(crate) fn zone_at(zone: Option<&[u8]>, now: i64) -> (String, i64) {
    zone.and_then(|data| tzif_zone_at(data, now))
        .unwrap_or_else(|| ("UTC".to_string(), 0))
}

/// Reads the version 1 data block of a TZif file (RFC 8536) and returns the local time
/// type in force at `now`.
pub(crate) fn tzif_zone_at(data: &[u8], now: i64) -> Option<(String, i64)> {
    if data.get(..4)? != b"TZif" {
        return None;
    }
    let count = |i: usize| -> Option<usize> {
        let b = data.get(20 + 4 * i..24 + 4 * i)?;
        Some(u32::from_be_bytes(b.try_into().ok()?) as usize)
    };
    let (isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt) = (
        count(0)?,
        count(1)?,
        count(2)?,
        count(3)?,
        count(4)?,
        count(5)?,
    );
    let _ = (isutcnt, isstdcnt, leapcnt);
    let times = 44;
    let indices = times + 4 * timecnt;
    let types = indices + timecnt;
    let chars = types + 6 * typecnt;
    let chars_data = data.get(chars..chars + charcnt)?;
    let mut index = 0usize;
    for i in 0..timecnt {
        let b = data.get(times + 4 * i..times + 4 * i + 4)?;
        let at = i64::from(i32::from_be_bytes(b.try_into().ok()?));
        if at > now {
            break;
        }
        index = *data.get(indices + i)? as usize;
    }
    if index >= typecnt {
        return None;
    }
    let t = data.get(types + 6 * index..types + 6 * index + 6)?;
    let offset = i64::from(i32::from_be_bytes(t[..4].try_into().ok()?));
    let abbr_start = t[5] as usize;
    let abbr = chars_data.get(abbr_start..)?;
    let end = abbr.iter().position(|&b| b == 0).unwrap_or(abbr.len());
    Some((String::from_utf8_lossy(&abbr[..end]).into_owned(), offset))
}

impl Collector for Time {
    fn name(&self) -> &str {
        "time"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let mut family = Family::gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
        );
        family.add(&[], now);
        family.push_to(out);
        let (zone, offset) = zone_at(self.zone.as_deref(), now as i64);
        let mut family = Family::gauge(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
        );
        family.add(&[("time_zone", &zone)], offset as f64);
        family.push_to(out);

        let mut available = Family::gauge(
            "node_time_clocksource_available_info",
            "Available clocksources read from '/sys/devices/system/clocksource'.",
        );
        let mut current = Family::gauge(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
        );
        for name in dir_names(&self.clocksource)? {
            let Some(device) = name.strip_prefix("clocksource") else {
                continue;
            };
            let dir = self.clocksource.join(&name);
            for source in read_string(&dir.join("available_clocksource"))?.split_whitespace() {
                available.add(&[("device", device), ("clocksource", source)], 1.0);
            }
            let cur = read_string(&dir.join("current_clocksource"))?;
            current.add(&[("device", device), ("clocksource", cur.trim())], 1.0);
        }
        available.push_to(out);
        current.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TZif file with two types (CET +3600, CEST +7200) and one transition.
    fn tzif(transition: i32) -> Vec<u8> {
        let mut d = b"TZif2".to_vec();
        d.extend([0u8; 15]);
        for n in [0u32, 0, 0, 1, 2, 10] {
            d.extend(n.to_be_bytes());
        }
        d.extend(transition.to_be_bytes());
        d.push(1);
        d.extend(3600i32.to_be_bytes());
        d.extend([0, 0]);
        d.extend(7200i32.to_be_bytes());
        d.extend([1, 4]);
        d.extend(b"CET\0CEST\0\0");
        d
    }

    #[test]
    fn tzif_picks_the_type_in_force() {
        let data = tzif(1_000);
        assert_eq!(tzif_zone_at(&data, 999), Some(("CET".into(), 3600)));
        assert_eq!(tzif_zone_at(&data, 1_000), Some(("CEST".into(), 7200)));
        assert_eq!(tzif_zone_at(b"nope", 0), None);
        assert_eq!(tzif_zone_at(&data[..30], 0), None);
    }

    #[test]
    fn no_zone_data_means_utc() {
        assert_eq!(zone_at(None, 0), ("UTC".to_string(), 0));
        assert_eq!(zone_at(Some(b"garbage"), 0), ("UTC".to_string(), 0));
        assert_eq!(zone_at(Some(&tzif(10)), 20), ("CEST".to_string(), 7200));
    }

    #[test]
    fn the_host_zone_file_parses_when_present() {
        if let Ok(data) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            // 2024-07-01 is summer time, 2024-01-01 winter time.
            assert_eq!(
                tzif_zone_at(&data, 1_719_792_000),
                Some(("CEST".into(), 7200))
            );
            assert_eq!(
                tzif_zone_at(&data, 1_704_067_200),
                Some(("CET".into(), 3600))
            );
        }
    }
}

//! `--log.level` and `--log.format`: a small `tracing` subscriber that writes one line
//! per event, as go-kit's loggers in the Go exporters do.
//!
//! ```text
//! ts=2026-11-30T09:40:41.123Z caller=run.rs:97 level=info msg="Listening on" address=[::]:9100
//! {"ts":"2026-11-30T09:40:41.123Z","caller":"run.rs:97","level":"info","msg":"Listening on","address":"[::]:9100"}
//! ```
//!
//! Spans are not tracked (the exporters do not use them); `TRACE` events count as
//! `debug`. Lines go to standard error, as in Go.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::{Error, LogFormat, LogLevel};

/// The subscriber: events at or above the level, formatted as logfmt or JSON lines.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ember_exporter::{LogFormat, LogLevel, Logger};
///
/// #[derive(Clone, Default)]
/// struct Buf(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Buf {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let buf = Buf::default();
/// let logger = Logger::new(LogLevel::Info, LogFormat::Logfmt, buf.clone());
/// tracing::subscriber::with_default(logger, || {
///     tracing::info!(address = "[::]:9100", "Listening on");
///     tracing::debug!("not shown at info");
/// });
/// let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
/// assert!(text.starts_with("ts="), "{text}");
/// assert!(text.ends_with(" level=info msg=\"Listening on\" address=[::]:9100\n"), "{text}");
/// assert_eq!(text.lines().count(), 1);
/// ```
pub struct Logger {
    filter: LevelFilter,
    format: LogFormat,
    out: parking_lot::Mutex<Box<dyn Write + Send>>,
    next_span: AtomicU64,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("filter", &self.filter)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// A logger writing to `out`.
    pub fn new(level: LogLevel, format: LogFormat, out: impl Write + Send + 'static) -> Logger {
        let filter = match level {
            LogLevel::Debug => LevelFilter::TRACE,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Error => LevelFilter::ERROR,
        };
        Logger {
            filter,
            format,
            out: parking_lot::Mutex::new(Box::new(out)),
            next_span: AtomicU64::new(1),
        }
    }

    /// Formats one event as a line (with its newline).
    fn line(&self, event: &Event<'_>) -> String {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let file = meta.file().unwrap_or("?");
        let file = file.rsplit(['/', '\\']).next().unwrap_or(file);
        let caller = format!("{file}:{}", meta.line().unwrap_or(0));
        let level = level_name(meta.level());
        let ts = rfc3339_millis(SystemTime::now());
        let mut pairs: Vec<(&str, String)> = vec![("ts", ts), ("caller", caller)];
        pairs.push(("level", level.to_owned()));
        if let Some(msg) = fields.message {
            pairs.push(("msg", msg));
        }
        let mut line = String::with_capacity(128);
        match self.format {
            LogFormat::Logfmt => {
                let all = pairs
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .chain(fields.pairs.iter().map(|(k, v)| (*k, v.as_str())));
                for (i, (k, v)) in all.enumerate() {
                    if i > 0 {
                        line.push(' ');
                    }
                    line.push_str(k);
                    line.push('=');
                    logfmt_value(&mut line, v);
                }
            }
            LogFormat::Json => {
                line.push('{');
                let all = pairs
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .chain(fields.pairs.iter().map(|(k, v)| (*k, v.as_str())));
                for (i, (k, v)) in all.enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    json_string(&mut line, k);
                    line.push(':');
                    json_string(&mut line, v);
                }
                line.push('}');
            }
        }
        line.push('\n');
        line
    }
}

/// Installs a [`Logger`] writing to standard error as the process-wide subscriber.
pub fn init_logging(level: LogLevel, format: LogFormat) -> Result<(), Error> {
    tracing::subscriber::set_global_default(Logger::new(level, format, std::io::stderr()))
        .map_err(|_| Error::Logging)
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        _ => "debug",
    }
}

impl Subscriber for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= &self.filter
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.filter)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed).max(1))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let line = self.line(event);
        // A log line that cannot be written (closed stderr) is dropped; there is no
        // better place to report it.
        let _ = self.out.lock().write_all(line.as_bytes());
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The event's message and other fields, as strings.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.pairs.push((field.name(), value));
        }
    }
}

/// go-logfmt's rule: quote a value that is empty or holds a space, `=`, `"` or a
/// control character.
fn logfmt_value(out: &mut String, v: &str) {
    let needs_quotes = v.is_empty() || v.chars().any(|c| c <= ' ' || c == '=' || c == '"');
    if !needs_quotes {
        out.push_str(v);
        return;
    }
    out.push('"');
    escape_into(out, v);
    out.push('"');
}

fn json_string(out: &mut String, v: &str) {
    out.push('"');
    escape_into(out, v);
    out.push('"');
}

/// Backslash escapes shared by logfmt's quoted values and JSON strings.
fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `2026-11-30T09:40:41.123Z`.
fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<parking_lot::Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(level: LogLevel, format: LogFormat, f: impl FnOnce()) -> Vec<String> {
        let buf = Buf::default();
        tracing::subscriber::with_default(Logger::new(level, format, buf.clone()), f);
        let text = String::from_utf8(buf.0.lock().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// The line without its `ts=... caller=log.rs:N ` prefix, which changes.
    fn after_ts(line: &str) -> &str {
        let (ts, rest) = line.split_once(' ').unwrap();
        assert!(
            ts.starts_with("ts=20") && ts.ends_with('Z') && ts.len() == 27,
            "{ts}"
        );
        let (caller, rest) = rest.split_once(' ').unwrap();
        let n = caller.strip_prefix("caller=log.rs:").unwrap();
        assert!(n.parse::<u32>().unwrap() > 200, "{caller}");
        rest
    }

    #[test]
    fn logfmt_lines_look_like_go_kit() {
        let lines = capture(LogLevel::Info, LogFormat::Logfmt, || {
            tracing::info!(address = "[::]:9100", http2 = false, "TLS is disabled.");
            tracing::warn!(error = %"a \"b\"\nc", n = 3, "odd = value");
            tracing::error!(collector = "", "x");
            tracing::debug!("hidden");
        });
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            after_ts(&lines[0]),
            "level=info msg=\"TLS is disabled.\" address=[::]:9100 http2=false"
        );
        assert_eq!(
            after_ts(&lines[1]),
            "level=warn msg=\"odd = value\" error=\"a \\\"b\\\"\\nc\" n=3"
        );
        assert_eq!(after_ts(&lines[2]), "level=error msg=x collector=\"\"");
    }

    #[test]
    fn levels_filter() {
        let emit = || {
            tracing::trace!("t");
            tracing::debug!("d");
            tracing::info!("i");
            tracing::warn!("w");
            tracing::error!("e");
        };
        let count = |level| capture(level, LogFormat::Logfmt, emit).len();
        assert_eq!(count(LogLevel::Debug), 5);
        assert_eq!(count(LogLevel::Info), 3);
        assert_eq!(count(LogLevel::Warn), 2);
        assert_eq!(count(LogLevel::Error), 1);
    }

    #[test]
    fn json_lines_are_objects() {
        let lines = capture(LogLevel::Debug, LogFormat::Json, || {
            tracing::debug!(path = "/a\"b", "Listening on");
        });
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert!(l.starts_with("{\"ts\":\"20") && l.ends_with('}'), "{l}");
        assert!(
            l.contains("\"level\":\"debug\",\"msg\":\"Listening on\",\"path\":\"/a\\\"b\"}"),
            "{l}"
        );
        assert!(l.contains("\"caller\":\"log.rs:"), "{l}");
    }

    #[test]
    fn timestamps_are_utc_rfc3339_with_millis() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_495_641_123);
        assert_eq!(rfc3339_millis(t), "2025-11-30T09:40:41.123Z");
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_millis(leap), "2000-02-29T00:00:00.000Z");
    }
}

//! The process collector: CPU time, memory, file descriptors, start time and threads of a
//! process, read from `/proc` as client_golang's process collector reads them.
//!
//! | family | type | source |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | `stat` utime + stime, in clock ticks |
//! | `process_virtual_memory_bytes` | gauge | `stat` vsize |
//! | `process_resident_memory_bytes` | gauge | `stat` rss times the page size |
//! | `process_start_time_seconds` | gauge | `stat` starttime in clock ticks + `btime` of `/proc/stat` |
//! | `process_open_fds` | gauge | entries of `fd/` |
//! | `process_max_fds` | gauge | `limits` "Max open files", soft |
//! | `process_virtual_memory_max_bytes` | gauge | `limits` "Max address space", soft |
//! | `process_network_receive_bytes_total` | counter | `net/netstat` IpExt InOctets |
//! | `process_network_transmit_bytes_total` | counter | `net/netstat` IpExt OutOctets |
//! | `process_threads` | gauge | `stat` num_threads |
//!
//! Names, HELP texts and types are client_golang's (v1.20 and later, which added the two
//! network counters); `process_threads` is not in client_golang and comes from the Rust
//! `prometheus` crate, with its HELP text. A limit of `unlimited` is written as
//! `1.8446744073709552e+19` (`u64::MAX`), as procfs reports it.
//!
//! The clock tick and the page size come from the kernel's auxiliary vector
//! (`/proc/self/auxv`, `AT_CLKTCK` and `AT_PAGESZ`, which is where glibc's `sysconf` takes
//! them from), so no libc binding is needed. Where it cannot be read (a fixture tree) they
//! default to 100 (procfs's `userHZ`, which client_golang uses on every platform) and 4096.
//!
//! A file that cannot be read or parsed drops the families that depend on it; collection
//! never fails and never panics. On targets other than Linux nothing is collected.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ember_expfmt::{Metric, MetricFamily, MetricType, MetricValue};

use crate::collector::Collector;

/// Name (without `_total` for counters), HELP text and type of one family.
struct Desc {
    name: &'static str,
    help: &'static str,
    metric_type: MetricType,
}

const CPU: Desc = Desc {
    name: "process_cpu_seconds",
    help: "Total user and system CPU time spent in seconds.",
    metric_type: MetricType::Counter,
};
const OPEN_FDS: Desc = Desc {
    name: "process_open_fds",
    help: "Number of open file descriptors.",
    metric_type: MetricType::Gauge,
};
const MAX_FDS: Desc = Desc {
    name: "process_max_fds",
    help: "Maximum number of open file descriptors.",
    metric_type: MetricType::Gauge,
};
const VSIZE: Desc = Desc {
    name: "process_virtual_memory_bytes",
    help: "Virtual memory size in bytes.",
    metric_type: MetricType::Gauge,
};
const MAX_VSIZE: Desc = Desc {
    name: "process_virtual_memory_max_bytes",
    help: "Maximum amount of virtual memory available in bytes.",
    metric_type: MetricType::Gauge,
};
const RSS: Desc = Desc {
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    metric_type: MetricType::Gauge,
};
const START_TIME: Desc = Desc {
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    metric_type: MetricType::Gauge,
};
const NET_RECEIVE: Desc = Desc {
    name: "process_network_receive_bytes",
    help: "Number of bytes received by the process over the network.",
    metric_type: MetricType::Counter,
};
const NET_TRANSMIT: Desc = Desc {
    name: "process_network_transmit_bytes",
    help: "Number of bytes sent by the process over the network.",
    metric_type: MetricType::Counter,
};
const THREADS: Desc = Desc {
    name: "process_threads",
    help: "Number of OS threads in the process.",
    metric_type: MetricType::Gauge,
};

/// Reports CPU, memory, file descriptor, network, start time and thread metrics of a
/// process from `/proc`, with client_golang's names and HELP texts.
///
/// ```
/// use ember::{Collector, ProcessCollector};
///
/// let families = ProcessCollector::new().collect();
/// if cfg!(target_os = "linux") {
///     let rss = families.iter().find(|f| f.name == "process_resident_memory_bytes").unwrap();
///     assert_eq!(rss.help, "Resident memory size in bytes.");
/// } else {
///     assert!(families.is_empty());
/// }
/// ```
#[derive(Debug)]
pub struct ProcessCollector {
    procfs: PathBuf,
    /// `None` for the calling process (`/proc/self`).
    pid: Option<u32>,
    /// Prefix including its trailing `_`, or empty.
    prefix: String,
    system: OnceLock<System>,
}

impl ProcessCollector {
    /// A collector for the calling process, reading `/proc/self`.
    ///
    /// ```
    /// let c = ember::ProcessCollector::new();
    /// # let _ = c;
    /// ```
    pub fn new() -> Self {
        ProcessCollector {
            procfs: PathBuf::from("/proc"),
            pid: None,
            prefix: String::new(),
            system: OnceLock::new(),
        }
    }

    /// A collector for the process `pid`, reading `/proc/<pid>`. A process that does not
    /// exist (or has ended) yields no families.
    ///
    /// ```
    /// use ember::{Collector, ProcessCollector};
    /// let c = ProcessCollector::for_pid(std::process::id());
    /// assert_eq!(c.collect().is_empty(), !cfg!(target_os = "linux"));
    /// ```
    pub fn for_pid(pid: u32) -> Self {
        ProcessCollector {
            pid: Some(pid),
            ..Self::new()
        }
    }

    /// Reads from the proc filesystem mounted at `path` instead of `/proc` (a host's
    /// `/proc` mounted into a container, or a fixture tree in tests).
    ///
    /// ```
    /// use ember::{Collector, ProcessCollector};
    /// let c = ProcessCollector::new().with_procfs("/nonexistent");
    /// assert!(c.collect().is_empty());
    /// ```
    pub fn with_procfs(mut self, path: impl Into<PathBuf>) -> Self {
        self.procfs = path.into();
        self.system = OnceLock::new();
        self
    }

    /// Prefixes every family name with `namespace` and `_`, as client_golang's
    /// `ProcessCollectorOpts.Namespace`. An empty namespace adds nothing.
    ///
    /// ```
    /// use ember::{Collector, ProcessCollector};
    /// let families = ProcessCollector::new().with_namespace("app").collect();
    /// assert!(families.iter().all(|f| f.name.starts_with("app_process_")));
    /// ```
    pub fn with_namespace(mut self, namespace: impl AsRef<str>) -> Self {
        let namespace = namespace.as_ref();
        self.prefix = if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}_")
        };
        self
    }

    fn process_dir(&self) -> PathBuf {
        match self.pid {
            Some(pid) => self.procfs.join(pid.to_string()),
            None => self.procfs.join("self"),
        }
    }

    fn system(&self) -> System {
        *self
            .system
            .get_or_init(|| System::from_auxv(&self.procfs.join("self/auxv")))
    }

    fn family(&self, desc: &Desc, value: f64) -> MetricFamily {
        let value = match desc.metric_type {
            MetricType::Counter => MetricValue::Counter {
                value,
                exemplar: None,
            },
            _ => MetricValue::Gauge(value),
        };
        MetricFamily {
            name: format!("{}{}", self.prefix, desc.name),
            help: desc.help.to_string(),
            metric_type: desc.metric_type,
            unit: None,
            metrics: vec![Metric {
                labels: Vec::new(),
                value,
                timestamp_ms: None,
                created: None,
            }],
        }
    }

    /// Reads everything from the proc filesystem, in client_golang's order.
    fn collect_procfs(&self) -> Vec<MetricFamily> {
        let dir = self.process_dir();
        let system = self.system();
        let mut out = Vec::with_capacity(10);
        let stat = read(&dir.join("stat")).and_then(|s| ProcStat::parse(&s));
        if let Some(stat) = &stat {
            out.push(self.family(&CPU, stat.cpu_seconds(system.clock_ticks)));
            out.push(self.family(&VSIZE, stat.vsize as f64));
            out.push(self.family(&RSS, stat.rss as f64 * system.page_size));
            let boot = read(&self.procfs.join("stat")).and_then(|s| parse_boot_time(&s));
            if let Some(boot) = boot {
                let start = boot as f64 + stat.starttime as f64 / system.clock_ticks;
                out.push(self.family(&START_TIME, start));
            }
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("fd")) {
            out.push(self.family(&OPEN_FDS, entries.count() as f64));
        }
        if let Some(limits) = read(&dir.join("limits")) {
            if let Some(max) = parse_soft_limit(&limits, "Max open files") {
                out.push(self.family(&MAX_FDS, max));
            }
            if let Some(max) = parse_soft_limit(&limits, "Max address space") {
                out.push(self.family(&MAX_VSIZE, max));
            }
        }
        if let Some((received, sent)) =
            read(&dir.join("net/netstat")).and_then(|s| parse_ip_octets(&s))
        {
            out.push(self.family(&NET_RECEIVE, received));
            out.push(self.family(&NET_TRANSMIT, sent));
        }
        if let Some(stat) = &stat {
            out.push(self.family(&THREADS, stat.num_threads as f64));
        }
        out
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for ProcessCollector {
    fn collect(&self) -> Vec<MetricFamily> {
        if cfg!(target_os = "linux") {
            self.collect_procfs()
        } else {
            Vec::new()
        }
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Kernel constants needed to turn `/proc` units into seconds and bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct System {
    /// `USER_HZ`: clock ticks per second of `stat` times.
    clock_ticks: f64,
    /// Bytes per page of `stat` rss.
    page_size: f64,
}

impl System {
    const DEFAULT: System = System {
        clock_ticks: 100.0,
        page_size: 4096.0,
    };

    fn from_auxv(path: &Path) -> System {
        std::fs::read(path).map_or(Self::DEFAULT, |bytes| Self::parse_auxv(&bytes))
    }

    /// Parses the auxiliary vector: native-endian `(type, value)` word pairs ended by
    /// `AT_NULL`.
    fn parse_auxv(bytes: &[u8]) -> System {
        const AT_NULL: usize = 0;
        const AT_PAGESZ: usize = 6;
        const AT_CLKTCK: usize = 17;
        const WORD: usize = size_of::<usize>();
        let word = |b: &[u8]| <[u8; WORD]>::try_from(b).ok().map(usize::from_ne_bytes);
        let mut system = Self::DEFAULT;
        for pair in bytes.chunks_exact(2 * WORD) {
            let (key, value) = pair.split_at(WORD);
            let (Some(key), Some(value)) = (word(key), word(value)) else {
                break;
            };
            match key {
                AT_NULL => break,
                AT_PAGESZ if value > 0 => system.page_size = value as f64,
                AT_CLKTCK if value > 0 => system.clock_ticks = value as f64,
                _ => {}
            }
        }
        system
    }
}

/// The fields of `/proc/<pid>/stat` the collector uses.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ProcStat {
    utime: u64,
    stime: u64,
    num_threads: i64,
    starttime: u64,
    vsize: u64,
    rss: i64,
}

impl ProcStat {
    /// Parses `pid (comm) state ppid ...`. The command name may hold spaces and
    /// parentheses, so the fields start after the last `)`.
    fn parse(text: &str) -> Option<ProcStat> {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        if close < open {
            return None;
        }
        // Field 3 of proc(5), the state, is index 0 here.
        let mut fields = text.get(close + 1..)?.split_ascii_whitespace();
        let _state = fields.next()?;
        let utime = fields.nth(10)?.parse().ok()?; // 14
        let stime = fields.next()?.parse().ok()?; // 15
        let num_threads = fields.nth(4)?.parse().ok()?; // 20
        let starttime = fields.nth(1)?.parse().ok()?; // 22
        let vsize = fields.next()?.parse().ok()?; // 23
        let rss = fields.next()?.parse().ok()?; // 24
        Some(ProcStat {
            utime,
            stime,
            num_threads,
            starttime,
            vsize,
            rss,
        })
    }

    fn cpu_seconds(&self, clock_ticks: f64) -> f64 {
        self.utime.saturating_add(self.stime) as f64 / clock_ticks
    }
}

/// The `btime` line of `/proc/stat`: boot time in Unix seconds.
fn parse_boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of the row `name` in `/proc/<pid>/limits`; `unlimited` is `u64::MAX`.
fn parse_soft_limit(limits: &str, name: &str) -> Option<f64> {
    let rest = limits.lines().find_map(|line| {
        line.strip_prefix(name)
            .filter(|rest| rest.starts_with(char::is_whitespace))
    })?;
    match rest.split_ascii_whitespace().next()? {
        "unlimited" => Some(u64::MAX as f64),
        soft => soft.parse::<u64>().ok().map(|v| v as f64),
    }
}

/// `InOctets` and `OutOctets` of the `IpExt` section of `/proc/<pid>/net/netstat` (a
/// header line of names, then a line of values). Missing counters are 0, as in
/// client_golang; a value that is not a number fails the file.
fn parse_ip_octets(netstat: &str) -> Option<(f64, f64)> {
    let mut lines = netstat.lines();
    while let Some(names) = lines.next() {
        let values = lines.next()?;
        let (Some(names), Some(values)) =
            (names.strip_prefix("IpExt:"), values.strip_prefix("IpExt:"))
        else {
            continue;
        };
        let (mut received, mut sent) = (0.0, 0.0);
        for (name, value) in names
            .split_ascii_whitespace()
            .zip(values.split_ascii_whitespace())
        {
            match name {
                "InOctets" => received = value.parse().ok()?,
                "OutOctets" => sent = value.parse().ok()?,
                _ => {}
            }
        }
        return Some((received, sent));
    }
    Some((0.0, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_expfmt::{Encoder, Format};

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc");

    fn render(families: &[MetricFamily]) -> String {
        let mut enc = Encoder::new(Format::Text);
        for f in families {
            enc.write_family(f);
        }
        String::from_utf8(enc.finish()).unwrap()
    }

    #[test]
    fn stat_with_spaces_and_parentheses_in_comm() {
        let line = "4242 (ember (test) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 567 0 0 \
                    20 0 7 0 500000 123456789 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0\n";
        assert_eq!(
            ProcStat::parse(line),
            Some(ProcStat {
                utime: 1234,
                stime: 567,
                num_threads: 7,
                starttime: 500_000,
                vsize: 123_456_789,
                rss: 2500,
            })
        );
        assert_eq!(ProcStat::parse("1 (a) S 1 2 3"), None);
        assert_eq!(ProcStat::parse(") 1 (a"), None);
        assert_eq!(ProcStat::parse(""), None);
    }

    #[test]
    fn limits_rows_and_unlimited() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n\
                      Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(parse_soft_limit(limits, "Max open files"), Some(1024.0));
        assert_eq!(
            parse_soft_limit(limits, "Max address space"),
            Some(18_446_744_073_709_551_615.0)
        );
        assert_eq!(parse_soft_limit(limits, "Max open"), None);
        assert_eq!(
            parse_soft_limit("Max open files  lots", "Max open files"),
            None
        );
    }

    #[test]
    fn netstat_and_btime() {
        let netstat = "TcpExt: A B\nTcpExt: 1 2\nIpExt: InNoRoutes InOctets OutOctets\n\
                       IpExt: 0 196356122 466823\n";
        assert_eq!(parse_ip_octets(netstat), Some((196_356_122.0, 466_823.0)));
        assert_eq!(parse_ip_octets("TcpExt: A\nTcpExt: 1\n"), Some((0.0, 0.0)));
        assert_eq!(parse_ip_octets("IpExt: InOctets\nIpExt: x\n"), None);
        assert_eq!(
            parse_boot_time("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_boot_time("cpu 1 2\n"), None);
    }

    #[test]
    fn auxv_gives_clock_ticks_and_page_size() {
        let words: [usize; 8] = [6, 65536, 17, 250, 0, 0, 17, 1];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(
            System::parse_auxv(&bytes),
            System {
                clock_ticks: 250.0,
                page_size: 65536.0
            }
        );
        assert_eq!(System::parse_auxv(&[1, 2, 3]), System::DEFAULT);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn fixture_tree_gives_exact_values() {
        let families = ProcessCollector::for_pid(4242)
            .with_procfs(FIXTURE)
            .collect();
        assert_eq!(
            render(&families),
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\n\
             process_cpu_seconds_total 18.01\n\
             # HELP process_virtual_memory_bytes Virtual memory size in bytes.\n\
             # TYPE process_virtual_memory_bytes gauge\n\
             process_virtual_memory_bytes 1.23456789e+08\n\
             # HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\n\
             process_resident_memory_bytes 1.024e+07\n\
             # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
             # TYPE process_start_time_seconds gauge\n\
             process_start_time_seconds 1.700005e+09\n\
             # HELP process_open_fds Number of open file descriptors.\n\
             # TYPE process_open_fds gauge\n\
             process_open_fds 5\n\
             # HELP process_max_fds Maximum number of open file descriptors.\n\
             # TYPE process_max_fds gauge\n\
             process_max_fds 1024\n\
             # HELP process_virtual_memory_max_bytes Maximum amount of virtual memory available in bytes.\n\
             # TYPE process_virtual_memory_max_bytes gauge\n\
             process_virtual_memory_max_bytes 1.8446744073709552e+19\n\
             # HELP process_network_receive_bytes_total Number of bytes received by the process over the network.\n\
             # TYPE process_network_receive_bytes_total counter\n\
             process_network_receive_bytes_total 1.96356122e+08\n\
             # HELP process_network_transmit_bytes_total Number of bytes sent by the process over the network.\n\
             # TYPE process_network_transmit_bytes_total counter\n\
             process_network_transmit_bytes_total 466823\n\
             # HELP process_threads Number of OS threads in the process.\n\
             # TYPE process_threads gauge\n\
             process_threads 7\n"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn namespace_prefixes_every_family() {
        let families = ProcessCollector::for_pid(4242)
            .with_procfs(FIXTURE)
            .with_namespace("app")
            .collect();
        assert_eq!(families.len(), 10);
        assert!(families.iter().all(|f| f.name.starts_with("app_process_")));
        let text = render(&families);
        assert!(
            text.contains("\napp_process_cpu_seconds_total 18.01\n"),
            "{text}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn unreadable_files_drop_only_their_families() {
        // Process 4343 of the fixture has a cut-off stat, a limits file with a garbled
        // address-space row, one fd and no net/netstat.
        let families = ProcessCollector::for_pid(4343)
            .with_procfs(FIXTURE)
            .collect();
        assert_eq!(
            render(&families),
            "# HELP process_open_fds Number of open file descriptors.\n\
             # TYPE process_open_fds gauge\n\
             process_open_fds 1\n\
             # HELP process_max_fds Maximum number of open file descriptors.\n\
             # TYPE process_max_fds gauge\n\
             process_max_fds 256\n"
        );
        let families = ProcessCollector::for_pid(99).with_procfs(FIXTURE).collect();
        assert!(families.is_empty());
        let families = ProcessCollector::new()
            .with_procfs("/nonexistent")
            .collect();
        assert!(families.is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn live_process_values_are_plausible() {
        // A second thread that lives until collection is done.
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || wait.recv());
        let families = ProcessCollector::new().collect();
        drop(done);
        let _ = helper.join();
        let value = |name: &str| -> f64 {
            let f = families
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{name} missing from {families:?}"));
            match f.metrics[0].value {
                MetricValue::Gauge(v) => v,
                MetricValue::Counter { value, .. } => value,
                ref other => panic!("{other:?}"),
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(value("process_threads") >= 2.0);
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_open_fds") > 0.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_virtual_memory_max_bytes") > 0.0);
        assert!(value("process_cpu_seconds") >= 0.0);
        let start = value("process_start_time_seconds");
        // Boot time is whole seconds, so the start can appear up to a second late.
        assert!(
            start > now - 86_400.0 && start <= now + 1.0,
            "start {start}, now {now}"
        );
        // The same process through its pid.
        let by_pid = ProcessCollector::for_pid(std::process::id()).collect();
        assert_eq!(by_pid.len(), families.len());

        let system = ProcessCollector::new().system();
        assert!(system.clock_ticks > 0.0);
        assert!((system.page_size as u64).is_power_of_two());
    }
}

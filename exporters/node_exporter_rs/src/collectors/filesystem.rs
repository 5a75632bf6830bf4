//! `filesystem`: size, free and available bytes, inodes, read-only state and statfs
//! errors of each mounted file system.
//!
//! Mounts come from `<procfs>/1/mounts`, falling back to `<procfs>/mounts`; mount points
//! and types matching `--collector.filesystem.mount-points-exclude` /
//! `--collector.filesystem.fs-types-exclude` are skipped. `statfs` runs on a few worker
//! threads (kept parked between scrapes, up to [`MAX_WORKERS`], so that a scrape does not
//! pay for starting a thread; more are started only when those are busy or stuck),
//! and the scrape waits at most
//! `--collector.filesystem.mount-timeout` for all mounts: a mount that has not answered
//! by then is reported with `node_filesystem_device_error 1`, and one whose call is still
//! blocked stays marked stuck and is not asked again until that call returns. So a hung
//! NFS server costs one parked thread, never a hung scrape, and parked threads are
//! bounded by the number of distinct mount points.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Arg;
use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};
use regex::Regex;

use super::Entry;
use crate::util::{
    Family, aliased_regex, arg_str, deprecated_arg, parse_error, parse_go_duration, value_arg,
};

/// The most `statfs` threads one scrape starts.
const MAX_WORKERS: usize = 4;

const MOUNT_POINTS_EXCLUDE_DEFAULT: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
const FS_TYPES_EXCLUDE_DEFAULT: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "filesystem",
        enabled_by_default: true,
    },
    args,
    build: |ctx| {
        let m = ctx.matches;
        let never = || Regex::new("^$").map_err(|e| e.to_string());
        let mount_points_exclude = aliased_regex(
            m,
            "collector.filesystem.mount-points-exclude",
            Some("collector.filesystem.ignored-mount-points"),
        )?
        .map_or_else(never, Ok)?;
        let fs_types_exclude = aliased_regex(
            m,
            "collector.filesystem.fs-types-exclude",
            Some("collector.filesystem.ignored-fs-types"),
        )?
        .map_or_else(never, Ok)?;
        let timeout =
            parse_go_duration(arg_str(m, "collector.filesystem.mount-timeout").unwrap_or("5s"))
                .map_err(|e| format!("--collector.filesystem.mount-timeout: {e}"))?;
        Ok(Box::new(Filesystem {
            procfs: ctx.paths.procfs.clone(),
            rootfs: ctx.paths.rootfs.clone(),
            mount_points_exclude,
            fs_types_exclude,
            timeout,
            stat: Arc::new(statfs),
            stuck: Arc::new(Mutex::new(HashSet::new())),
            workers: Workers::default(),
        }))
    },
};

fn args() -> Vec<Arg> {
    vec![
        value_arg(
            "collector.filesystem.mount-points-exclude",
            Some(MOUNT_POINTS_EXCLUDE_DEFAULT),
            "Regexp of mount points to exclude for filesystem collector.",
        ),
        value_arg(
            "collector.filesystem.fs-types-exclude",
            Some(FS_TYPES_EXCLUDE_DEFAULT),
            "Regexp of filesystem types to exclude for filesystem collector.",
        ),
        value_arg(
            "collector.filesystem.mount-timeout",
            Some("5s"),
            "how long to wait for a mount to respond before marking it as stale",
        )
        .hide(true),
        deprecated_arg(
            "collector.filesystem.ignored-mount-points",
            "Regexp of mount points to ignore for filesystem collector.",
        ),
        deprecated_arg(
            "collector.filesystem.ignored-fs-types",
            "Regexp of filesystem types to ignore for filesystem collector.",
        ),
    ]
}

/// The numbers node_exporter takes from `statfs(2)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FsStat {
    /// Total bytes (`f_blocks * f_bsize`).
    pub(crate) size: f64,
    /// Free bytes (`f_bfree * f_bsize`).
    pub(crate) free: f64,
    /// Bytes available to unprivileged users (`f_bavail * f_bsize`).
    pub(crate) avail: f64,
    /// Inodes (`f_files`).
    pub(crate) files: f64,
    /// Free inodes (`f_ffree`).
    pub(crate) files_free: f64,
}

/// `statfs(2)` through rustix.
fn statfs(path: &Path) -> std::io::Result<FsStat> {
    let s = rustix::fs::statfs(path)?;
    let bsize = s.f_bsize as f64;
    Ok(FsStat {
        size: s.f_blocks as f64 * bsize,
        free: s.f_bfree as f64 * bsize,
        avail: s.f_bavail as f64 * bsize,
        files: s.f_files as f64,
        files_free: s.f_ffree as f64,
    })
}

type StatFn = dyn Fn(&Path) -> std::io::Result<FsStat> + Send + Sync;

struct Filesystem {
    procfs: PathBuf,
    rootfs: PathBuf,
    mount_points_exclude: Regex,
    fs_types_exclude: Regex,
    timeout: Duration,
    stat: Arc<StatFn>,
    /// Mount points whose `statfs` has not returned yet.
    stuck: Arc<Mutex<HashSet<String>>>,
    /// Parked worker threads.
    workers: Workers,
}

/// A job for a worker thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Worker threads parked between scrapes, each waiting on its own channel. A worker
/// whose job returns parks itself again (unless [`MAX_WORKERS`] already are); one whose
/// job is stuck in `statfs` is simply not parked, so a scrape never hands a job to it.
/// When the collector is dropped, the parked workers' channels close and they exit.
#[derive(Default)]
struct Workers {
    idle: Arc<Mutex<Vec<mpsc::Sender<Job>>>>,
}

impl Workers {
    /// Runs `job` on a parked worker, or on a new one if none is parked.
    fn run(&self, job: Job) -> std::io::Result<()> {
        let parked = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let worker = match parked {
            Some(worker) => worker,
            None => Workers::start()?,
        };
        let idle = Arc::downgrade(&self.idle);
        let again = worker.clone();
        let job: Job = Box::new(move || {
            job();
            if let Some(idle) = idle.upgrade() {
                let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < MAX_WORKERS {
                    idle.push(again);
                }
            }
        });
        // A parked worker's thread only ends when its channel closes, so the send cannot
        // fail; if it did, a new thread takes the job.
        if let Err(mpsc::SendError(job)) = worker.send(job) {
            Workers::start()?
                .send(job)
                .map_err(|_| std::io::Error::other("statfs worker exited"))?;
        }
        Ok(())
    }

    fn start() -> std::io::Result<mpsc::Sender<Job>> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("statfs".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })?;
        Ok(tx)
    }
}

impl std::fmt::Debug for Filesystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filesystem")
            .field("procfs", &self.procfs)
            .field("rootfs", &self.rootfs)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) device: String,
    pub(crate) mount_point: String,
    pub(crate) fs_type: String,
    pub(crate) options: String,
}

/// Parses a mount table (`/proc/mounts` format), unescaping `\040` and `\011` in mount
/// points as fstab(5) says and stripping the `--path.rootfs` prefix as upstream does.
pub(crate) fn parse_mounts(
    path: &Path,
    text: &str,
    rootfs: &Path,
) -> Result<Vec<Mount>, CollectorError> {
    let root = rootfs.to_string_lossy();
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 4 {
            return Err(parse_error(
                path,
                format!("malformed mount point information: {line:?}"),
            ));
        }
        let mut mount_point = parts[1].replace("\\040", " ").replace("\\011", "\t");
        if root != "/" {
            if let Some(stripped) = mount_point.strip_prefix(root.as_ref()) {
                mount_point = if stripped.is_empty() {
                    "/".to_string()
                } else {
                    stripped.to_string()
                };
            }
        }
        out.push(Mount {
            device: parts[0].to_string(),
            mount_point,
            fs_type: parts[2].to_string(),
            options: parts[3].to_string(),
        });
    }
    Ok(out)
}

impl Filesystem {
    fn mounts(&self) -> Result<Vec<Mount>, CollectorError> {
        let first = self.procfs.join("1/mounts");
        let (path, text) = match std::fs::read_to_string(&first) {
            Ok(text) => (first, text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let path = self.procfs.join("mounts");
                let text = crate::util::read_string(&path)?;
                (path, text)
            }
            Err(source) => {
                return Err(CollectorError::Io {
                    path: first,
                    source,
                });
            }
        };
        parse_mounts(&path, &text, &self.rootfs)
    }

    /// Stats the mounts on at most [`MAX_WORKERS`] worker threads;
    /// `None` for a mount that failed, did not answer before the deadline, or is still
    /// stuck from an earlier scrape.
    fn stat_all(&self, mounts: &[Mount]) -> Vec<Option<FsStat>> {
        let mut results: Vec<Option<FsStat>> = vec![None; mounts.len()];
        let queue: VecDeque<(usize, String, PathBuf)> = {
            let stuck = self.stuck.lock().unwrap_or_else(PoisonError::into_inner);
            mounts
                .iter()
                .enumerate()
                // A mount whose earlier statfs has not returned is not asked again.
                .filter(|(_, m)| !stuck.contains(&m.mount_point))
                .map(|(i, m)| {
                    let target = self.rootfs.join(m.mount_point.trim_start_matches('/'));
                    (i, m.mount_point.clone(), target)
                })
                .collect()
        };
        let mut pending = queue.len();
        let queue = Arc::new(Mutex::new(queue));
        let cancelled = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        for _ in 0..pending.min(MAX_WORKERS) {
            let (queue, cancelled, tx) = (Arc::clone(&queue), Arc::clone(&cancelled), tx.clone());
            let (stat, stuck) = (Arc::clone(&self.stat), Arc::clone(&self.stuck));
            let worker = move || {
                while !cancelled.load(Ordering::Relaxed) {
                    let job = queue
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .pop_front();
                    let Some((i, key, target)) = job else { break };
                    stuck
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(key.clone());
                    let result = stat(&target).ok();
                    stuck
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&key);
                    // The receiver is gone once the scrape gave up waiting.
                    let _ = tx.send((i, result));
                }
            };
            if self.workers.run(Box::new(worker)).is_err() {
                break;
            }
        }
        drop(tx);
        let deadline = Instant::now() + self.timeout;
        while pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((i, result)) => {
                    pending -= 1;
                    results[i] = result;
                }
                // Deadline passed, or every worker is gone (none could be started).
                Err(_) => break,
            }
        }
        // Workers still blocked in statfs leave their mount marked stuck; the others stop.
        cancelled.store(true, Ordering::Relaxed);
        results
    }
}

impl Collector for Filesystem {
    fn name(&self) -> &str {
        "filesystem"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut seen = HashSet::new();
        let mounts: Vec<Mount> = self
            .mounts()?
            .into_iter()
            .filter(|m| {
                !self.mount_points_exclude.is_match(&m.mount_point)
                    && !self.fs_types_exclude.is_match(&m.fs_type)
            })
            // Each (device, mount point, type) once, even when mounted over itself.
            .filter(|m| seen.insert((m.device.clone(), m.mount_point.clone(), m.fs_type.clone())))
            .collect();
        let stats = self.stat_all(&mounts);

        let mut size = Family::gauge("node_filesystem_size_bytes", "Filesystem size in bytes.");
        let mut free = Family::gauge(
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
        );
        let mut avail = Family::gauge(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
        );
        let mut files = Family::gauge("node_filesystem_files", "Filesystem total file nodes.");
        let mut files_free = Family::gauge(
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
        );
        let mut readonly =
            Family::gauge("node_filesystem_readonly", "Filesystem read-only status.");
        let mut device_error = Family::gauge(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
        );
        for (mount, stat) in mounts.iter().zip(stats) {
            let labels = [
                ("device", mount.device.as_str()),
                ("mountpoint", mount.mount_point.as_str()),
                ("fstype", mount.fs_type.as_str()),
            ];
            let Some(stat) = stat else {
                device_error.add(&labels, 1.0);
                continue;
            };
            device_error.add(&labels, 0.0);
            size.add(&labels, stat.size);
            free.add(&labels, stat.free);
            avail.add(&labels, stat.avail);
            files.add(&labels, stat.files);
            files_free.add(&labels, stat.files_free);
            let ro = mount.options.split(',').any(|o| o == "ro");
            readonly.add(&labels, if ro { 1.0 } else { 0.0 });
        }
        for family in [device_error, size, free, avail, files, files_free, readonly] {
            family.push_to(out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Paths;

    fn collector(dir: &Path, stat: Arc<StatFn>, timeout: Duration) -> Filesystem {
        let paths = Paths::fixture(dir);
        Filesystem {
            procfs: paths.procfs,
            rootfs: paths.rootfs,
            mount_points_exclude: Regex::new(MOUNT_POINTS_EXCLUDE_DEFAULT).unwrap(),
            fs_types_exclude: Regex::new(FS_TYPES_EXCLUDE_DEFAULT).unwrap(),
            timeout,
            stat,
            stuck: Arc::new(Mutex::new(HashSet::new())),
            workers: Workers::default(),
        }
    }

    fn fixture_with(mounts: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ne-fs-{}-{}", std::process::id(), mounts.len()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        std::fs::write(dir.join("proc/mounts"), mounts).unwrap();
        dir
    }

    fn sample(out: &[MetricFamily], name: &str, mountpoint: &str) -> Option<f64> {
        let family = out.iter().find(|f| f.name == name)?;
        family
            .metrics
            .iter()
            .find(|m| {
                m.labels
                    .iter()
                    .any(|(k, v)| k == "mountpoint" && v == mountpoint)
            })
            .map(|m| match m.value {
                ember_expfmt::MetricValue::Gauge(v) => v,
                _ => f64::NAN,
            })
    }

    #[test]
    fn mount_lines_unescape_and_strip_the_rootfs_prefix() {
        let text = "/dev/sda1 /host/mnt/my\\040disk ext4 rw 0 0\n/dev/sda2 /host xfs ro 0 0\n";
        let mounts = parse_mounts(Path::new("m"), text, Path::new("/host")).unwrap();
        assert_eq!(mounts[0].mount_point, "/mnt/my disk");
        assert_eq!(mounts[1].mount_point, "/");
        assert!(parse_mounts(Path::new("m"), "rootfs /\n", Path::new("/")).is_err());
    }

    #[test]
    fn real_statfs_fills_every_family() {
        // The fixture root is a directory on a real file system, so statfs answers.
        let dir = fixture_with("/dev/root / ext4 ro,relatime 0 0\n");
        let c = collector(&dir, Arc::new(statfs), Duration::from_secs(30));
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        assert_eq!(sample(&out, "node_filesystem_device_error", "/"), Some(0.0));
        assert_eq!(sample(&out, "node_filesystem_readonly", "/"), Some(1.0));
        let size = sample(&out, "node_filesystem_size_bytes", "/").unwrap();
        let avail = sample(&out, "node_filesystem_avail_bytes", "/").unwrap();
        assert!(size > 0.0 && avail <= size, "size {size} avail {avail}");
        let want = rustix::fs::statfs(&dir).unwrap();
        assert_eq!(size, want.f_blocks as f64 * want.f_bsize as f64);
    }

    #[test]
    fn a_stuck_mount_reports_device_error_and_is_not_stat_again_while_stuck() {
        let dir = fixture_with(
            "nfs:/export /srv/nfs nfs4 rw 0 0\n/dev/vda1 /home ext4 rw 0 0\n\
             proc /proc proc rw 0 0\n",
        );
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let calls2 = Arc::clone(&calls);
        let stat: Arc<StatFn> = Arc::new(move |p: &Path| {
            calls2.lock().unwrap().push(p.to_path_buf());
            if p.ends_with("srv/nfs") {
                // Blocks until the test releases it, like a dead NFS server.
                let _ = release_rx.lock().unwrap().recv();
            }
            Ok(FsStat {
                size: 100.0,
                free: 50.0,
                avail: 40.0,
                files: 10.0,
                files_free: 5.0,
            })
        });
        let c = collector(&dir, stat, Duration::from_millis(200));
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        assert_eq!(
            sample(&out, "node_filesystem_device_error", "/srv/nfs"),
            Some(1.0)
        );
        assert_eq!(sample(&out, "node_filesystem_size_bytes", "/srv/nfs"), None);
        assert_eq!(
            sample(&out, "node_filesystem_device_error", "/home"),
            Some(0.0)
        );
        assert_eq!(
            sample(&out, "node_filesystem_size_bytes", "/home"),
            Some(100.0)
        );
        assert_eq!(sample(&out, "node_filesystem_device_error", "/proc"), None);

        // Second scrape: the stuck mount is not stat'ed again.
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        assert_eq!(
            sample(&out, "node_filesystem_device_error", "/srv/nfs"),
            Some(1.0)
        );
        let nfs_calls = calls
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.ends_with("srv/nfs"))
            .count();
        assert_eq!(nfs_calls, 1);

        // Once the call returns, the mount is unmarked and answers again.
        release_tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.stuck.lock().unwrap().contains("/srv/nfs") && Instant::now() < deadline {
            std::thread::yield_now();
        }
        // Let the unblocked call answer: further calls pass straight through.
        drop(release_tx);
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        assert_eq!(
            sample(&out, "node_filesystem_device_error", "/srv/nfs"),
            Some(0.0)
        );
    }

    #[test]
    fn more_mounts_than_workers_are_all_answered() {
        let table: String = (0..10)
            .map(|i| format!("/dev/vd{i} /srv/d{i} ext4 rw 0 0\n"))
            .collect();
        let dir = fixture_with(&table);
        let stat: Arc<StatFn> = Arc::new(|p: &Path| {
            let n: f64 = p
                .to_string_lossy()
                .rsplit('d')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            Ok(FsStat {
                size: n,
                free: 0.0,
                avail: 0.0,
                files: 0.0,
                files_free: 0.0,
            })
        });
        let c = collector(&dir, stat, Duration::from_secs(30));
        let mut out = Vec::new();
        c.update(&mut out).unwrap();
        for i in 0..10 {
            let mp = format!("/srv/d{i}");
            assert_eq!(sample(&out, "node_filesystem_device_error", &mp), Some(0.0));
            assert_eq!(
                sample(&out, "node_filesystem_size_bytes", &mp),
                Some(f64::from(i))
            );
        }
        assert!(c.stuck.lock().unwrap().is_empty());
    }

    #[test]
    fn go_durations_parse() {
        use crate::util::parse_go_duration;
        assert_eq!(parse_go_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("s").is_err());
    }
}

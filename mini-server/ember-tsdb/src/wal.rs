//! Write-ahead log: numbered segment files of CRC-framed records.
//!
//! Segments are files named by an 8-digit decimal number (`00000000`, `00000001`, ...) in
//! the WAL directory, each at most [`WalOptions::segment_size`] bytes; records never span
//! segments. A frame is `len: u32 LE` (bytes of type + payload), `crc: u32 LE` (CRC-32,
//! IEEE polynomial, over type + payload), `type: u8`, payload (see `FORMAT.md`).
//!
//! Replay reads segments in order and stops at the first frame that is torn (the file ends
//! inside it), has a zero length, fails its checksum or does not decode. Nothing after that
//! point is returned, not even later segments: a record after a gap could refer to a
//! series whose record was lost. The [`ReplayReport`] says where and why it stopped.
//! [`WalWriter::open`] then repairs the log so the server starts: it truncates that segment
//! at the last good record and renames later segments to `NNNNNNNN.corrupt` (or
//! `NNNNNNNN.corrupt.N` if taken; kept for inspection, never replayed), and it always
//! starts writing in a new segment.
//!
//! Durability per sync policy is documented on [`SyncPolicy`].

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;
use crate::record::Record;

/// Bytes of a frame header: length and CRC.
pub const FRAME_HEADER_LEN: usize = 8;

/// Default maximum segment size: 128 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;

/// When the writer calls `fdatasync`, and so what an acknowledged append guarantees.
///
/// [`WalWriter::append`] writes each frame with one `write` call on the file, without
/// user-space buffering, so once it returns the record survives the process being killed.
/// Surviving power loss or a kernel crash depends on the policy:
///
/// | policy | the record is on stable storage |
/// |---|---|
/// | [`SyncPolicy::Always`] | when `append` returns (`fdatasync` per record) |
/// | [`SyncPolicy::Interval`] | once an `append` (this one or a later one) finds the last sync at least the interval old, or on [`WalWriter::sync`]; there is no background thread, so an idle writer does not sync |
/// | [`SyncPolicy::Never`] | only when the caller calls [`WalWriter::sync`] (segments are not synced on roll either) |
///
/// With `Always` and `Interval`, a full segment is synced before the next one is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// After every record.
    Always,
    /// When an append finds the last sync older than this.
    Interval(Duration),
    /// Only on explicit [`WalWriter::sync`].
    Never,
}

/// How a [`WalWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Largest segment file in bytes (a record that cannot fit in an empty segment is refused).
    pub segment_size: u64,
    /// When to sync.
    pub sync: SyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            segment_size: DEFAULT_SEGMENT_SIZE,
            sync: SyncPolicy::Interval(Duration::from_secs(1)),
        }
    }
}

/// Why replay stopped before the end of the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The segment ends inside a frame header.
    #[error("segment ends inside a record header")]
    TornHeader,
    /// The segment ends inside a record's body.
    #[error("segment ends inside a record of {len} bytes")]
    TornRecord {
        /// Length given by the frame header.
        len: u32,
    },
    /// A frame header with length zero (e.g. zeroed blocks after a crash).
    #[error("record length is zero")]
    ZeroLength,
    /// The CRC does not match the bytes.
    #[error("checksum mismatch: frame says {expected:#010x}, bytes give {actual:#010x}")]
    Checksum {
        /// CRC stored in the frame.
        expected: u32,
        /// CRC of the bytes read.
        actual: u32,
    },
    /// The checksum matches but the payload does not decode.
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

/// What a replay read, and where it stopped early if it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records returned.
    pub records: u64,
    /// Segments read (including the one where replay stopped).
    pub segments: u32,
    /// `(segment, byte offset)` of the first bad frame, i.e. the end of the last good record.
    pub truncated_at: Option<(u32, u64)>,
    /// Why replay stopped there.
    pub reason: Option<Corruption>,
    /// Segments after the bad one, not replayed.
    pub skipped_segments: Vec<u32>,
}

/// Replays every good record of the WAL in `dir`, in order, into `f`, read-only.
///
/// Replay stops at the first frame that is torn, has length zero, fails its CRC or does
/// not decode; nothing after it is returned, later segments included (they could refer
/// to series whose records were lost). The report says where and why. A missing
/// directory is an empty log.
///
/// ```
/// use ember_tsdb::{replay, Record, SampleRecord, WalOptions, WalWriter};
///
/// let dir = std::env::temp_dir().join(format!("ember-wal-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let (mut wal, _) = WalWriter::open(&dir, WalOptions::default(), |_| {})?;
/// wal.append(&Record::Samples(vec![SampleRecord { id: 1, t: 1_000, v: 2.5 }]))?;
/// drop(wal);
///
/// let mut got = vec![];
/// let report = replay(&dir, |r| got.push(r))?;
/// assert_eq!(report.records, 1);
/// assert_eq!(report.truncated_at, None);
/// assert_eq!(got, [Record::Samples(vec![SampleRecord { id: 1, t: 1_000, v: 2.5 }])]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), ember_tsdb::Error>(())
/// ```
pub fn replay(dir: &Path, f: impl FnMut(Record)) -> Result<ReplayReport, Error> {
    replay_from(dir, 0, f)
}

/// [`replay`] of the segments numbered `first` and later only (a checkpoint covers the
/// earlier ones).
pub fn replay_from(
    dir: &Path,
    first: u32,
    mut f: impl FnMut(Record),
) -> Result<ReplayReport, Error> {
    let mut report = ReplayReport::default();
    let mut segments = list_segments(dir)?;
    segments.retain(|&s| s >= first);
    for (i, &seg) in segments.iter().enumerate() {
        report.segments += 1;
        let path = segment_path(dir, seg);
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        let (good_end, bad) = decode_segment(&bytes, |r| {
            report.records += 1;
            f(r);
        });
        if let Some(reason) = bad {
            report.truncated_at = Some((seg, good_end as u64));
            report.reason = Some(reason);
            report.skipped_segments = segments[i + 1..].to_vec();
            break;
        }
    }
    Ok(report)
}

/// Decodes the frames of one segment's bytes into `f`, stopping as [`replay`] does;
/// returns the offset after the last good record and, if it stopped early, why.
///
/// ```
/// use ember_tsdb::{decode_segment, Corruption};
///
/// let (end, why) = decode_segment(&[3, 0, 0], |_| {});
/// assert_eq!((end, why), (0, Some(Corruption::TornHeader)));
/// ```
pub fn decode_segment(bytes: &[u8], mut f: impl FnMut(Record)) -> (usize, Option<Corruption>) {
    let mut off = 0;
    while off < bytes.len() {
        let rest = &bytes[off..];
        let Some((header, body)) = rest.split_first_chunk::<FRAME_HEADER_LEN>() else {
            return (off, Some(Corruption::TornHeader));
        };
        let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let expected = u32::from_le_bytes([c0, c1, c2, c3]);
        if len == 0 {
            return (off, Some(Corruption::ZeroLength));
        }
        let Some(frame) = body.get(..len as usize) else {
            return (off, Some(Corruption::TornRecord { len }));
        };
        let actual = crc32fast::hash(frame);
        if actual != expected {
            return (off, Some(Corruption::Checksum { expected, actual }));
        }
        let (&ty, payload) = frame.split_first().unwrap_or((&0, &[]));
        match Record::decode(ty, payload) {
            Ok(r) => f(r),
            Err(what) => return (off, Some(Corruption::Malformed(what))),
        }
        off += FRAME_HEADER_LEN + len as usize;
    }
    (off, None)
}

/// Called with the duration of every `fdatasync` the writer makes.
pub type SyncObserver = Box<dyn FnMut(Duration) + Send + Sync>;

/// Appends records to the WAL; [`SyncPolicy`] says what is durable when.
pub struct WalWriter {
    dir: PathBuf,
    options: WalOptions,
    file: File,
    segment: u32,
    /// Bytes in the current segment.
    size: u64,
    last_sync: Instant,
    buf: Vec<u8>,
    observer: Option<SyncObserver>,
}

impl std::fmt::Debug for WalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field("segment", &self.segment)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl WalWriter {
    /// Opens (creating if needed) the WAL in `dir`: replays it into `f`, repairs a bad
    /// tail, and starts a new segment.
    ///
    /// If replay stopped early, the segment is truncated at the end of the last good
    /// record and later segments are renamed to `NNNNNNNN.corrupt` (kept for inspection,
    /// never replayed), so the log ends cleanly and the server starts. The returned report
    /// says what was cut.
    pub fn open(
        dir: &Path,
        options: WalOptions,
        f: impl FnMut(Record),
    ) -> Result<(Self, ReplayReport), Error> {
        Self::open_from(dir, options, 0, f)
    }

    /// [`WalWriter::open`] replaying (and repairing) only segments numbered `first` and
    /// later; the new segment is numbered at least `first`. Earlier segments are left
    /// alone (a checkpoint covers them).
    pub fn open_from(
        dir: &Path,
        options: WalOptions,
        first: u32,
        f: impl FnMut(Record),
    ) -> Result<(Self, ReplayReport), Error> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let report = replay_from(dir, first, f)?;
        if let Some((seg, off)) = report.truncated_at {
            let path = segment_path(dir, seg);
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            file.set_len(off).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
            for &later in &report.skipped_segments {
                let from = segment_path(dir, later);
                // Segment numbers are reused after a repair, so an earlier repair may have
                // left this name; never overwrite it.
                let mut to = dir.join(format!("{later:08}.corrupt"));
                let mut n = 1;
                while to.exists() {
                    to = dir.join(format!("{later:08}.corrupt.{n}"));
                    n += 1;
                }
                fs::rename(&from, &to).map_err(io_err(&from))?;
            }
        }
        let next = list_segments(dir)?.last().map_or(0, |s| s + 1).max(first);
        let file = create_segment(dir, next)?;
        let writer = Self {
            dir: dir.to_path_buf(),
            options,
            file,
            segment: next,
            size: 0,
            last_sync: Instant::now(),
            buf: Vec::new(),
            observer: None,
        };
        Ok((writer, report))
    }

    /// Creates a WAL in `dir`, which must not exist or be empty of segments, without
    /// replaying anything; used for checkpoints.
    pub fn create(dir: &Path, options: WalOptions) -> Result<Self, Error> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let next = list_segments(dir)?.last().map_or(0, |s| s + 1);
        let file = create_segment(dir, next)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            options,
            file,
            segment: next,
            size: 0,
            last_sync: Instant::now(),
            buf: Vec::new(),
            observer: None,
        })
    }

    /// Calls `observer` with the duration of every later `fdatasync`.
    pub fn set_sync_observer(&mut self, observer: SyncObserver) {
        self.observer = Some(observer);
    }

    /// Appends one record; on return it is durable as the [`SyncPolicy`] says.
    pub fn append(&mut self, record: &Record) -> Result<(), Error> {
        self.append_batch(std::slice::from_ref(record))
    }

    /// Appends records in order with as few `write` calls as segment boundaries allow
    /// (one when they fit in the current segment) and at most one sync per the
    /// [`SyncPolicy`] at the end; on return all of them are durable as the policy says.
    ///
    /// A process crash during the call can keep any prefix of the records (each record is
    /// all or nothing on replay). A record too large for a segment is refused before
    /// anything is written.
    pub fn append_batch(&mut self, records: &[Record]) -> Result<(), Error> {
        self.buf.clear();
        // (start, end) of each frame in `buf`.
        let mut frames: Vec<(usize, usize)> = Vec::with_capacity(records.len());
        for record in records {
            let start = self.buf.len();
            self.buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
            self.buf.push(record.type_byte());
            record.encode_payload(&mut self.buf);
            let framed = self.buf.len() - start;
            let len = u32::try_from(framed - FRAME_HEADER_LEN)
                .ok()
                .filter(|_| framed as u64 <= self.options.segment_size)
                .ok_or(Error::RecordTooLarge {
                    len: framed,
                    max: self.options.segment_size,
                })?;
            let crc = crc32fast::hash(&self.buf[start + FRAME_HEADER_LEN..]);
            self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
            self.buf[start + 4..start + FRAME_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
            frames.push((start, self.buf.len()));
        }
        // Write runs of frames that fit in the current segment, rolling between runs.
        let mut i = 0;
        while i < frames.len() {
            let run_start = frames[i].0;
            let mut run_end = run_start;
            while i < frames.len()
                && self.size + (frames[i].1 - run_start) as u64 <= self.options.segment_size
            {
                run_end = frames[i].1;
                i += 1;
            }
            if run_end == run_start {
                self.roll()?;
                continue;
            }
            if let Err(e) = self.file.write_all(&self.buf[run_start..run_end]) {
                // Cut a partial frame so later appends are not hidden behind a torn record.
                let _ = self.file.set_len(self.size);
                return Err(io_err(&self.segment_path())(e));
            }
            self.size += (run_end - run_start) as u64;
        }
        match self.options.sync {
            SyncPolicy::Always => self.sync()?,
            SyncPolicy::Interval(d) if self.last_sync.elapsed() >= d => self.sync()?,
            _ => {}
        }
        Ok(())
    }

    /// Forces everything appended so far to stable storage.
    pub fn sync(&mut self) -> Result<(), Error> {
        let start = Instant::now();
        self.file
            .sync_data()
            .map_err(io_err(&self.segment_path()))?;
        self.last_sync = Instant::now();
        if let Some(observer) = &mut self.observer {
            observer(self.last_sync - start);
        }
        Ok(())
    }

    /// Ends the current segment (synced unless the policy is [`SyncPolicy::Never`]) and
    /// starts the next one; returns the number of the segment that was ended.
    pub fn next_segment(&mut self) -> Result<u32, Error> {
        let ended = self.segment;
        self.roll()?;
        Ok(ended)
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of the segment being written.
    pub fn segment(&self) -> u32 {
        self.segment
    }

    fn segment_path(&self) -> PathBuf {
        segment_path(&self.dir, self.segment)
    }

    fn roll(&mut self) -> Result<(), Error> {
        if self.options.sync != SyncPolicy::Never {
            self.sync()?;
        }
        let next = self.segment + 1;
        self.file = create_segment(&self.dir, next)?;
        self.segment = next;
        self.size = 0;
        Ok(())
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |source| Error::Io { path, source }
}

pub(crate) fn segment_path(dir: &Path, seg: u32) -> PathBuf {
    dir.join(format!("{seg:08}"))
}

/// Segment numbers in `dir`, ascending; a missing directory has none.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u32>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut segs = vec![];
    for entry in entries {
        let name = entry.map_err(io_err(dir))?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = name.parse() {
                segs.push(n);
            }
        }
    }
    segs.sort_unstable();
    Ok(segs)
}

/// Creates a new, empty segment and makes its directory entry durable.
fn create_segment(dir: &Path, seg: u32) -> Result<File, Error> {
    let path = segment_path(dir, seg);
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(io_err(&path))?;
    // Syncing the directory makes the new file's name survive a crash.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(file)
}

#[cfg(test)]
mod tests;

//! Call-site records: how every `#[metric]` function gets its series at zero before its
//! first call, without code running before `main` and without `unsafe`.
//!
//! Registration before `main` needs link-section tricks (`linkme`, `inventory`, `ctor`),
//! and `#[link_section]` is an unsafe attribute that `unsafe_code = "forbid"` refuses in
//! the crate where `#[metric]` expands. So each call site instead carries a *record*: a
//! plain `static` byte array, built at compile time by [`record`], that starts with
//! [`MAGIC`] and spells out the site's labels, buckets and HELP text. The call site's
//! own `static` points at it, so the linker keeps it exactly when the function is in the
//! program. At the first use of the default registry, [`scan_own_executable`] reads the
//! running executable (`/proc/self/exe` on Linux, so a binary replaced on disk since is
//! still the one read) and finds the records in its read-only data: in an ELF file only
//! its allocated, non-executable `PROGBITS` sections (`.rodata` and the like) are read,
//! not code or debug info; any other format is read whole. Reads go by 1 MiB chunks.
//!
//! Limits: sites in a shared library loaded at run time are not in the executable and
//! get their series at their first call, as do all sites when the executable cannot be
//! read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// First bytes of every record.
pub(crate) const MAGIC: [u8; 16] = *b"\x00ember:callsite\x01";
/// Last bytes of every record.
const END: [u8; 4] = *b"\x00end";
/// Fields of a record, in order: see [`Record`].
pub(crate) const FIELDS: usize = 8;

/// Length of the record of `fields`.
pub const fn record_len(fields: &[&str; FIELDS]) -> usize {
    let mut n = MAGIC.len() + 4 + END.len();
    let mut i = 0;
    while i < FIELDS {
        n += 4 + fields[i].len();
        i += 1;
    }
    n
}

/// The record of `fields`: a 16-byte marker, the length of what follows up to the end
/// marker (u32 little-endian), each field as its length (u32 little-endian) and bytes,
/// a 4-byte end marker.
/// `N` must be [`record_len`]`(fields)`; evaluated at compile time, a wrong `N` fails
/// the build.
pub const fn record<const N: usize>(fields: &[&str; FIELDS]) -> [u8; N] {
    assert!(N == record_len(fields), "record length");
    let mut out = [0u8; N];
    let mut at = 0;
    at = put(&mut out, at, &MAGIC);
    let body = (N - MAGIC.len() - 4 - END.len()) as u32;
    at = put(&mut out, at, &body.to_le_bytes());
    let mut i = 0;
    while i < FIELDS {
        let b = fields[i].as_bytes();
        at = put(&mut out, at, &(b.len() as u32).to_le_bytes());
        at = put(&mut out, at, b);
        i += 1;
    }
    put(&mut out, at, &END);
    out
}

const fn put<const N: usize>(out: &mut [u8; N], mut at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        out[at] = bytes[i];
        at += 1;
        i += 1;
    }
    at
}

/// One call site as its record describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record<'a> {
    /// The `function` label.
    pub(crate) function: &'a str,
    /// The `module` label (`module_path!()`).
    pub(crate) module: &'a str,
    /// `build_info`'s `version`, `commit`, `branch`.
    pub(crate) version: &'a str,
    pub(crate) commit: &'a str,
    pub(crate) branch: &'a str,
    /// Duration buckets, comma-separated; empty for the autometrics ones.
    pub(crate) buckets: &'a str,
    /// Extra constant labels, rendered (`team="x",tier="1"`), or empty.
    pub(crate) labels: &'a str,
    /// The function's description (`help = "..."` or its doc comment), or empty.
    pub(crate) help: &'a str,
}

impl Record<'_> {
    /// The buckets, or `None` for the autometrics ones (or text that is not a list of
    /// numbers, which the macro never writes).
    pub(crate) fn bucket_bounds(&self) -> Option<Vec<f64>> {
        if self.buckets.is_empty() {
            return None;
        }
        self.buckets.split(',').map(|b| b.parse().ok()).collect()
    }
}

/// Parses the record at the start of `bytes`; `None` unless it is whole and well formed.
pub(crate) fn parse(bytes: &[u8]) -> Option<Record<'_>> {
    let rest = bytes.strip_prefix(&MAGIC)?;
    let (len, rest) = split_u32(rest)?;
    let body = rest.get(..len)?;
    if rest.get(len..len + END.len())? != END {
        return None;
    }
    let mut fields = [""; FIELDS];
    let mut body = body;
    for f in &mut fields {
        let (n, rest) = split_u32(body)?;
        *f = std::str::from_utf8(rest.get(..n)?).ok()?;
        body = rest.get(n..)?;
    }
    if !body.is_empty() {
        return None;
    }
    let [
        function,
        module,
        version,
        commit,
        branch,
        buckets,
        labels,
        help,
    ] = fields;
    Some(Record {
        function,
        module,
        version,
        commit,
        branch,
        buckets,
        labels,
        help,
    })
}

fn split_u32(b: &[u8]) -> Option<(usize, &[u8])> {
    let (n, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*n) as usize, rest))
}

/// Owned [`Record`] fields, for records read from a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnedRecord(pub(crate) [String; FIELDS]);

impl OwnedRecord {
    fn new(r: &Record<'_>) -> Self {
        OwnedRecord(
            [
                r.function, r.module, r.version, r.commit, r.branch, r.buckets, r.labels, r.help,
            ]
            .map(str::to_string),
        )
    }

    /// Borrows it as a [`Record`].
    pub(crate) fn get(&self) -> Record<'_> {
        let [
            function,
            module,
            version,
            commit,
            branch,
            buckets,
            labels,
            help,
        ] = self.0.each_ref().map(String::as_str);
        Record {
            function,
            module,
            version,
            commit,
            branch,
            buckets,
            labels,
            help,
        }
    }
}

/// The records of the running executable.
pub(crate) fn scan_own_executable() -> std::io::Result<Vec<OwnedRecord>> {
    let path = if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe()?
    };
    scan_file(&mut File::open(path)?)
}

/// The records of an executable file: in its data sections if it is ELF, else anywhere.
pub(crate) fn scan_file<F: Read + Seek>(f: &mut F) -> std::io::Result<Vec<OwnedRecord>> {
    let ranges = match elf_data_sections(f)? {
        Some(sections) => sections,
        None => vec![(0, f.seek(SeekFrom::End(0))?)],
    };
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for (start, len) in ranges {
        scan_range(f, start, len, &mut buf, &mut out)?;
    }
    Ok(out)
}

/// Bytes read at a time: a section with large embedded data is not read whole.
const CHUNK: usize = 1 << 20;
/// Largest record read: far above any real one (the description is one paragraph).
const MAX_RECORD: usize = 1 << 20;

/// Adds the records that start in `len` bytes of `f` from `start`.
fn scan_range<F: Read + Seek>(
    f: &mut F,
    start: u64,
    len: u64,
    buf: &mut Vec<u8>,
    out: &mut Vec<OwnedRecord>,
) -> std::io::Result<()> {
    let end = start.saturating_add(len);
    // Chunks overlap by one byte less than the marker: a marker across a boundary is
    // whole in the next chunk, and no marker is whole in two.
    let overlap = MAGIC.len() - 1;
    // Sized for this range (most sections are small), reused across ranges.
    let want = usize::try_from(len).map_or(CHUNK + overlap, |l| l.min(CHUNK + overlap));
    if buf.len() < want {
        buf.resize(want, 0);
    }
    let mut hits = Vec::new();
    let mut pos = start;
    while pos < end {
        let n = usize::try_from(end - pos).map_or(buf.len(), |left| left.min(buf.len()));
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut buf[..n])?;
        hits.extend(memchr::memmem::find_iter(&buf[..n], &MAGIC).map(|at| pos + at as u64));
        if n <= overlap || pos + n as u64 >= end {
            break;
        }
        pos += (n - overlap) as u64;
    }
    let mut record = Vec::new();
    for at in hits {
        let mut head = [0u8; MAGIC.len() + 4];
        f.seek(SeekFrom::Start(at))?;
        if f.read_exact(&mut head).is_err() {
            continue;
        }
        let Some((body, _)) = split_u32(&head[MAGIC.len()..]) else {
            continue;
        };
        let total = head.len() + body + END.len();
        if total > MAX_RECORD {
            continue;
        }
        record.resize(total, 0);
        f.seek(SeekFrom::Start(at))?;
        if f.read_exact(&mut record).is_ok() {
            if let Some(r) = parse(&record) {
                out.push(OwnedRecord::new(&r));
            }
        }
    }
    Ok(())
}

/// `(file offset, size)` of each allocated, non-executable `PROGBITS` section of a
/// 64-bit little-endian ELF file; `None` if the file is not one.
fn elf_data_sections<F: Read + Seek>(f: &mut F) -> std::io::Result<Option<Vec<(u64, u64)>>> {
    const SHT_PROGBITS: u32 = 1;
    const SHF_ALLOC: u64 = 2;
    const SHF_EXECINSTR: u64 = 4;
    let mut header = [0u8; 64];
    f.seek(SeekFrom::Start(0))?;
    if f.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    // 64-bit (class 2), little-endian (data 1).
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Ok(None);
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u32_at = |b: &[u8], at: usize| {
        let mut a = [0; 4];
        a.copy_from_slice(&b[at..at + 4]);
        u32::from_le_bytes(a)
    };
    let u64_at = |b: &[u8], at: usize| {
        let mut a = [0; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(a)
    };
    let shoff = u64_at(&header, 0x28);
    let shentsize = usize::from(u16_at(&header, 0x3a));
    let shnum = usize::from(u16_at(&header, 0x3c));
    if shentsize < 64 || shnum == 0 {
        return Ok(None);
    }
    let mut table = vec![0u8; shentsize * shnum];
    f.seek(SeekFrom::Start(shoff))?;
    f.read_exact(&mut table)?;
    let file_len = f.seek(SeekFrom::End(0))?;
    let mut out = Vec::new();
    for sh in table.chunks_exact(shentsize) {
        let kind = u32_at(sh, 4);
        let flags = u64_at(sh, 8);
        let offset = u64_at(sh, 24);
        let size = u64_at(sh, 32);
        let inside = offset.checked_add(size).is_some_and(|end| end <= file_len);
        if kind == SHT_PROGBITS && flags & SHF_ALLOC != 0 && flags & SHF_EXECINSTR == 0 && inside {
            out.push((offset, size));
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS_OF_A: [&str; FIELDS] = ["f", "app::m", "1.0", "", "", "0.1,1", "", "Does f."];
    static A: [u8; record_len(&FIELDS_OF_A)] = record(&FIELDS_OF_A);

    #[test]
    fn records_round_trip_and_are_found_among_other_bytes() {
        let r = parse(&A).unwrap();
        assert_eq!(r.function, "f");
        assert_eq!(r.module, "app::m");
        assert_eq!(r.help, "Does f.");
        assert_eq!(r.bucket_bounds(), Some(vec![0.1, 1.0]));
        let mut data = b"junk".to_vec();
        data.extend_from_slice(&MAGIC); // a bare needle, as the scanner's own constant
        data.extend_from_slice(b"more junk");
        data.extend_from_slice(&A);
        data.extend_from_slice(&A[..A.len() - 1]); // cut short
        let found = scan_file(&mut std::io::Cursor::new(data)).unwrap();
        assert_eq!(found.iter().map(OwnedRecord::get).collect::<Vec<_>>(), [r]);
    }

    #[test]
    fn records_across_chunk_boundaries_are_found_once() {
        // Records placed so that markers straddle the 1 MiB chunk boundary in every
        // way, among bytes that are not ELF (so the whole file is scanned).
        for shift in 0..=MAGIC.len() + 1 {
            let mut data = vec![0x55u8; CHUNK - MAGIC.len() + shift];
            data.extend_from_slice(&A);
            data.extend(std::iter::repeat_n(0x55, CHUNK));
            data.extend_from_slice(&A);
            let found = scan_file(&mut std::io::Cursor::new(data)).unwrap();
            assert_eq!(found.len(), 2, "shift {shift}");
            assert!(found.iter().all(|o| o.get() == parse(&A).unwrap()));
        }
    }

    #[test]
    fn the_test_binary_holds_its_own_records() {
        // `A` is referenced by the test above, so it is in this executable.
        let found = scan_own_executable().unwrap();
        assert!(
            found.iter().any(|o| o.get() == parse(&A).unwrap()),
            "{found:?}"
        );
    }
}

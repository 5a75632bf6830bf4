//! Block files made of arbitrary bytes, or a valid block with bytes patched, never make
//! `Block::open`, `Block::verify` or a query panic: they open and read, or fail with an
//! error.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use ember_tsdb::{Block, CHUNKS_FILE, INDEX_FILE, Labels, META_FILE, Querier, WriteOptions};
use libfuzzer_sys::fuzz_target;

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("ember-fuzz-block-{}", std::process::id()))
}

/// The three files of a small valid block, written once.
fn valid() -> &'static [Vec<u8>; 3] {
    static FILES: OnceLock<[Vec<u8>; 3]> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = scratch().join("seed");
        let _ = std::fs::remove_dir_all(&dir);
        let series = (0..5)
            .map(|i| {
                let l = Labels::new([("__name__", "m"), ("i", &*i.to_string())]).expect("labels");
                (l, (0..300).map(|t| (t * 15_000, (t * i) as f64 * 0.5)).collect())
            })
            .collect();
        let opts = WriteOptions { max_chunk_samples: 120, ..WriteOptions::default() };
        let meta = ember_tsdb::write_block(&dir, series, &opts).expect("seed block");
        let b = dir.join(meta.id.to_string());
        let read = |f: &str| std::fs::read(b.join(f)).expect("seed file");
        let files = [read(CHUNKS_FILE), read(INDEX_FILE), read(META_FILE)];
        let _ = std::fs::remove_dir_all(&dir);
        files
    })
}

fn exercise(files: [&[u8]; 3]) {
    let dir = scratch().join("case");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for (name, bytes) in [CHUNKS_FILE, INDEX_FILE, META_FILE].into_iter().zip(files) {
        std::fs::write(dir.join(name), bytes).expect("scratch file");
    }
    if let Ok(block) = Block::open(&dir) {
        let _ = block.verify();
        if let Ok(sel) = block.select(&[], i64::MIN, i64::MAX) {
            for s in &sel {
                let _ = s.iter().count();
            }
        }
        let _ = block.label_names(&[]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 {
        // Raw files: two length bytes split the rest into index, meta and chunks.
        let [a, b, rest @ ..] = rest else { return };
        let (index, rest) = rest.split_at(usize::from(*a).min(rest.len()));
        let (meta, chunks) = rest.split_at(usize::from(*b).min(rest.len()));
        exercise([chunks, index, meta]);
    } else {
        // Patches on the valid block: (file, offset u16, xor) triples.
        let mut files = valid().clone();
        for p in rest.chunks_exact(4) {
            let f = &mut files[usize::from(p[0]) % 3];
            if !f.is_empty() {
                let at = usize::from(u16::from_le_bytes([p[1], p[2]])) % f.len();
                f[at] ^= p[3];
            }
        }
        exercise([&files[0], &files[1], &files[2]]);
    }
});

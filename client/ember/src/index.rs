//! An insert-only concurrent hash index: hash → position in append-only storage.
//!
//! Lookups do atomic loads only (no lock, no read-modify-write), plus whatever key
//! comparison the caller's closure does. Writers are serialized by a mutex. The index
//! stores no keys: an entry is `(hash, position + 1)` in two atomics, and the caller
//! compares the key stored at the position. Open addressing with linear probing, at most
//! half full; when it would pass half, a table of twice the size is built and published.
//! Replaced tables are kept (never freed while the index lives, which is what lets
//! readers keep using one without a refcount), bounding the memory to twice the live
//! table. A reader on a replaced table can miss an entry inserted since; callers treat a
//! miss as "take the lock and look again".
//!
//! Entries are never removed: a key whose value was removed keeps its entry, and
//! [`Index::repoint`] moves it to the key's next value.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::segments::SEGMENTS;

/// Entries in the first table.
const FIRST: usize = 16;

struct Entry {
    hash: AtomicU64,
    /// 0 when empty, else the position plus one; stored after `hash` with `Release`.
    slot: AtomicUsize,
}

/// See the module docs.
pub(crate) struct Index {
    /// Table `k` has `FIRST << k` entries; `current` is the live one.
    tables: [OnceLock<Box<[Entry]>>; SEGMENTS],
    current: AtomicUsize,
    /// Entries used in the current table.
    writer: Mutex<usize>,
}

impl Index {
    /// An empty index.
    pub(crate) fn new() -> Self {
        Index {
            tables: [const { OnceLock::new() }; SEGMENTS],
            current: AtomicUsize::new(0),
            writer: Mutex::new(0),
        }
    }

    #[inline]
    fn table(&self, k: usize) -> Option<&[Entry]> {
        self.tables.get(k)?.get().map(|t| &t[..])
    }

    /// The first `Some` that `at` returns for the positions stored under this hash (the
    /// caller checks the key there), in probe order.
    #[inline]
    pub(crate) fn find<R>(&self, hash: u64, mut at: impl FnMut(usize) -> Option<R>) -> Option<R> {
        let table = self.table(self.current.load(Ordering::Acquire))?;
        let mask = table.len() - 1;
        let mut i = hash as usize & mask;
        // Never full (at most half), so an empty entry ends the probe; the bound is
        // belt and braces.
        for _ in 0..table.len() {
            let e = table.get(i)?;
            let slot = e.slot.load(Ordering::Acquire);
            if slot == 0 {
                return None;
            }
            if e.hash.load(Ordering::Relaxed) == hash {
                if let Some(r) = at(slot - 1) {
                    return Some(r);
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Adds `hash → pos`. The caller makes sure (under its own lock) that no entry for
    /// the same key exists; use [`repoint`](Index::repoint) for a key that has one.
    pub(crate) fn insert(&self, hash: u64, pos: usize) {
        let mut used = self.writer.lock();
        let mut k = self.current.load(Ordering::Relaxed);
        let cap = self.table(k).map_or(0, <[Entry]>::len);
        if (*used + 1) * 2 > cap {
            k = self.grow(k);
        }
        if let Some(table) = self.table(k) {
            place(table, hash, pos + 1);
            *used += 1;
        }
    }

    /// Builds the next table from the current one and publishes it; returns its number.
    #[cold]
    fn grow(&self, k: usize) -> usize {
        let Some(old) = self.table(k) else {
            // First insert: create table 0.
            self.tables[0].get_or_init(|| empty(FIRST));
            return 0;
        };
        let next = k + 1;
        let Some(cell) = self.tables.get(next) else {
            return k;
        };
        let table = cell.get_or_init(|| empty(FIRST << next));
        for e in old {
            let slot = e.slot.load(Ordering::Relaxed);
            if slot != 0 {
                place(table, e.hash.load(Ordering::Relaxed), slot);
            }
        }
        self.current.store(next, Ordering::Release);
        next
    }

    /// Points the entry whose key `is` accepts to `pos` (the key's new value); returns
    /// whether there was such an entry.
    pub(crate) fn repoint(&self, hash: u64, mut is: impl FnMut(usize) -> bool, pos: usize) -> bool {
        let _used = self.writer.lock();
        let Some(table) = self.table(self.current.load(Ordering::Relaxed)) else {
            return false;
        };
        let mask = table.len() - 1;
        let mut i = hash as usize & mask;
        for _ in 0..table.len() {
            let Some(e) = table.get(i) else { return false };
            let slot = e.slot.load(Ordering::Relaxed);
            if slot == 0 {
                return false;
            }
            if e.hash.load(Ordering::Relaxed) == hash && is(slot - 1) {
                e.slot.store(pos + 1, Ordering::Release);
                return true;
            }
            i = (i + 1) & mask;
        }
        false
    }
}

fn empty(len: usize) -> Box<[Entry]> {
    (0..len)
        .map(|_| Entry {
            hash: AtomicU64::new(0),
            slot: AtomicUsize::new(0),
        })
        .collect()
}

/// Writes `(hash, slot)` into the first empty entry of its probe sequence; the table has
/// room (at most half full).
fn place(table: &[Entry], hash: u64, slot: usize) {
    let mask = table.len() - 1;
    let mut i = hash as usize & mask;
    for _ in 0..table.len() {
        if let Some(e) = table.get(i) {
            if e.slot.load(Ordering::Relaxed) == 0 {
                e.hash.store(hash, Ordering::Relaxed);
                e.slot.store(slot, Ordering::Release);
                return;
            }
        }
        i = (i + 1) & mask;
    }
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("entries", &*self.writer.lock())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Keys stored by position, with a weak hash so probes collide a lot.
    fn weak_hash(key: u32) -> u64 {
        u64::from(key % 5)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32),
        Remove(u32),
        Lookup(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..200u32).prop_map(Op::Insert),
            (0..200u32).prop_map(Op::Remove),
            (0..200u32).prop_map(Op::Lookup),
        ]
    }

    proptest! {
        /// The index with append-only storage and tombstones, as a family uses it, against
        /// a `HashMap`.
        #[test]
        fn behaves_like_a_hash_map(ops in proptest::collection::vec(op(), 1..400)) {
            let index = Index::new();
            // (key, removed) by position.
            let mut store: Vec<(u32, bool)> = Vec::new();
            let mut model: HashMap<u32, usize> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k) => {
                        let found = index.find(weak_hash(k), |p| (store[p].0 == k).then_some(p));
                        match found {
                            Some(p) if !store[p].1 => prop_assert_eq!(model.get(&k), Some(&p)),
                            Some(_) => {
                                store.push((k, false));
                                let p = store.len() - 1;
                                prop_assert!(index.repoint(weak_hash(k), |q| store[q].0 == k, p));
                                model.insert(k, p);
                            }
                            None => {
                                prop_assert!(!model.contains_key(&k));
                                store.push((k, false));
                                index.insert(weak_hash(k), store.len() - 1);
                                model.insert(k, store.len() - 1);
                            }
                        }
                    }
                    Op::Remove(k) => {
                        if let Some(p) = index.find(weak_hash(k), |p| (store[p].0 == k).then_some(p)) {
                            store[p].1 = true;
                        }
                        model.remove(&k);
                    }
                    Op::Lookup(k) => {
                        let live = index
                            .find(weak_hash(k), |p| (store[p].0 == k).then_some(p))
                            .filter(|p| !store[*p].1);
                        prop_assert_eq!(live, model.get(&k).copied());
                    }
                }
            }
        }
    }

    #[test]
    fn finds_every_key_while_others_insert() {
        let index = Index::new();
        let keys: Vec<u64> = (0..4000u64)
            .map(|k| k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (index, keys) = (&index, &keys);
                s.spawn(move || {
                    for i in (t..keys.len()).step_by(4) {
                        index.insert(keys[i], i);
                        assert_eq!(index.find(keys[i], |p| (p == i).then_some(p)), Some(i));
                    }
                });
            }
        });
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.find(*k, |p| (p == i).then_some(p)), Some(i));
        }
    }
}

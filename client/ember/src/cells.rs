//! Thread-owned cells: where counters and histograms keep their values.
//!
//! An atomic read-modify-write (`lock xadd`, a compare-and-swap) costs ~9 ns even
//! uncontended, more than everything else a counter increment does. So each thread writes
//! only its own cells, with a relaxed `load` and `store`: one writer per cell means no
//! update is lost, and no read-modify-write is needed. Readers (scrapes) sum a metric's
//! cells over all threads.
//!
//! Layout. A metric owns a range of *slot ids* ([`Slots`], one id per counter, buckets + 1
//! per histogram). Every thread owns an [`Arena`] holding one cell per slot id, in
//! segments of doubling size created on first touch (through `OnceLock`), so a thread
//! pays memory only for the segments it writes and the cells of one metric in different
//! arenas are on different cache lines (no false sharing; segments are padded so no
//! line is shared between two arenas either). A metric costs 8 bytes per thread that
//! writes to its segment, not a cache line per thread.
//!
//! Ownership. An arena is claimed by one thread at a time: a thread takes an idle arena
//! (of a thread that exited) or creates one, and gives it back from a thread-local
//! destructor. The next owner continues from the values it finds, so nothing is lost
//! when threads come and go and the number of arenas is the peak number of threads that
//! wrote metrics, not the total. Arenas are never freed (they are `&'static`, which is
//! what keeps this safe Rust). A thread whose thread-locals are already destroyed (a
//! write from another thread-local's destructor) writes to the shared arena with atomic
//! read-modify-writes instead.
//!
//! Reads never go down: each cell only grows (one writer adding), and arenas are summed
//! in a fixed order with new arenas last. When a metric is dropped, its cells are zeroed
//! in every arena (no thread writes them any more) and the range is reused.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::segments::{SEGMENTS, Segmented, locate, segment_len};

/// Cells in an arena's first segment (4 KiB).
const BASE: usize = 512;
/// Unused cells on each side of a segment's cells: a cache line, so no line holds
/// cells of two arenas.
const PAD: usize = 8;

/// One thread's cells for every slot id.
pub(crate) struct Arena {
    segments: [OnceLock<Box<[AtomicU64]>>; SEGMENTS],
}

impl Arena {
    const fn new() -> Self {
        Arena {
            segments: [const { OnceLock::new() }; SEGMENTS],
        }
    }

    /// Segment `k`, created (zeroed) if it does not exist yet.
    #[inline]
    fn segment(&self, k: usize) -> &[AtomicU64] {
        match self.segments.get(k) {
            Some(s) => s.get_or_init(|| {
                (0..segment_len(k, BASE) + 2 * PAD)
                    .map(|_| AtomicU64::new(0))
                    .collect()
            }),
            None => &[],
        }
    }

    /// Segment `k` if some write created it.
    #[inline]
    fn existing(&self, k: usize) -> Option<&[AtomicU64]> {
        self.segments.get(k)?.get().map(|s| &s[..])
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let live = self.segments.iter().filter(|s| s.get().is_some()).count();
        f.debug_struct("Arena").field("segments", &live).finish()
    }
}

/// Slot-id allocation: a bump pointer that never lets a range straddle two segments,
/// and freed ranges by length.
struct Alloc {
    next: usize,
    free: BTreeMap<usize, Vec<usize>>,
}

struct Store {
    /// Arenas owned (or once owned) by threads, in creation order.
    arenas: Segmented<Arena>,
    /// Written with read-modify-writes by threads that have no arena; one of `arenas`,
    /// created on first use and never handed to a thread.
    shared: OnceLock<&'static Arena>,
    /// Arenas of exited threads, waiting for a new owner.
    idle: Mutex<Vec<&'static Arena>>,
    alloc: Mutex<Alloc>,
}

static STORE: Store = Store {
    arenas: Segmented::new(),
    shared: OnceLock::new(),
    idle: Mutex::new(Vec::new()),
    alloc: Mutex::new(Alloc {
        next: 0,
        free: BTreeMap::new(),
    }),
};

impl Store {
    /// An arena for the calling thread to own: an idle one or a new one.
    fn claim(&'static self) -> &'static Arena {
        if let Some(a) = self.idle.lock().pop() {
            return a;
        }
        self.arenas.push(Arena::new()).1
    }

    /// The arena of threads that have none.
    #[cold]
    fn shared(&'static self) -> &'static Arena {
        self.shared.get_or_init(|| self.arenas.push(Arena::new()).1)
    }
}

/// The calling thread's claim on an arena; gives it back when the thread exits.
struct Local {
    arena: Cell<Option<&'static Arena>>,
}

impl Local {
    #[inline]
    fn arena(&self) -> &'static Arena {
        match self.arena.get() {
            Some(a) => a,
            None => self.claim(),
        }
    }

    #[cold]
    fn claim(&self) -> &'static Arena {
        let a = STORE.claim();
        self.arena.set(Some(a));
        a
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // This thread writes no more (its thread-local is gone; later writes go to the
        // shared arena), so the arena can get its next single owner.
        if let Some(a) = self.arena.take() {
            STORE.idle.lock().push(a);
        }
    }
}

thread_local! {
    static LOCAL: Local = const { Local { arena: Cell::new(None) } };
}

/// A metric's range of slot ids; frees (zeroes) its cells in every arena when dropped.
pub(crate) struct Slots {
    id: usize,
    range: Range,
}

/// Where a [`Slots`]' cells are in every arena: copied into metric handles so a write
/// does not go through the metric's shared core. Valid while its `Slots` lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Range {
    segment: usize,
    /// Index of the first cell inside the segment, padding included.
    start: usize,
    len: usize,
}

impl Slots {
    /// A range of `len` zeroed cells in every arena.
    pub(crate) fn new(len: usize) -> Slots {
        let mut alloc = STORE.alloc.lock();
        let reused = alloc.free.get_mut(&len).and_then(Vec::pop);
        let id = reused.unwrap_or_else(|| {
            loop {
                let (k, off) = locate(alloc.next, BASE);
                let room = segment_len(k, BASE) - off;
                if len <= room {
                    let id = alloc.next;
                    alloc.next += len;
                    break id;
                }
                // Too little left in this segment: skip to the next (bigger) one.
                alloc.next += room;
            }
        });
        let (segment, off) = locate(id, BASE);
        Slots {
            id,
            range: Range {
                segment,
                start: PAD + off,
                len,
            },
        }
    }

    /// Where the cells are.
    #[inline]
    pub(crate) fn range(&self) -> Range {
        self.range
    }
}

impl Range {
    /// The calling thread's cells of this range, to write.
    #[inline]
    pub(crate) fn writer(self) -> Writer<'static> {
        let (arena, shared) = match LOCAL.try_with(Local::arena) {
            Ok(a) => (a, false),
            Err(_) => (STORE.shared(), true),
        };
        let cells = arena
            .segment(self.segment)
            .get(self.start..self.start + self.len)
            .unwrap_or(&[]);
        Writer { cells, shared }
    }

    /// Calls `f` with this range's cells in every arena that has them, in a fixed order
    /// (so float sums only grow as their terms do).
    #[inline]
    pub(crate) fn for_each_arena(self, mut f: impl FnMut(&[AtomicU64])) {
        STORE.arenas.for_each(|arena| {
            if let Some(s) = arena.existing(self.segment) {
                if let Some(cells) = s.get(self.start..self.start + self.len) {
                    f(cells);
                }
            }
        });
    }

    /// Cell `i` summed over all threads, as an integer.
    #[inline]
    pub(crate) fn sum(self, i: usize) -> u64 {
        let mut total = 0u64;
        self.for_each_arena(|c| {
            if let Some(c) = c.get(i) {
                total = total.wrapping_add(c.load(Ordering::Relaxed));
            }
        });
        total
    }

    /// Cell `i` summed over all threads, as a float.
    #[inline]
    pub(crate) fn sum_f64(self, i: usize) -> f64 {
        let mut total = 0.0;
        self.for_each_arena(|c| {
            if let Some(c) = c.get(i) {
                total += f64::from_bits(c.load(Ordering::Relaxed));
            }
        });
        total
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        let mut alloc = STORE.alloc.lock();
        // The metric is gone, so no thread writes these cells: zeroing them here is the
        // last write before the range is handed out again (through `alloc`'s lock).
        self.range.for_each_arena(|cells| {
            for c in cells {
                c.store(0, Ordering::Relaxed);
            }
        });
        alloc.free.entry(self.range.len).or_default().push(self.id);
    }
}

impl fmt::Debug for Slots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slots")
            .field("id", &self.id)
            .field("len", &self.range.len)
            .finish()
    }
}

/// The calling thread's cells of one metric (see [`Slots::writer`]).
#[derive(Clone, Copy)]
pub(crate) struct Writer<'a> {
    cells: &'a [AtomicU64],
    /// The shared arena: other threads write it too, so writes must be RMWs.
    shared: bool,
}

impl Writer<'_> {
    /// Adds `v` to cell `i` (wrapping).
    #[inline]
    pub(crate) fn add(self, i: usize, v: u64) {
        if let Some(c) = self.cells.get(i) {
            if self.shared {
                c.fetch_add(v, Ordering::Relaxed);
            } else {
                // Single writer: nobody else stores to this cell between load and store.
                c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
            }
        }
    }

    /// Adds `v` to cell `i` holding f64 bits.
    #[inline]
    pub(crate) fn add_f64(self, i: usize, v: f64) {
        if let Some(c) = self.cells.get(i) {
            if self.shared {
                add_f64_rmw(c, v);
            } else {
                let new = f64::from_bits(c.load(Ordering::Relaxed)) + v;
                c.store(new.to_bits(), Ordering::Relaxed);
            }
        }
    }
}

/// Atomically adds `v` to an f64 stored as bits (compare-and-swap loop).
#[inline]
pub(crate) fn add_f64_rmw(cell: &AtomicU64, v: f64) {
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(old) + v).to_bits();
        match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(cur) => old = cur,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_threads_sum_exactly() {
        let owner = Slots::new(3);
        let s = owner.range();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        let w = s.writer();
                        w.add(0, 1);
                        w.add(2, 3);
                        w.add_f64(1, 0.5);
                    }
                });
            }
        });
        assert_eq!(
            (s.sum(0), s.sum(2), s.sum_f64(1)),
            (80_000, 240_000, 40_000.0)
        );
    }

    #[test]
    fn exited_threads_hand_their_cells_on_without_loss() {
        let owner = Slots::new(1);
        let s = owner.range();
        for round in 0..50u64 {
            std::thread::scope(|scope| {
                for _ in 0..3 {
                    scope.spawn(|| (0..100).for_each(|_| s.writer().add(0, 1)));
                }
            });
            assert_eq!(s.sum(0), (round + 1) * 300);
        }
        // Threads come and go, arenas are recycled: far fewer than the 150 threads.
        assert!(STORE.arenas.len() < 150, "{}", STORE.arenas.len());
    }

    #[test]
    fn reads_never_go_down_while_threads_write_and_exit() {
        let owner = Slots::new(1);
        let s = owner.range();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut last = 0;
                while !done.load(Ordering::Relaxed) {
                    let now = s.sum(0);
                    assert!(now >= last, "{now} < {last}");
                    last = now;
                }
            });
            for _ in 0..20 {
                std::thread::scope(|inner| {
                    for _ in 0..2 {
                        inner.spawn(|| (0..1000).for_each(|_| s.writer().add(0, 1)));
                    }
                });
            }
            done.store(true, Ordering::Relaxed);
        });
        assert_eq!(s.sum(0), 40_000);
    }

    #[test]
    fn dropped_ranges_come_back_zeroed() {
        let a = Slots::new(5);
        a.range.writer().add(4, 9);
        let id = a.id;
        drop(a);
        let b = Slots::new(5);
        assert_eq!(b.id, id);
        assert_eq!(b.range.sum(4), 0);
    }

    #[test]
    fn ranges_never_straddle_segments() {
        let big: Vec<Slots> = (0..40).map(|_| Slots::new(100)).collect();
        for s in &big {
            let (k, off) = locate(s.id, BASE);
            assert_eq!(k, s.range.segment);
            assert!(off + s.range.len <= segment_len(k, BASE));
        }
        let owner = Slots::new(5000);
        let huge = owner.range();
        huge.writer().add(4999, 1);
        assert_eq!(huge.sum(4999), 1);
    }

    #[test]
    fn writes_from_a_thread_local_destructor_land_in_the_shared_arena() {
        struct Late(std::sync::Arc<Slots>);
        impl Drop for Late {
            fn drop(&mut self) {
                self.0.range().writer().add(0, 1);
            }
        }
        thread_local! {
            static LATE: std::cell::RefCell<Option<Late>> = const { std::cell::RefCell::new(None) };
        }
        let owner = std::sync::Arc::new(Slots::new(1));
        let s = owner.range();
        let s2 = owner.clone();
        std::thread::spawn(move || {
            // Touch the cells first so LOCAL is registered before LATE (destructors run
            // in reverse order of registration on most platforms, either order is fine).
            s2.range().writer().add(0, 1);
            LATE.with(|l| *l.borrow_mut() = Some(Late(s2)));
        })
        .join()
        .unwrap();
        assert_eq!(s.sum(0), 2);
    }
}

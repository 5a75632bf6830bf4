//! Append-only storage whose elements never move: segments of doubling size, each created
//! once through a `OnceLock`, so a `&T` handed out stays valid for as long as the storage
//! lives and readers need nothing but atomic loads.
//!
//! Elements are never removed; what owns a `Segmented` frees them all when it is dropped.
//! This is what lets families return `&M` and lets the cell store hand out `&'static`
//! arenas in safe Rust.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Number of segments: segment `k` holds `base << k` elements, so 48 segments hold more
/// elements than memory can.
pub(crate) const SEGMENTS: usize = 48;

/// Where element `i` lives when segment `k` holds `base << k` elements: `(k, offset)`.
/// `base` must be a power of two.
#[inline]
pub(crate) const fn locate(i: usize, base: usize) -> (usize, usize) {
    let x = i / base + 1;
    let k = (usize::BITS - 1 - x.leading_zeros()) as usize;
    (k, i - base * ((1 << k) - 1))
}

/// Number of elements of segment `k`.
#[inline]
pub(crate) const fn segment_len(k: usize, base: usize) -> usize {
    base << k
}

/// An append-only vector: `push` takes a short lock, `get` only atomic loads, and
/// elements never move or drop before the vector does.
pub(crate) struct Segmented<T> {
    segments: [OnceLock<Box<[OnceLock<T>]>>; SEGMENTS],
    /// Elements `0..len` are set; published with `Release` after each `set`.
    len: AtomicUsize,
    push: Mutex<()>,
}

/// Elements in the first segment.
const BASE: usize = 8;

impl<T> Segmented<T> {
    /// An empty vector (usable in a `static`).
    pub(crate) const fn new() -> Self {
        Segmented {
            segments: [const { OnceLock::new() }; SEGMENTS],
            len: AtomicUsize::new(0),
            push: Mutex::new(()),
        }
    }

    /// Number of elements.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Element `i`, if pushed.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        let (k, off) = locate(i, BASE);
        self.segments.get(k)?.get()?.get(off)?.get()
    }

    /// Appends `value`; returns its index and a reference to it.
    ///
    /// # Panics
    ///
    /// Like `Vec::push` on capacity overflow: if all segments are full, which takes
    /// more than 2^51 elements, beyond the memory of any machine.
    pub(crate) fn push(&self, value: T) -> (usize, &T) {
        let _serial = self.push.lock();
        let i = self.len.load(Ordering::Relaxed);
        let (k, off) = locate(i, BASE);
        #[allow(clippy::expect_used)]
        let segment = self
            .segments
            .get(k)
            .expect("Segmented capacity overflow")
            .get_or_init(|| (0..segment_len(k, BASE)).map(|_| OnceLock::new()).collect());
        // Under `push`, slot `i` is unset (only this function sets slots, in order), so
        // `get_or_init` stores `value`; `off` is inside segment `k` by `locate`.
        let stored = segment[off].get_or_init(|| value);
        self.len.store(i + 1, Ordering::Release);
        (i, stored)
    }

    /// Calls `f` on the elements pushed so far, in push order; faster than
    /// [`iter`](Segmented::iter) on hot read paths (a loop per segment).
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
        let mut left = self.len();
        for segment in &self.segments {
            if left == 0 {
                return;
            }
            let Some(segment) = segment.get() else { return };
            for slot in segment.iter().take(left) {
                if let Some(v) = slot.get() {
                    f(v);
                }
            }
            left = left.saturating_sub(segment.len());
        }
    }

    /// Iterates over the elements pushed so far, in push order.
    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        // Segment by segment: no per-element `locate`.
        self.segments
            .iter()
            .map_while(OnceLock::get)
            .flat_map(|segment| segment.iter())
            .take(self.len())
            .filter_map(OnceLock::get)
    }
}

impl<T> Default for Segmented<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for Segmented<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_covers_every_index_once() {
        let mut expected = (0, 0);
        for i in 0..10_000 {
            assert_eq!(locate(i, 8), expected, "index {i}");
            expected.1 += 1;
            if expected.1 == segment_len(expected.0, 8) {
                expected = (expected.0 + 1, 0);
            }
        }
    }

    #[test]
    fn elements_stay_put_while_pushing_from_threads() {
        let v = Segmented::new();
        std::thread::scope(|s| {
            for t in 0..4 {
                let v = &v;
                s.spawn(move || {
                    for i in 0..1000 {
                        v.push(t * 1000 + i);
                    }
                });
            }
        });
        let mut all: Vec<usize> = v.iter().copied().collect();
        let mut each = Vec::new();
        v.for_each(|x| each.push(*x));
        assert_eq!(all, each);
        all.sort_unstable();
        assert_eq!(all, (0..4000).collect::<Vec<_>>());
    }
}

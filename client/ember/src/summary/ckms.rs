//! The CKMS targeted-quantiles sketch ("Effective Computation of Biased Quantiles over
//! Data Streams", Cormode, Korn, Muthukrishnan, Srivastava), ported from beorn7/perks
//! `quantile/stream.go`, the package client_golang uses, including its query rule and its
//! exact answer for streams that have not been compressed yet.

use std::cmp::Ordering;
use std::sync::Arc;

/// perks' buffer size: values are sorted and merged in batches of this many.
const STREAM_BUF: usize = 500;

/// A quantile to estimate and its allowed absolute error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Target {
    pub(super) quantile: f64,
    pub(super) error: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    value: f64,
    width: f64,
    delta: f64,
}

/// Orders values with NaN above everything, so a NaN observation has a defined rank.
fn cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The targeted invariant ƒ(r, n): the allowed width around rank `r` of `n`.
fn invariant(targets: &[Target], n: f64, r: f64) -> f64 {
    let mut m = f64::MAX;
    for t in targets {
        let f = if t.quantile * n <= r {
            2.0 * t.error * r / t.quantile
        } else {
            2.0 * t.error * (n - r) / (1.0 - t.quantile)
        };
        // NaN (0/0 at rank 0 of quantile 0) is skipped, as in perks.
        if f < m {
            m = f;
        }
    }
    m
}

#[derive(Debug)]
pub(super) struct Stream {
    targets: Arc<[Target]>,
    /// Smallest and largest value since the last reset, for exact 0- and 1-quantiles:
    /// the targeted invariant puts no bound on the ranks next to them.
    min: f64,
    max: f64,
    /// Number of values merged into `list`.
    n: f64,
    /// The compressed summary, sorted by value.
    list: Vec<Sample>,
    /// Values not yet merged.
    buf: Vec<Sample>,
    sorted: bool,
}

impl Stream {
    pub(super) fn new(targets: Arc<[Target]>) -> Self {
        Stream {
            targets,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            n: 0.0,
            list: Vec::new(),
            buf: Vec::with_capacity(STREAM_BUF),
            sorted: true,
        }
    }

    pub(super) fn insert(&mut self, value: f64) {
        if cmp(value, self.min) == Ordering::Less {
            self.min = value;
        }
        if cmp(value, self.max) == Ordering::Greater {
            self.max = value;
        }
        self.buf.push(Sample {
            value,
            width: 1.0,
            delta: 0.0,
        });
        self.sorted = false;
        if self.buf.len() >= STREAM_BUF {
            self.flush();
        }
    }

    pub(super) fn count(&self) -> usize {
        // `n` counts whole values, far below 2^53.
        self.buf.len() + self.n as usize
    }

    pub(super) fn reset(&mut self) {
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
        self.list.clear();
        self.buf.clear();
        self.n = 0.0;
    }

    /// The estimated `q`-quantile; 0 for an empty stream, as perks. Quantiles 0 and 1
    /// are the exact minimum and maximum (perks answers them from ranks the invariant
    /// does not bound, up to the maximum for 0).
    pub(super) fn query(&mut self, q: f64) -> f64 {
        if self.count() > 0 && q <= 0.0 {
            return self.min;
        }
        if self.count() > 0 && q >= 1.0 {
            return self.max;
        }
        if self.list.is_empty() {
            // Not compressed yet: answer exactly from the buffer.
            let len = self.buf.len();
            if len == 0 {
                return 0.0;
            }
            let i = ((len as f64 * q).ceil() as usize).saturating_sub(1);
            self.maybe_sort();
            return self.buf.get(i.min(len - 1)).map_or(f64::NAN, |s| s.value);
        }
        self.flush();
        let mut t = (q * self.n).ceil();
        t += (invariant(&self.targets, self.n, t) / 2.0).ceil();
        let Some((first, rest)) = self.list.split_first() else {
            return 0.0;
        };
        let mut p = first;
        let mut r = 0.0;
        for c in rest {
            r += p.width;
            if r + c.width + c.delta > t {
                return p.value;
            }
            p = c;
        }
        p.value
    }

    fn maybe_sort(&mut self) {
        if !self.sorted {
            self.sorted = true;
            self.buf.sort_by(|a, b| cmp(a.value, b.value));
        }
    }

    fn flush(&mut self) {
        self.maybe_sort();
        let buf = std::mem::take(&mut self.buf);
        self.merge(&buf);
        self.buf = buf;
        self.buf.clear();
    }

    /// Merges sorted samples into the list, then compresses it.
    fn merge(&mut self, samples: &[Sample]) {
        let mut r = 0.0;
        let mut i = 0;
        for s in samples {
            let mut inserted = false;
            while let Some(c) = self.list.get(i) {
                if cmp(c.value, s.value) == Ordering::Greater {
                    let f = invariant(&self.targets, self.n, r);
                    let delta = s.delta.max(f.floor() - 1.0);
                    self.list.insert(
                        i,
                        Sample {
                            value: s.value,
                            width: s.width,
                            delta,
                        },
                    );
                    i += 1;
                    inserted = true;
                    break;
                }
                r += c.width;
                i += 1;
            }
            if !inserted {
                self.list.push(Sample {
                    value: s.value,
                    width: s.width,
                    delta: 0.0,
                });
                i += 1;
            }
            self.n += s.width;
            r += s.width;
        }
        self.compress();
    }

    /// perks' compress, walking from the top and folding a sample into the one above it
    /// while the invariant allows; done in one pass instead of removing one by one.
    fn compress(&mut self) {
        let len = self.list.len();
        if len < 2 {
            return;
        }
        let mut w = len - 1;
        let mut x = self.list[w];
        let mut r = self.n - 1.0 - x.width;
        for i in (0..len - 1).rev() {
            let c = self.list[i];
            if c.width + x.width + x.delta <= invariant(&self.targets, self.n, r) {
                x.width += c.width;
            } else {
                // w > i always holds, so slot w has been read already.
                self.list[w] = x;
                w -= 1;
                x = c;
            }
            r -= c.width;
        }
        self.list[w] = x;
        self.list.drain(..w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// perks' compress as written in Go, removing one sample at a time.
    fn perks_compress(targets: &[Target], n: f64, l: &mut Vec<Sample>) {
        if l.len() < 2 {
            return;
        }
        let mut xi = l.len() - 1;
        let mut x = l[xi];
        let mut r = n - 1.0 - x.width;
        for i in (0..l.len() - 1).rev() {
            let c = l[i];
            if c.width + x.width + x.delta <= invariant(targets, n, r) {
                x.width += c.width;
                l[xi] = x;
                l.remove(i);
                xi -= 1;
            } else {
                x = c;
                xi = i;
            }
            r -= c.width;
        }
    }

    #[test]
    fn one_pass_compress_equals_perks() {
        let targets: Arc<[Target]> = [(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)]
            .iter()
            .map(|&(quantile, error)| Target { quantile, error })
            .collect();
        let mut seed = 1u64;
        let mut next = move |m: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % m
        };
        for len in [0, 1, 2, 3, 10, 100, 1000, 5000] {
            let list: Vec<Sample> = (0..len)
                .map(|i| Sample {
                    value: i as f64,
                    width: (1 + next(4)) as f64,
                    delta: next(30) as f64,
                })
                .collect();
            let n = list.iter().map(|s| s.width).sum();
            let mut stream = Stream::new(targets.clone());
            stream.list = list.clone();
            stream.n = n;
            stream.compress();
            let mut expected = list;
            perks_compress(&targets, n, &mut expected);
            assert_eq!(stream.list, expected, "len {len}");
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let targets: Arc<[Target]> = [(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)]
            .iter()
            .map(|&(quantile, error)| Target { quantile, error })
            .collect();
        let mut stream = Stream::new(targets);
        for i in 0..200_000u32 {
            stream.insert(f64::from(i.wrapping_mul(2_654_435_761) % 100_000));
        }
        stream.flush();
        assert_eq!(stream.count(), 200_000);
        assert!(stream.list.len() < 2_000, "{}", stream.list.len());
    }
}

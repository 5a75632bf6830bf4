//! A scrape loop's memory of its target's series, kept small because it lives as long as
//! the target: the raw text of each series of the last successful parse (`name{labels`,
//! as the body wrote it), back to back in one buffer, in the body's order, each with the
//! loop's handle for the series. A target lists its series in the same order scrape after
//! scrape, so the next sample is predicted to be the next of these and checked by one
//! comparison; only when the order changes is a hash table over the texts built.
//!
//! The series' labels are not kept here: the loop binds each new handle to its labels in
//! the store ([`crate::Appender::bind`]) and derives them again from the raw text in the
//! rare case the store loses them ([`labels_from_key`]).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::labels::Labels;

/// Hash state for raw series texts: foldhash, several times faster than SipHash.
pub(crate) type FastState = foldhash::fast::RandomState;

/// The handle of a raw series text that relabeling dropped.
pub(crate) const DROPPED: u32 = u32::MAX;

/// Raw series texts with their handles, in the order a body listed them, front coded:
/// each text is stored as the length of the prefix it shares with the text before it and
/// the bytes after that prefix (series of one family share most of their text, so this
/// holds a fraction of the texts' bytes).
#[derive(Debug, Default)]
pub(crate) struct Order {
    /// The unshared rest of each text, back to back.
    suffixes: Vec<u8>,
    entries: Vec<OrderEntry>,
    /// The whole text of the last entry (what the next push shares a prefix with).
    last: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct OrderEntry {
    /// End of the entry's rest in `suffixes`.
    end: u32,
    handle: u32,
    /// Bytes shared with the previous entry's text.
    shared: u16,
}

/// The raw texts of one scrape exceed what [`Order`] indexes (4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OrderFull;

impl Order {
    /// Number of series.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The handle of entry `i`.
    pub(crate) fn handle(&self, i: usize) -> u32 {
        self.entries[i].handle
    }

    /// The handles, in order.
    pub(crate) fn handles(&self) -> impl Iterator<Item = u32> + '_ {
        self.entries.iter().map(|e| e.handle)
    }

    /// The shared prefix length and unshared rest of entry `i`.
    fn parts(&self, i: usize) -> (usize, &[u8]) {
        let start = i.checked_sub(1).map_or(0, |p| self.entries[p].end as usize);
        let e = self.entries[i];
        (usize::from(e.shared), &self.suffixes[start..e.end as usize])
    }

    /// Whether entry `i`'s text is `key`, given `previous`, the whole text of entry
    /// `i - 1` (empty for the first).
    pub(crate) fn is(&self, i: usize, previous: &[u8], key: &[u8]) -> bool {
        let (shared, rest) = self.parts(i);
        key.len() == shared + rest.len()
            && previous.get(..shared) == Some(&key[..shared])
            && key[shared..] == *rest
    }

    /// Entry `i`'s whole text into `out`, given `previous` as for [`Order::is`].
    pub(crate) fn text_into(&self, i: usize, previous: &[u8], out: &mut Vec<u8>) {
        let (shared, rest) = self.parts(i);
        out.clear();
        out.extend_from_slice(&previous[..shared.min(previous.len())]);
        out.extend_from_slice(rest);
    }

    /// Calls `f` with each entry's index, whole text and handle, in order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, &[u8], u32)) {
        let mut text = Vec::new();
        for i in 0..self.entries.len() {
            let (shared, rest) = self.parts(i);
            text.truncate(shared);
            text.extend_from_slice(rest);
            f(i, &text, self.entries[i].handle);
        }
    }

    /// Appends a series.
    pub(crate) fn push(&mut self, key: &[u8], handle: u32) -> Result<(), OrderFull> {
        let shared = self
            .last
            .iter()
            .zip(key)
            .take_while(|(a, b)| a == b)
            .count()
            .min(usize::from(u16::MAX));
        let rest = &key[shared..];
        let end = u32::try_from(self.suffixes.len() + rest.len()).map_err(|_| OrderFull)?;
        self.suffixes.extend_from_slice(rest);
        self.entries.push(OrderEntry {
            end,
            handle,
            shared: shared as u16,
        });
        self.last.truncate(shared);
        self.last.extend_from_slice(rest);
        Ok(())
    }

    /// The first `n` entries, as a new order (sized for `capacity` entries).
    pub(crate) fn prefix(&self, n: usize, capacity: usize) -> Order {
        let n = n.min(self.entries.len());
        let bytes = n.checked_sub(1).map_or(0, |i| self.entries[i].end as usize);
        let mut suffixes = Vec::with_capacity(self.suffixes.len().max(bytes));
        suffixes.extend_from_slice(&self.suffixes[..bytes]);
        let mut entries = Vec::with_capacity(capacity.max(n));
        entries.extend_from_slice(&self.entries[..n]);
        let mut last = Vec::new();
        self.for_each(|i, text, _| {
            if i + 1 == n {
                last.extend_from_slice(text);
            }
        });
        Order {
            suffixes,
            entries,
            last,
        }
    }

    /// Gives back the buffers' spare capacity (an order lives as long as its target).
    pub(crate) fn shrink(&mut self) {
        self.suffixes.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.last.shrink_to_fit();
    }
}

/// The entries of an [`Order`] by whole text, for a parse that left the order.
#[derive(Debug)]
pub(crate) struct Lookup {
    texts: Vec<u8>,
    ends: Vec<u32>,
    table: HashTable<u32>,
}

impl Lookup {
    pub(crate) fn new(order: &Order, hasher: &FastState) -> Lookup {
        let mut texts = Vec::new();
        let mut ends = Vec::with_capacity(order.len());
        order.for_each(|_, text, _| {
            texts.extend_from_slice(text);
            ends.push(texts.len() as u32);
        });
        let mut table = HashTable::with_capacity(ends.len());
        for i in 0..ends.len() {
            let h = hasher.hash_one(text_of(&texts, &ends, i));
            table.insert_unique(h, i as u32, |&j| {
                hasher.hash_one(text_of(&texts, &ends, j as usize))
            });
        }
        Lookup { texts, ends, table }
    }

    /// The index of an entry whose text is `key`, if any.
    pub(crate) fn find(&self, hasher: &FastState, key: &[u8]) -> Option<usize> {
        self.table
            .find(hasher.hash_one(key), |&j| {
                text_of(&self.texts, &self.ends, j as usize) == key
            })
            .map(|&j| j as usize)
    }
}

fn text_of<'t>(texts: &'t [u8], ends: &[u32], i: usize) -> &'t [u8] {
    let start = i.checked_sub(1).map_or(0, |p| ends[p] as usize);
    &texts[start..ends[i] as usize]
}

/// The metric name of a raw series text (`name{labels` or `name`).
pub(crate) fn name_of(key: &[u8]) -> &str {
    let end = key.iter().position(|&b| b == b'{').unwrap_or(key.len());
    std::str::from_utf8(&key[..end]).unwrap_or_default()
}

/// The scraped labels (with `__name__`) of a raw series text, parsed again as the text
/// format reads them; `None` if it does not parse (it always does for a text taken from
/// a body that parsed).
pub(crate) fn labels_from_key(key: &[u8]) -> Option<Labels> {
    let mut line = Vec::with_capacity(key.len() + 4);
    line.extend_from_slice(key);
    if key.contains(&b'{') {
        line.push(b'}');
    }
    line.extend_from_slice(b" 0\n");
    match ember_expfmt::TextParser::new(&line).next()? {
        Ok(ember_expfmt::Entry::Sample(s)) => Some(Labels::from_pairs(
            s.labels
                .to_vec()
                .into_iter()
                .chain([("__name__".to_owned(), s.name.to_owned())]),
        )),
        _ => None,
    }
}

/// One handle's state in the loop.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Slot {
    /// The last parse (loop iteration) that saw it.
    pub(crate) seen: u32,
    /// The last write (loop generation) that appended it.
    pub(crate) written: u32,
    /// The timestamp it was last appended with.
    pub(crate) t: i64,
}

/// Handles and their state, reused after they are freed.
#[derive(Debug, Default)]
pub(crate) struct Handles {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Handles {
    /// A new handle (a freed one if any).
    pub(crate) fn create(&mut self) -> u32 {
        match self.free.pop() {
            Some(h) => {
                self.slots[h as usize] = Slot::default();
                h
            }
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Frees a handle for reuse (the caller frees each handle once).
    pub(crate) fn free(&mut self, h: u32) {
        if (h as usize) < self.slots.len() {
            self.free.push(h);
        }
    }

    pub(crate) fn get(&self, h: u32) -> Option<&Slot> {
        self.slots.get(h as usize)
    }

    pub(crate) fn get_mut(&mut self, h: u32) -> Option<&mut Slot> {
        self.slots.get_mut(h as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(o: &Order) -> Vec<(Vec<u8>, u32)> {
        let mut out = Vec::new();
        o.for_each(|_, t, h| out.push((t.to_vec(), h)));
        out
    }

    #[test]
    fn order_front_codes_finds_keys_and_keeps_prefixes() {
        let mut o = Order::default();
        let keys: [&[u8]; 4] = [b"a{x=\"1\"", b"a{x=\"12\"", b"b", b"a{x=\"1\""];
        for (h, k) in keys.iter().enumerate() {
            o.push(k, h as u32).unwrap();
        }
        assert_eq!(o.len(), 4);
        assert_eq!(
            texts(&o),
            keys.iter()
                .enumerate()
                .map(|(h, k)| (k.to_vec(), h as u32))
                .collect::<Vec<_>>()
        );
        // Shared prefixes are not stored twice.
        assert_eq!(o.suffixes.len(), 7 + 2 + 1 + 7);
        assert!(o.is(1, keys[0], keys[1]));
        assert!(!o.is(1, keys[0], keys[0]));
        assert!(!o.is(1, b"", keys[1]));
        assert!(o.is(0, b"", keys[0]));
        let mut out = Vec::new();
        o.text_into(1, keys[0], &mut out);
        assert_eq!(out, keys[1]);
        assert_eq!(o.handle(2), 2);
        let hasher = FastState::default();
        let l = Lookup::new(&o, &hasher);
        assert_eq!(l.find(&hasher, b"b"), Some(2));
        assert_eq!(l.find(&hasher, b"a{x=\"12\""), Some(1));
        assert_eq!(l.find(&hasher, b"a{x=\"2\""), None);
        let mut p = o.prefix(2, 10);
        assert_eq!(texts(&p), texts(&o)[..2].to_vec());
        // Pushing after a prefix shares with the prefix's last text.
        p.push(b"a{x=\"123\"", 9).unwrap();
        assert_eq!(texts(&p)[2], (b"a{x=\"123\"".to_vec(), 9));
        assert_eq!(p.handles().collect::<Vec<_>>(), [0, 1, 9]);
    }

    proptest::proptest! {
        #[test]
        fn front_coding_gives_back_every_text(
            keys in proptest::collection::vec("[ab]{0,3}\\{?[xy=\"12]{0,6}", 0..30),
            n in 0usize..30,
        ) {
            let mut o = Order::default();
            for (h, k) in keys.iter().enumerate() {
                o.push(k.as_bytes(), h as u32).unwrap();
            }
            let want: Vec<(Vec<u8>, u32)> = keys
                .iter()
                .enumerate()
                .map(|(h, k)| (k.as_bytes().to_vec(), h as u32))
                .collect();
            proptest::prop_assert_eq!(texts(&o), want.clone());
            let mut previous: &[u8] = b"";
            for (i, (k, _)) in want.iter().enumerate() {
                proptest::prop_assert!(o.is(i, previous, k));
                previous = k;
            }
            let p = o.prefix(n, 0);
            proptest::prop_assert_eq!(texts(&p), want[..n.min(want.len())].to_vec());
        }
    }

    #[test]
    fn raw_texts_give_back_their_labels_and_names() {
        let l = labels_from_key(br##"http_requests_total{code="200",path="/a \"b\"""##).unwrap();
        assert_eq!(l.get("__name__"), "http_requests_total");
        assert_eq!(l.get("path"), "/a \"b\"");
        assert_eq!(l.get("code"), "200");
        assert_eq!(labels_from_key(b"up").unwrap().get("__name__"), "up");
        assert_eq!(name_of(b"up"), "up");
        assert_eq!(name_of(br#"a_total{x="{"}"#), "a_total");
    }

    #[test]
    fn handles_are_reused_after_free() {
        let mut h = Handles::default();
        let (a, b) = (h.create(), h.create());
        assert_eq!((a, b), (0, 1));
        h.get_mut(a).unwrap().written = 7;
        h.free(a);
        assert_eq!(h.create(), a);
        assert_eq!(h.get(a).unwrap().written, 0);
        assert_eq!(h.create(), 2);
    }
}

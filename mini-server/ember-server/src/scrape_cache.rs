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

/// Raw series texts with their handles, in the order a body listed them.
#[derive(Debug, Default)]
pub(crate) struct Order {
    /// The raw texts, back to back.
    keys: Vec<u8>,
    /// Per series: the end of its raw text in `keys` and its handle.
    entries: Vec<(u32, u32)>,
    /// Entry indexes by raw text; built on first [`Order::find`], dropped on change.
    table: Option<HashTable<u32>>,
}

/// The raw texts of one scrape exceed what [`Order`] indexes (4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OrderFull;

impl Order {
    /// Number of series.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The raw text of entry `i`.
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        key_of(&self.keys, &self.entries, i)
    }

    /// The handle of entry `i`.
    pub(crate) fn handle(&self, i: usize) -> u32 {
        self.entries[i].1
    }

    /// The entries, as `(raw text, handle)`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], u32)> {
        (0..self.entries.len()).map(|i| (self.key(i), self.entries[i].1))
    }

    /// Appends a series.
    pub(crate) fn push(&mut self, key: &[u8], handle: u32) -> Result<(), OrderFull> {
        let end = u32::try_from(self.keys.len() + key.len()).map_err(|_| OrderFull)?;
        self.keys.extend_from_slice(key);
        self.entries.push((end, handle));
        self.table = None;
        Ok(())
    }

    /// The first `n` entries, as a new order (sized for `capacity` entries).
    pub(crate) fn prefix(&self, n: usize, capacity: usize) -> Order {
        let n = n.min(self.entries.len());
        let bytes = n.checked_sub(1).map_or(0, |i| self.entries[i].0 as usize);
        let mut keys = Vec::with_capacity(self.keys.len().max(bytes));
        keys.extend_from_slice(&self.keys[..bytes]);
        let mut entries = Vec::with_capacity(capacity.max(n));
        entries.extend_from_slice(&self.entries[..n]);
        Order {
            keys,
            entries,
            table: None,
        }
    }

    /// Gives back the buffers' spare capacity (an order lives as long as its target).
    pub(crate) fn shrink(&mut self) {
        self.keys.shrink_to_fit();
        self.entries.shrink_to_fit();
    }

    /// The index of an entry whose raw text is `key`, if any.
    pub(crate) fn find(&mut self, hasher: &FastState, key: &[u8]) -> Option<usize> {
        let (keys, entries) = (&self.keys, &self.entries);
        let table = self.table.get_or_insert_with(|| {
            let mut t = HashTable::with_capacity(entries.len());
            for i in 0..entries.len() {
                let h = hasher.hash_one(key_of(keys, entries, i));
                t.insert_unique(h, i as u32, |&j| {
                    hasher.hash_one(key_of(keys, entries, j as usize))
                });
            }
            t
        });
        table
            .find(hasher.hash_one(key), |&j| {
                key_of(keys, entries, j as usize) == key
            })
            .map(|&j| j as usize)
    }
}

fn key_of<'k>(keys: &'k [u8], entries: &[(u32, u32)], i: usize) -> &'k [u8] {
    let start = i.checked_sub(1).map_or(0, |p| entries[p].0 as usize);
    &keys[start..entries[i].0 as usize]
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

    #[test]
    fn order_finds_keys_and_keeps_prefixes() {
        let mut o = Order::default();
        o.push(b"a{x=\"1\"", 0).unwrap();
        o.push(b"b", 1).unwrap();
        o.push(b"c{y=\"2\"", 2).unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o.key(1), b"b");
        assert_eq!(o.handle(2), 2);
        let hasher = FastState::default();
        assert_eq!(o.find(&hasher, b"c{y=\"2\""), Some(2));
        assert_eq!(o.find(&hasher, b"a{x=\"1\""), Some(0));
        assert_eq!(o.find(&hasher, b"a{x=\"2\""), None);
        let p = o.prefix(2, 10);
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            [(&b"a{x=\"1\""[..], 0), (&b"b"[..], 1)]
        );
        // A push drops the table; the next find rebuilds it.
        o.push(b"d", 3).unwrap();
        assert_eq!(o.find(&hasher, b"d"), Some(3));
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

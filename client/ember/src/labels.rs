//! Label sets of families: typed structs (derived) or arrays of strings.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};

/// The labels that identify one series of a [`Family`](crate::Family).
///
/// Derive it for a struct whose fields are label values (`#[derive(LabelSet)]`, with
/// `Clone, PartialEq, Eq, Hash`); the field names are the label names, checked at
/// compile time. `[String; N]` implements it too, with names given to
/// [`Family::with_label_names`](crate::Family::with_label_names).
///
/// ```
/// use ember::{Counter, Family, LabelSet, LabelValue};
///
/// #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelValue)]
/// enum Method { Get, Post }
///
/// #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
/// struct Request { method: Method, status: u16 }
///
/// let requests: Family<Request, Counter> = Family::new();
/// requests.get_or_create(&Request { method: Method::Get, status: 200 }).inc();
/// let mut enc = ember_expfmt::Encoder::new(ember_expfmt::Format::Text);
/// let mut fam = enc.family("requests", "", ember_expfmt::MetricType::Counter, None);
/// ember::EncodeMetric::encode(&requests, &mut fam, "");
/// assert_eq!(
///     String::from_utf8(enc.finish()).unwrap(),
///     "# TYPE requests_total counter\nrequests_total{method=\"Get\",status=\"200\"} 1\n"
/// );
/// ```
pub trait LabelSet: Clone + Eq + Hash + Send + Sync + 'static {
    /// The label values in the order of the names.
    fn label_values(&self) -> Vec<Cow<'_, str>>;
}

/// A [`LabelSet`] whose names are known at compile time (what `#[derive(LabelSet)]`
/// implements).
pub trait StaticLabelSet: LabelSet {
    /// Label names, in field order.
    const NAMES: &'static [&'static str];
}

/// A type usable as a label value in a derived [`LabelSet`].
///
/// Implemented for strings, integers, `bool` and `char`; derive it for fieldless enums
/// (`#[derive(LabelValue)]`, the variant name is the value unless renamed with
/// `#[label(rename = "...")]` or `#[label(rename_all = "lowercase")]` on the enum).
pub trait LabelValue {
    /// The value as it appears in the exposition.
    fn label_value(&self) -> Cow<'_, str>;
}

impl LabelValue for String {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for &'static str {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for Cow<'static, str> {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for Box<str> {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for std::sync::Arc<str> {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl<T: LabelValue> LabelValue for Option<T> {
    /// `None` is the empty value, which Prometheus treats as an absent label.
    fn label_value(&self) -> Cow<'_, str> {
        self.as_ref()
            .map_or(Cow::Borrowed(""), LabelValue::label_value)
    }
}

macro_rules! display_label_value {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            fn label_value(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}
display_label_value!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, char
);

impl<const N: usize> LabelSet for [String; N] {
    fn label_values(&self) -> Vec<Cow<'_, str>> {
        self.iter().map(|s| Cow::Borrowed(s.as_str())).collect()
    }
}

/// Label values a family compares as packed words instead of strings (see
/// [`pack_values`]).
pub(crate) const PACKED: usize = 4;

/// [`pack_values`]' first word when the values cannot be packed.
pub(crate) const NOT_PACKED: u64 = u64::MAX;

/// A label value of up to 7 bytes packed exactly into a `u64`: the bytes, then the
/// length in the top byte. `None` for longer values.
#[inline]
pub(crate) fn pack_value(v: &str) -> Option<u64> {
    let b = v.as_bytes();
    let len = b.len();
    // Indexing below stays within `len` in each arm; overlapping reads write the same
    // byte to the same place, so the packing is exact.
    let bytes = match len {
        0 => 0,
        1..=3 => {
            u64::from(b[0])
                | u64::from(b[len / 2]) << (8 * (len / 2))
                | u64::from(b[len - 1]) << (8 * (len - 1))
        }
        4..=7 => {
            u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                | u64::from(u32::from_le_bytes([
                    b[len - 4],
                    b[len - 3],
                    b[len - 2],
                    b[len - 1],
                ])) << (8 * (len - 4))
        }
        _ => return None,
    };
    Some(bytes | (len as u64) << 56)
}

/// Up to [`PACKED`] label values packed by [`pack_value`], unused words zero; the first
/// word is [`NOT_PACKED`] if there are more values or one is longer than 7 bytes. Two
/// packable value lists are equal exactly when their packed words are, which a family
/// compares without touching the strings.
#[inline]
pub(crate) fn pack_values<'a>(values: impl ExactSizeIterator<Item = &'a str>) -> [u64; PACKED] {
    let mut out = [0; PACKED];
    if values.len() > PACKED {
        out[0] = NOT_PACKED;
        return out;
    }
    for (o, v) in out.iter_mut().zip(values) {
        match pack_value(v) {
            Some(w) => *o = w,
            None => return [NOT_PACKED, 0, 0, 0],
        }
    }
    out
}

/// Hashes string label values for `[String; N]` families, the same for `[&str; N]` probes
/// and stored `[String; N]` keys. A value of up to 7 bytes goes into the hasher as its
/// packed `u64`, which foldhash buffers without a multiply, so two short values cost one
/// fold in `finish`; [`hash_packed`] gives the same hash from the packed words.
#[inline]
pub(crate) fn hash_label_values<'a>(
    builder: &impl BuildHasher,
    values: impl Iterator<Item = &'a str>,
) -> u64 {
    let mut h = builder.build_hasher();
    for v in values {
        match pack_value(v) {
            Some(w) => h.write_u64(w),
            None => {
                h.write(v.as_bytes());
                h.write_usize(v.len());
            }
        }
    }
    h.finish()
}

/// [`hash_label_values`] of values that all packed, from their words.
#[inline]
pub(crate) fn hash_packed(builder: &impl BuildHasher, words: &[u64]) -> u64 {
    let mut h = builder.build_hasher();
    for w in words {
        h.write_u64(*w);
    }
    h.finish()
}

/// Whether two label values are equal; values of up to 16 bytes are compared inline
/// (overlapping word reads) instead of through a `memcmp` call, which costs more than
/// the rest of a family lookup.
#[inline]
pub(crate) fn label_value_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let len = a.len();
    if len != b.len() {
        return false;
    }
    // Indexing below stays within `len` in each arm.
    match len {
        0 => true,
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=8 => {
            let w = |s: &[u8], i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
            w(a, 0) == w(b, 0) && w(a, len - 4) == w(b, len - 4)
        }
        9..=16 => {
            let w = |s: &[u8], i: usize| {
                u64::from_le_bytes([
                    s[i],
                    s[i + 1],
                    s[i + 2],
                    s[i + 3],
                    s[i + 4],
                    s[i + 5],
                    s[i + 6],
                    s[i + 7],
                ])
            };
            w(a, 0) == w(b, 0) && w(a, len - 8) == w(b, len - 8)
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_values_hash_alike_as_str_and_string() {
        let b = hashbrown::DefaultHashBuilder::default();
        for v in [
            "",
            "a",
            "ab",
            "GET",
            "POST",
            "12345",
            "abcdefg",
            "a longer label value",
        ] {
            let owned = [v.to_string(), "200".to_string()];
            assert_eq!(
                hash_label_values(&b, [v, "200"].into_iter()),
                hash_label_values(&b, owned.iter().map(String::as_str)),
            );
        }
        let h = |vals: [&str; 2]| hash_label_values(&b, vals.into_iter());
        assert_ne!(h(["GET", "200"]), h(["GET", "201"]));
        assert_ne!(h(["ab", "c"]), h(["a", "bc"]));
        let words = pack_values(["GET", "200"].into_iter());
        assert_eq!(hash_packed(&b, &words[..2]), h(["GET", "200"]));
    }

    #[test]
    fn packing_is_exact_up_to_seven_bytes() {
        let values: Vec<String> = (0..9)
            .flat_map(|n| {
                (0..n + 1).map(move |z| {
                    (0..n)
                        .map(|i| {
                            if i == z {
                                'Z'
                            } else {
                                char::from(b'a' + i as u8)
                            }
                        })
                        .collect()
                })
            })
            .collect();
        for a in &values {
            for b in &values {
                match (pack_value(a), pack_value(b)) {
                    (Some(x), Some(y)) => assert_eq!(x == y, a == b, "{a:?} {b:?}"),
                    (x, _) => assert_eq!(x.is_none(), a.len() > 7),
                }
            }
        }
        assert_eq!(pack_values(["a"; 5].into_iter())[0], NOT_PACKED);
        assert_eq!(pack_values(["a", "eight by"].into_iter())[0], NOT_PACKED);
    }

    #[test]
    fn label_value_eq_agrees_with_str_eq() {
        let values: Vec<String> = (0..40)
            .flat_map(|n| {
                let base: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
                let mut changed: Vec<String> = (0..n)
                    .map(|i| {
                        let mut v = base.clone().into_bytes();
                        v[i] = b'Z';
                        String::from_utf8(v).unwrap()
                    })
                    .collect();
                changed.push(base);
                changed
            })
            .collect();
        for a in &values {
            for b in &values {
                assert_eq!(label_value_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}

//! Label sets of families: typed structs (derived) or arrays of strings.

use std::borrow::Cow;
use std::hash::Hash;

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

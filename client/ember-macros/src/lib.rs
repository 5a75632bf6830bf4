//! Proc-macros of the ember client library. Use them through `ember`, which re-exports
//! them:
//!
//! | macro | what |
//! |---|---|
//! | `#[derive(LabelSet)]` | a struct of label values as a family's typed label set |
//! | `#[derive(LabelValue)]` | a fieldless enum as a label value |
//!
//! ```
//! use ember::{Counter, Family, LabelSet, LabelValue};
//!
//! #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelValue)]
//! #[label(rename_all = "lowercase")]
//! enum Method { Get, Post }
//!
//! #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
//! struct Labels {
//!     method: Method,
//!     #[label(rename = "code")]
//!     status: u16,
//! }
//!
//! let f: Family<Labels, Counter> = Family::new();
//! f.get_or_create(&Labels { method: Method::Post, status: 201 }).inc();
//! assert_eq!(<Labels as ember::StaticLabelSet>::NAMES, ["method", "code"]);
//! ```

mod attr;
mod expand;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `ember::LabelSet` and `ember::StaticLabelSet` for a struct with named
/// fields; field names (or `#[label(rename = "...")]`) are the label names, checked here.
#[proc_macro_derive(LabelSet, attributes(label))]
pub fn derive_label_set(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    attr::label_set(&input)
        .map(|spec| expand::label_set(&input, &spec))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `ember::LabelValue` for a fieldless enum: the variant name, or
/// `#[label(rename = "...")]` on a variant, or `#[label(rename_all = "lowercase" |
/// "UPPERCASE" | "snake_case")]` on the enum.
#[proc_macro_derive(LabelValue, attributes(label))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    attr::label_value(&input)
        .map(|spec| expand::label_value(&input, &spec))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

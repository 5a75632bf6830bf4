//! Proc-macros of the ember client library. Use them through `ember`, which re-exports
//! them:
//!
//! | macro | what |
//! |---|---|
//! | `#[derive(LabelSet)]` | a struct of label values as a family's typed label set |
//! | `#[derive(LabelValue)]` | a fieldless enum as a label value |
//! | `#[derive(Metrics)]` | a struct of metrics, registered in one call (`ember::RegisterMetrics`) |
//! | `#[metric]` | counts, times and tracks in-flight calls of a function (autometrics names) |
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

/// Implements `ember::RegisterMetrics` for a struct whose fields are metrics: field
/// names (or `#[metric(name = "...")]`) are the family names, doc comments the HELP
/// text, `#[metric(unit = "seconds")]` adds a unit; `#[metric(buckets = [...])]` on a
/// `Histogram` or `Family<L, Histogram>` field also generates `fn new() -> Self`.
/// See `ember::RegisterMetrics` for an example.
#[proc_macro_derive(Metrics, attributes(metric))]
pub fn derive_metrics(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    attr::metrics_struct(&input)
        .map(|fields| expand::metrics_struct(&input, &fields))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Instruments a function, or every method of an `impl` block, with the metrics
/// autometrics defines, in `ember::default_registry()`:
/// `function_calls_total{function, module, result}` (`ok`, `error` for an `Err` from a
/// function whose return type is spelled `...Result<...>` or for a panic, `cancelled`
/// for an async call dropped before completion), `function_calls_duration_seconds`,
/// `function_calls_concurrent` and `build_info{version, commit, branch}`. Every
/// instrumented function of the executable has all its series at zero from the first
/// use of the default registry, before its first call.
///
/// `function` is the function's name; on an `impl` block it is `Type::method`. A method
/// marked on its own cannot see its type and is labelled with its bare name, unless
/// `#[metric(name = "Type::method")]` says otherwise. Options:
///
/// - `buckets = [0.1, 1, 10]`: the function's own `function_calls_duration_seconds`
///   buckets (strictly increasing number literals; the autometrics ones otherwise);
/// - `labels(team = "shop", tier = "1")`: constant labels added to every series of the
///   function (on an `impl` block: of every method, which may add its own);
/// - `help = "..."`: the function's description; without it, the first paragraph of its
///   doc comment. The families are shared by every instrumented function (as
///   autometrics' are), and HELP belongs to a family, so each family's HELP is
///   autometrics' sentence followed by `Functions: f (module): description; ...` for
///   every described function, sorted.
///
/// Works on `async fn`, under `#[async_trait]` in either order, on generic functions
/// and on `impl Trait` returns.
///
/// ```
/// #[ember::metric]
/// fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
///     let n = s.parse()?;
///     Ok(n)
/// }
///
/// assert!(parse("x").is_err());
/// let text = ember::default_registry().encode_to_string(ember::expfmt::Format::Text);
/// let line = format!(
///     "function_calls_total{{function=\"parse\",module=\"{}\",result=\"error\"}} 1\n",
///     module_path!()
/// );
/// assert!(text.contains(&line));
/// ```
#[proc_macro_attribute]
pub fn metric(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    attr::metric_args(args.into())
        .and_then(|a| {
            let parsed = syn::parse2::<syn::Item>(item2.clone())?;
            attr::metric_target(&a, parsed)
        })
        .map(expand::metric)
        .unwrap_or_else(|e| {
            let err = e.into_compile_error();
            // The item as written, so the error is the only one; without the methods'
            // own `#[metric]`, which means nothing outside an instrumented `impl`.
            let item = match syn::parse2::<syn::Item>(item2.clone()) {
                Ok(syn::Item::Impl(mut imp)) => {
                    for it in &mut imp.items {
                        if let syn::ImplItem::Fn(m) = it {
                            m.attrs.retain(|a| !attr::is_metric_attr(a));
                        }
                    }
                    quote::quote!(#imp)
                }
                _ => item2,
            };
            quote::quote!(#err #item)
        })
        .into()
}

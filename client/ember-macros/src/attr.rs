//! Parsing and checking of the derive inputs; every problem is a `syn::Error` with a span.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, Ident, LitStr};

/// A checked label set: one label name per field.
pub(crate) struct LabelSetSpec {
    pub(crate) fields: Vec<(Ident, String)>,
}

/// A checked label value enum: one value per variant.
pub(crate) struct LabelValueSpec {
    pub(crate) variants: Vec<(Ident, String)>,
}

#[derive(Default)]
struct LabelAttr {
    rename: Option<LitStr>,
    rename_all: Option<LitStr>,
}

fn parse_label_attr(attrs: &[Attribute]) -> syn::Result<LabelAttr> {
    let mut out = LabelAttr::default();
    for a in attrs.iter().filter(|a| a.path().is_ident("label")) {
        a.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("rename_all") {
                out.rename_all = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown `label` option; expected `rename` or `rename_all`"))
            }
        })?;
    }
    Ok(out)
}

fn check_label_name(name: &str, span: Span) -> syn::Result<()> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(syn::Error::new(
            span,
            format!("invalid label name `{name}`: must match [a-zA-Z_][a-zA-Z0-9_]*"),
        ));
    }
    if name.starts_with("__") {
        return Err(syn::Error::new(
            span,
            format!("label name `{name}` is reserved: names starting with `__` are internal"),
        ));
    }
    Ok(())
}

pub(crate) fn label_set(input: &DeriveInput) -> syn::Result<LabelSetSpec> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`LabelSet` can only be derived for a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`LabelSet` needs named fields: the field names are the label names",
        ));
    };
    if let Some(a) = parse_label_attr(&input.attrs)?.rename_all {
        return Err(syn::Error::new_spanned(
            a,
            "`rename_all` applies to `LabelValue` enums",
        ));
    }
    let mut fields: Vec<(Ident, String)> = Vec::new();
    for f in &named.named {
        let Some(ident) = f.ident.clone() else {
            continue;
        };
        let attr = parse_label_attr(&f.attrs)?;
        let (name, span) = match &attr.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => {
                let s = ident.to_string();
                (s.strip_prefix("r#").unwrap_or(&s).to_string(), ident.span())
            }
        };
        check_label_name(&name, span)?;
        if fields.iter().any(|(_, n)| *n == name) {
            return Err(syn::Error::new(
                span,
                format!("duplicate label name `{name}`"),
            ));
        }
        fields.push((ident, name));
    }
    Ok(LabelSetSpec { fields })
}

pub(crate) fn label_value(input: &DeriveInput) -> syn::Result<LabelValueSpec> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`LabelValue` can only be derived for an enum without fields",
        ));
    };
    let rename_all = parse_label_attr(&input.attrs)?.rename_all;
    let mut variants = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                &v.fields,
                "`LabelValue` variants cannot have fields",
            ));
        }
        let attr = parse_label_attr(&v.attrs)?;
        let value = match (&attr.rename, &rename_all) {
            (Some(lit), _) => lit.value(),
            (None, Some(rule)) => apply_rule(&v.ident.to_string(), rule)?,
            (None, None) => v.ident.to_string(),
        };
        variants.push((v.ident.clone(), value));
    }
    Ok(LabelValueSpec { variants })
}

fn apply_rule(name: &str, rule: &LitStr) -> syn::Result<String> {
    Ok(match rule.value().as_str() {
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        "snake_case" => {
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push('_');
                }
                out.extend(c.to_lowercase());
            }
            out
        }
        _ => {
            return Err(syn::Error::new_spanned(
                rule,
                "unknown `rename_all` rule; expected \"lowercase\", \"UPPERCASE\" or \"snake_case\"",
            ));
        }
    })
}

/// The checked options of one `#[metric(...)]`.
#[derive(Default)]
pub(crate) struct MetricArgs {
    /// Overrides the `function` label.
    pub(crate) name: Option<String>,
    /// This function's `function_calls_duration_seconds` buckets.
    pub(crate) buckets: Option<Vec<f64>>,
    /// Constant labels added to every series of the function, in order.
    pub(crate) labels: Vec<(String, String)>,
    /// Span of `labels(...)`, where a clash with the `impl` block's labels is reported.
    pub(crate) labels_span: Option<Span>,
    /// The function's description, instead of its doc comment.
    pub(crate) help: Option<String>,
    /// Span of `help`, where `help` on an `impl` block is reported.
    pub(crate) help_span: Option<Span>,
}

/// Label names `#[metric]` writes itself.
const RESERVED_LABELS: [&str; 4] = ["function", "module", "result", "le"];

/// Parses `#[metric(name = "...", buckets = [...], labels(k = "v", ...), help = "...")]`;
/// anything else is refused with its span.
pub(crate) fn metric_args(args: proc_macro2::TokenStream) -> syn::Result<MetricArgs> {
    let mut out = MetricArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            check_function_name(&lit.value(), lit.span())?;
            if out.name.is_some() {
                return Err(syn::Error::new(lit.span(), "`name` given twice"));
            }
            out.name = Some(lit.value());
            Ok(())
        } else if meta.path.is_ident("buckets") {
            let arr: syn::ExprArray = meta.value()?.parse()?;
            out.buckets = Some(parse_buckets(&arr)?);
            Ok(())
        } else if meta.path.is_ident("labels") {
            if out.labels_span.is_some() {
                return Err(meta.error("`labels` given twice"));
            }
            out.labels_span = Some(meta.path.span());
            meta.parse_nested_meta(|label| {
                let Some(ident) = label.path.get_ident() else {
                    return Err(label.error("expected a label name, as in `labels(team = \"x\")`"));
                };
                let name = unraw(ident);
                check_label_name(&name, ident.span())?;
                if RESERVED_LABELS.contains(&name.as_str()) {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("label `{name}` is set by `#[metric]` itself"),
                    ));
                }
                if out.labels.iter().any(|(n, _)| *n == name) {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("duplicate label name `{name}`"),
                    ));
                }
                let value: LitStr = label.value()?.parse()?;
                out.labels.push((name, value.value()));
                Ok(())
            })
        } else if meta.path.is_ident("help") {
            let lit: LitStr = meta.value()?.parse()?;
            if out.help.is_some() {
                return Err(syn::Error::new(lit.span(), "`help` given twice"));
            }
            let text = one_line(&lit.value());
            if text.is_empty() {
                return Err(syn::Error::new(lit.span(), "`help` text is empty"));
            }
            out.help = Some(text);
            out.help_span = Some(lit.span());
            Ok(())
        } else {
            Err(meta.error(
                "unknown `metric` option; expected `name = \"...\"`, `buckets = [...]`, \
                 `labels(...)` or `help = \"...\"`",
            ))
        }
    });
    syn::parse::Parser::parse2(parser, args)?;
    Ok(out)
}

/// Whitespace runs (line breaks included) as one space, trimmed.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first paragraph of a doc comment, on one line: a function's description.
fn doc_summary(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        let syn::Meta::NameValue(nv) = &a.meta else {
            continue;
        };
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) = &nv.value
        else {
            continue;
        };
        let v = s.value();
        // `///` with nothing after it is an attribute with an empty value: no lines.
        let blank = v.trim().is_empty().then_some("");
        for line in v.lines().chain(blank) {
            let t = line.trim();
            if t.is_empty() {
                if !lines.is_empty() {
                    return lines.join(" ");
                }
            } else {
                lines.push(t.to_string());
            }
        }
    }
    lines.join(" ")
}

/// Label pairs rendered as the exposition formats write them: `a="x",b="y"`.
fn render_labels(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(n, v)| {
            let mut escaped = String::with_capacity(v.len());
            for c in v.chars() {
                match c {
                    '\\' => escaped.push_str("\\\\"),
                    '"' => escaped.push_str("\\\""),
                    '\n' => escaped.push_str("\\n"),
                    c => escaped.push(c),
                }
            }
            format!("{n}=\"{escaped}\"")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A `function` label value as autometrics writes them: `name` or `Type::name`.
fn check_function_name(name: &str, span: Span) -> syn::Result<()> {
    let valid = name.split("::").all(|part| {
        let mut chars = part.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!("invalid function name `{name}`: expected a Rust path such as `Type::method`"),
        ))
    }
}

/// One function to instrument: its `function` label and the checked function.
pub(crate) struct MetricFn {
    pub(crate) label: String,
    pub(crate) buckets: Option<Vec<f64>>,
    /// Extra constant labels, rendered (`team="x"`), or empty.
    pub(crate) labels: String,
    /// `help = "..."`, else the doc comment's first paragraph, else empty.
    pub(crate) help: String,
    pub(crate) func: syn::ItemFn,
}

/// What `#[metric]` was put on.
pub(crate) enum MetricTarget {
    /// A free function, or a method on its own (labelled with its bare name).
    Fn(MetricFn),
    /// An `impl` block: every method with a body, labelled `Type::method`.
    Impl(syn::ItemImpl, Vec<(usize, MetricFn)>),
}

fn check_fn(sig: &syn::Signature) -> syn::Result<()> {
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new_spanned(
            c,
            "`#[metric]` cannot instrument a `const fn`: recording a call is not const",
        ));
    }
    Ok(())
}

/// Parses the item under `#[metric]`.
pub(crate) fn metric_target(args: &MetricArgs, item: syn::Item) -> syn::Result<MetricTarget> {
    match item {
        syn::Item::Fn(func) => {
            check_fn(&func.sig)?;
            let label = args.name.clone().unwrap_or_else(|| unraw(&func.sig.ident));
            Ok(MetricTarget::Fn(MetricFn {
                label,
                buckets: args.buckets.clone(),
                labels: render_labels(&args.labels),
                help: args
                    .help
                    .clone()
                    .unwrap_or_else(|| doc_summary(&func.attrs)),
                func,
            }))
        }
        syn::Item::Impl(mut imp) => {
            if args.name.is_some() || args.buckets.is_some() {
                return Err(syn::Error::new_spanned(
                    &imp.self_ty,
                    "`name` and `buckets` apply to one function; put them on the method",
                ));
            }
            if let Some(span) = args.help_span {
                return Err(syn::Error::new(
                    span,
                    "`help` describes one function; put it on the method (or give the \
                     method a doc comment)",
                ));
            }
            let ty = type_label(&imp.self_ty);
            let mut fns = Vec::new();
            for (i, it) in imp.items.iter_mut().enumerate() {
                let syn::ImplItem::Fn(m) = it else { continue };
                let mut own = MetricArgs::default();
                let mut err = None;
                m.attrs.retain(|a| {
                    let is_metric = is_metric_attr(a);
                    if is_metric {
                        let tokens = match &a.meta {
                            syn::Meta::List(l) => l.tokens.clone(),
                            _ => proc_macro2::TokenStream::new(),
                        };
                        match metric_args(tokens) {
                            Ok(o) => own = o,
                            Err(e) => err = Some(e),
                        }
                    }
                    !is_metric
                });
                if let Some(e) = err {
                    return Err(e);
                }
                check_fn(&m.sig)?;
                let mut labels = args.labels.clone();
                for (name, value) in own.labels {
                    if labels.iter().any(|(n, _)| *n == name) {
                        return Err(syn::Error::new(
                            own.labels_span.unwrap_or_else(Span::call_site),
                            format!("label `{name}` is already set on the `impl` block"),
                        ));
                    }
                    labels.push((name, value));
                }
                let help = own.help.unwrap_or_else(|| doc_summary(&m.attrs));
                let label = own
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{ty}::{}", unraw(&m.sig.ident)));
                let func = syn::ItemFn {
                    attrs: Vec::new(),
                    vis: syn::Visibility::Inherited,
                    sig: m.sig.clone(),
                    block: Box::new(m.block.clone()),
                };
                fns.push((
                    i,
                    MetricFn {
                        label,
                        buckets: own.buckets,
                        labels: render_labels(&labels),
                        help,
                        func,
                    },
                ));
            }
            Ok(MetricTarget::Impl(imp, fns))
        }
        other => Err(syn::Error::new_spanned(
            other,
            "`#[metric]` applies to a function or an `impl` block",
        )),
    }
}

/// `#[metric(...)]` or `#[ember::metric(...)]` on a method of an instrumented `impl`.
pub(crate) fn is_metric_attr(a: &Attribute) -> bool {
    a.path().is_ident("metric")
        || a.path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            == ["ember", "metric"]
}

fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").unwrap_or(&s).to_string()
}

/// `Type` of `impl Trait for path::Type<T>`: the last path segment, without generics.
fn type_label(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| unraw(&s.ident))
            .unwrap_or_default(),
        other => quote::ToTokens::to_token_stream(other)
            .to_string()
            .replace(' ', ""),
    }
}

/// One field of a `#[derive(Metrics)]` struct, checked.
pub(crate) struct MetricsField {
    pub(crate) ident: Ident,
    /// Span of the field's type, where a type that is not a metric is reported.
    pub(crate) ty_span: Span,
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) unit: Option<String>,
    /// Buckets and whether the field is a family of histograms (else a histogram).
    pub(crate) buckets: Option<(Vec<f64>, bool)>,
}

/// Parses a struct of metrics.
pub(crate) fn metrics_struct(input: &DeriveInput) -> syn::Result<Vec<MetricsField>> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`Metrics` can only be derived for a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "`Metrics` needs named fields: the field names are the metric names",
        ));
    };
    let mut out: Vec<MetricsField> = Vec::new();
    for f in &named.named {
        let Some(ident) = f.ident.clone() else {
            continue;
        };
        let mut name = unraw(&ident);
        let mut name_span = ident.span();
        let mut unit = None;
        let mut buckets = None;
        for a in f.attrs.iter().filter(|a| a.path().is_ident("metric")) {
            a.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    let lit: LitStr = meta.value()?.parse()?;
                    name = lit.value();
                    name_span = lit.span();
                    Ok(())
                } else if meta.path.is_ident("unit") {
                    let lit: LitStr = meta.value()?.parse()?;
                    let u = lit.value();
                    if u.is_empty()
                        || !u
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!("invalid unit `{u}`: must match [a-zA-Z0-9_:]+"),
                        ));
                    }
                    unit = Some(u);
                    Ok(())
                } else if meta.path.is_ident("buckets") {
                    let arr: syn::ExprArray = meta.value()?.parse()?;
                    let family = histogram_kind(&f.ty)?;
                    buckets = Some((parse_buckets(&arr)?, family));
                    Ok(())
                } else {
                    Err(meta.error(
                        "unknown `metric` field option; expected `name`, `unit` or `buckets`",
                    ))
                }
            })?;
        }
        let mut chars = name.chars();
        let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !valid {
            return Err(syn::Error::new(
                name_span,
                format!("invalid metric name `{name}`: must match [a-zA-Z_:][a-zA-Z0-9_:]*"),
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(syn::Error::new(
                name_span,
                format!("duplicate metric name `{name}`"),
            ));
        }
        out.push(MetricsField {
            ident,
            ty_span: syn::spanned::Spanned::span(&f.ty),
            name,
            help: doc_help(&f.attrs),
            unit,
            buckets,
        });
    }
    Ok(out)
}

/// `false` for `Histogram`, `true` for `Family<L, Histogram>`; an error otherwise.
fn histogram_kind(ty: &syn::Type) -> syn::Result<bool> {
    let err = || {
        syn::Error::new_spanned(
            ty,
            "`buckets` applies to a `Histogram` or a `Family<L, Histogram>` field",
        )
    };
    let syn::Type::Path(p) = ty else {
        return Err(err());
    };
    let seg = p.path.segments.last().ok_or_else(err)?;
    if seg.ident == "Histogram" {
        return Ok(false);
    }
    if seg.ident == "Family" {
        if let syn::PathArguments::AngleBracketed(a) = &seg.arguments {
            if let Some(syn::GenericArgument::Type(syn::Type::Path(m))) = a.args.last() {
                if m.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Histogram")
                {
                    return Ok(true);
                }
            }
        }
    }
    Err(err())
}

/// Bucket bounds: numeric literals, finite and strictly increasing.
fn parse_buckets(arr: &syn::ExprArray) -> syn::Result<Vec<f64>> {
    let mut out: Vec<f64> = Vec::new();
    for e in &arr.elems {
        let (neg, lit) = match e {
            syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => (true, &*u.expr),
            other => (false, other),
        };
        let v = match lit {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(f),
                ..
            }) => f.base10_parse::<f64>()?,
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => i.base10_parse::<f64>()?,
            _ => {
                return Err(syn::Error::new_spanned(
                    e,
                    "a bucket bound must be a number literal",
                ));
            }
        };
        let v = if neg { -v } else { v };
        if !v.is_finite() {
            return Err(syn::Error::new_spanned(e, "a bucket bound must be finite"));
        }
        if out.last().is_some_and(|last| *last >= v) {
            return Err(syn::Error::new_spanned(
                e,
                "bucket bounds must be strictly increasing",
            ));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(syn::Error::new_spanned(
            arr,
            "`buckets` needs at least one bound",
        ));
    }
    Ok(out)
}

/// Doc comment lines joined by spaces: the HELP text.
fn doc_help(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &a.meta {
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                let v = s.value();
                let t = v.trim();
                if !t.is_empty() {
                    lines.push(t.to_string());
                }
            }
        }
    }
    lines.join(" ")
}

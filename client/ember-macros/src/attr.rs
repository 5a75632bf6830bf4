//! Parsing and checking of the derive inputs; every problem is a `syn::Error` with a span.

use proc_macro2::Span;
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

//! Code generation for the derives; inputs were checked by `attr`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attr::{LabelSetSpec, LabelValueSpec, MetricFn, MetricTarget, MetricsField};

pub(crate) fn label_set(input: &DeriveInput, spec: &LabelSetSpec) -> TokenStream {
    let ident = &input.ident;
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    let names = spec.fields.iter().map(|(_, n)| n);
    let fields = spec.fields.iter().map(|(f, _)| f);
    quote! {
        impl #impl_g ::ember::LabelSet for #ident #ty_g #where_g {
            fn label_values(&self) -> ::std::vec::Vec<::std::borrow::Cow<'_, str>> {
                ::std::vec![#( ::ember::LabelValue::label_value(&self.#fields) ),*]
            }
        }
        impl #impl_g ::ember::StaticLabelSet for #ident #ty_g #where_g {
            const NAMES: &'static [&'static str] = &[#(#names),*];
        }
    }
}

pub(crate) fn label_value(input: &DeriveInput, spec: &LabelValueSpec) -> TokenStream {
    let ident = &input.ident;
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    let arms = spec.variants.iter().map(|(v, s)| {
        quote! { Self::#v => ::std::borrow::Cow::Borrowed(#s), }
    });
    let body = if spec.variants.is_empty() {
        quote! { match *self {} }
    } else {
        quote! { match self { #(#arms)* } }
    };
    quote! {
        impl #impl_g ::ember::LabelValue for #ident #ty_g #where_g {
            fn label_value(&self) -> ::std::borrow::Cow<'_, str> {
                #body
            }
        }
    }
}

/// How a function's value comes back, decided from its signature alone.
enum Shape {
    /// A plain `fn`: the body runs in a closure so `return` and `?` stay inside.
    Sync,
    /// An `async fn`: the body runs in an inner `async move` block awaited under a guard
    /// that lives in the function's future.
    Async,
    /// What `#[async_trait]` leaves: a `fn` returning a boxed future, wrapped whole.
    BoxedFuture,
}

pub(crate) fn metric(target: MetricTarget) -> TokenStream {
    match target {
        MetricTarget::Fn(f) => {
            let mut func = f.func.clone();
            *func.block = instrument(&f);
            quote!(#func)
        }
        MetricTarget::Impl(mut imp, fns) => {
            for (i, f) in &fns {
                if let Some(syn::ImplItem::Fn(m)) = imp.items.get_mut(*i) {
                    m.block = instrument(f);
                }
            }
            quote!(#imp)
        }
    }
}

fn instrument(f: &MetricFn) -> syn::Block {
    let label = &f.label;
    // The buckets as `Debug` spells floats, which `str::parse` reads back exactly.
    let buckets = f
        .buckets
        .as_ref()
        .map(|b| {
            b.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let labels = &f.labels;
    let help = &f.help;
    let block = &f.func.block;
    let sig = &f.func.sig;
    let (shape, value_ty) = if sig.asyncness.is_some() {
        (Shape::Async, return_type(sig))
    } else if let Some(out) = boxed_future_output(sig) {
        (Shape::BoxedFuture, Some(out))
    } else {
        (Shape::Sync, return_type(sig))
    };
    let is_result = value_ty.as_ref().is_some_and(is_result);
    let annotated = value_ty.map(|mut t| {
        infer_impl_trait(&mut t);
        t
    });
    // The record (see `ember::__private::record`) names the site to the discovery that
    // creates every site's series at zero at the first use of the default registry.
    let site = quote! {
        const __EMBER_CALL_SITE_FIELDS: [&str; 8] = [
            #label,
            ::core::module_path!(),
            ::core::env!("CARGO_PKG_VERSION"),
            match ::core::option_env!("GIT_COMMIT") {
                ::core::option::Option::Some(s) => s,
                ::core::option::Option::None => "",
            },
            match ::core::option_env!("GIT_BRANCH") {
                ::core::option::Option::Some(s) => s,
                ::core::option::Option::None => "",
            },
            #buckets,
            #labels,
            #help,
        ];
        #[used]
        static __EMBER_CALL_SITE_RECORD: [u8; ::ember::__private::record_len(&__EMBER_CALL_SITE_FIELDS)] =
            ::ember::__private::record(&__EMBER_CALL_SITE_FIELDS);
        static __EMBER_CALL_SITE: ::ember::__private::CallSite =
            ::ember::__private::CallSite::new(&__EMBER_CALL_SITE_RECORD);
    };
    let body = match shape {
        Shape::Sync => {
            let ret = annotated.map(|t| quote!(-> #t));
            let call = if is_result {
                quote!(call_result)
            } else {
                quote!(call)
            };
            quote!({ #site __EMBER_CALL_SITE.#call(move || #ret #block) })
        }
        Shape::Async => {
            let ty = annotated.map(|t| quote!(: #t));
            let finish = if is_result {
                quote!(__ember_guard.finish_result(&__ember_value);)
            } else {
                quote!(__ember_guard.finish(false);)
            };
            quote!({
                #site
                let __ember_guard = __EMBER_CALL_SITE.start();
                let __ember_value #ty = async move #block.await;
                #finish
                __ember_value
            })
        }
        Shape::BoxedFuture => {
            let wrap = if is_result {
                quote!(instrument_result)
            } else {
                quote!(instrument)
            };
            quote!({
                #site
                let __ember_future = #block;
                ::std::boxed::Box::pin(__EMBER_CALL_SITE.#wrap(__ember_future))
            })
        }
    };
    syn::parse2(body).unwrap_or_else(|e| syn::Block {
        brace_token: syn::token::Brace::default(),
        stmts: vec![syn::Stmt::Expr(
            syn::Expr::Verbatim(e.into_compile_error()),
            None,
        )],
    })
}

fn return_type(sig: &syn::Signature) -> Option<syn::Type> {
    match &sig.output {
        syn::ReturnType::Default => None,
        syn::ReturnType::Type(_, t) => Some((**t).clone()),
    }
}

/// Whether the type is spelled `...::Result<...>` (`io::Result<T>` included).
fn is_result(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        syn::Type::Paren(p) => is_result(&p.elem),
        syn::Type::Group(g) => is_result(&g.elem),
        _ => false,
    }
}

fn last_generic(ty: &syn::Type, name: &str) -> Option<Vec<syn::GenericArgument>> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    Some(a.args.iter().cloned().collect())
}

/// `Output` of `Pin<Box<dyn Future<Output = X> + ...>>`, the shape `#[async_trait]` gives.
fn boxed_future_output(sig: &syn::Signature) -> Option<syn::Type> {
    let ret = return_type(sig)?;
    let pin = last_generic(&ret, "Pin")?;
    let Some(syn::GenericArgument::Type(boxed)) = pin.first() else {
        return None;
    };
    let inner = last_generic(boxed, "Box")?;
    let Some(syn::GenericArgument::Type(syn::Type::TraitObject(obj))) = inner.first() else {
        return None;
    };
    obj.bounds.iter().find_map(|b| {
        let syn::TypeParamBound::Trait(t) = b else {
            return None;
        };
        let seg = t.path.segments.last()?;
        if seg.ident != "Future" {
            return None;
        }
        let syn::PathArguments::AngleBracketed(a) = &seg.arguments else {
            return None;
        };
        a.args.iter().find_map(|g| match g {
            syn::GenericArgument::AssocType(at) if at.ident == "Output" => Some(at.ty.clone()),
            _ => None,
        })
    })
}

/// Replaces `impl Trait` with `_`, so the value's type can be written in the body.
fn infer_impl_trait(ty: &mut syn::Type) {
    match ty {
        syn::Type::ImplTrait(_) => {
            *ty = syn::Type::Infer(syn::TypeInfer {
                underscore_token: Default::default(),
            });
        }
        syn::Type::Path(p) => {
            if let Some(q) = &mut p.qself {
                infer_impl_trait(&mut q.ty);
            }
            for seg in &mut p.path.segments {
                if let syn::PathArguments::AngleBracketed(a) = &mut seg.arguments {
                    for g in &mut a.args {
                        if let syn::GenericArgument::Type(t) = g {
                            infer_impl_trait(t);
                        }
                    }
                }
            }
        }
        syn::Type::Reference(r) => infer_impl_trait(&mut r.elem),
        syn::Type::Paren(p) => infer_impl_trait(&mut p.elem),
        syn::Type::Group(g) => infer_impl_trait(&mut g.elem),
        syn::Type::Array(a) => infer_impl_trait(&mut a.elem),
        syn::Type::Slice(s) => infer_impl_trait(&mut s.elem),
        syn::Type::Tuple(t) => t.elems.iter_mut().for_each(infer_impl_trait),
        _ => {}
    }
}

pub(crate) fn metrics_struct(input: &DeriveInput, fields: &[MetricsField]) -> TokenStream {
    let ident = &input.ident;
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    let registers = fields.iter().map(|f| {
        let field = &f.ident;
        let name = &f.name;
        let help = &f.help;
        let handle = quote::quote_spanned!(f.ty_span=> ::core::clone::Clone::clone(&self.#field));
        match &f.unit {
            Some(unit) => quote! {
                registry.register_with_unit(
                    &::ember::__private::prefixed(prefix, #name),
                    #help,
                    #unit,
                    #handle,
                )?;
            },
            None => quote! {
                registry.register(
                    &::ember::__private::prefixed(prefix, #name),
                    #help,
                    #handle,
                )?;
            },
        }
    });
    let new = fields.iter().any(|f| f.buckets.is_some()).then(|| {
        let inits = fields.iter().map(|f| {
            let field = &f.ident;
            match &f.buckets {
                None => quote!(#field: ::core::default::Default::default()),
                Some((b, false)) => {
                    quote!(#field: ::ember::__private::checked_histogram(&[#(#b),*]))
                }
                Some((b, true)) => quote! {
                    #field: ::ember::Family::new_with_constructor(
                        || ::ember::__private::checked_histogram(&[#(#b),*])
                    )
                },
            }
        });
        quote! {
            impl #impl_g #ident #ty_g #where_g {
                /// Every metric of the struct, histograms with the buckets of their
                /// `#[metric(buckets = [...])]`, other fields with `Default::default()`.
                pub fn new() -> Self {
                    Self { #(#inits),* }
                }
            }
        }
    });
    quote! {
        impl #impl_g ::ember::RegisterMetrics for #ident #ty_g #where_g {
            fn register(
                &self,
                registry: &::ember::Registry,
                prefix: ::core::option::Option<&str>,
            ) -> ::core::result::Result<(), ::ember::Error> {
                #(#registers)*
                ::core::result::Result::Ok(())
            }
        }
        #new
    }
}

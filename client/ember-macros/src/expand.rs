//! Code generation for the derives; inputs were checked by `attr`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attr::{LabelSetSpec, LabelValueSpec};

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

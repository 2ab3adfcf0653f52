//! `#[derive(EstimateSize)]`: a value's heap bytes are the sum of its fields' heap bytes (its
//! inline bytes are `size_of_val`, counted by the trait's default `estimate_size`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, GenericParam, Index};

pub fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let mut generics = input.generics.clone();
    for param in &mut generics.params {
        if let GenericParam::Type(t) = param {
            t.bounds.push(syn::parse_quote!(::twat_cache::EstimateSize));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let body = match &input.data {
        Data::Struct(data) => {
            let (pattern, parts) = destructure(&data.fields);
            quote! { let Self #pattern = self; 0 #(+ #parts)* }
        }
        Data::Enum(data) => {
            let arms = data.variants.iter().map(|variant| {
                let ident = &variant.ident;
                let (pattern, parts) = destructure(&variant.fields);
                quote! { Self::#ident #pattern => 0 #(+ #parts)* }
            });
            quote! {
                #[allow(unreachable_code)]
                match self { #(#arms,)* }
            }
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(EstimateSize)] cannot see which field of a union is live; implement `heap_size` by hand",
            ));
        }
    };
    Ok(quote! {
        impl #impl_generics ::twat_cache::EstimateSize for #name #ty_generics #where_clause {
            #[allow(unused_variables)]
            fn heap_size(&self) -> usize {
                #body
            }
        }
    })
}

/// A pattern binding every field (`{ a: __f0, .. }`, `(__f0, __f1)`, or nothing) and the heap
/// size of each binding.
fn destructure(fields: &Fields) -> (TokenStream, Vec<TokenStream>) {
    let bindings: Vec<_> = (0..fields.len())
        .map(|i| format_ident!("__f{}", i))
        .collect();
    let parts = bindings
        .iter()
        .map(|b| quote!(::twat_cache::EstimateSize::heap_size(#b)))
        .collect();
    let pattern = match fields {
        Fields::Named(named) => {
            let names = named.named.iter().map(|f| &f.ident);
            quote!({ #(#names: #bindings),* })
        }
        Fields::Unnamed(_) => {
            let indices = (0..fields.len()).map(Index::from);
            quote!({ #(#indices: #bindings),* })
        }
        Fields::Unit => quote!(),
    };
    (pattern, parts)
}

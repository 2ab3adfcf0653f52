//! The cached function as plain data: its parts, its arguments, and what its return type stores.

use proc_macro2::TokenStream;
use syn::{
    Attribute, Block, FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, Receiver,
    ReturnType, Signature, Type, Visibility,
};

pub struct CachedFn {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    pub block: Box<Block>,
    pub receiver: Option<Receiver>,
    pub args: Vec<Arg>,
    pub output: Output,
}

pub struct Arg {
    /// The pattern as written (`x`, `mut x`, `(a, b)`).
    pub pat: Pat,
    /// The name the generated wrapper gives the argument: the user's identifier when the pattern
    /// is a plain binding, else `__twat_arg{i}`.
    pub name: Ident,
    /// Whether `pat` is a plain `x` / `mut x` binding.
    pub simple: bool,
    pub ty: Type,
}

/// What a call's result is, for deciding what is cached.
pub enum Output {
    /// `Result<T, …>`: only `Ok(T)` is cached; `T` is stored.
    Result { ok: Type },
    /// `Option<T>`: only `Some(T)` is cached (unless `cache_none`); `T` is stored.
    Option { some: Type },
    /// Any other type, stored as is (`()` for no return type).
    Plain,
}

impl CachedFn {
    pub fn parse(item: TokenStream) -> syn::Result<Self> {
        let ItemFn {
            attrs,
            vis,
            sig,
            block,
            ..
        } = syn::parse2(item)?;
        let receiver = sig.receiver().cloned();
        let args = sig
            .inputs
            .iter()
            .filter_map(|arg| match arg {
                FnArg::Typed(t) => Some(t),
                FnArg::Receiver(_) => None,
            })
            .enumerate()
            .map(|(i, typed)| {
                let simple_ident = match &*typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                        Some(p.ident.clone())
                    }
                    _ => None,
                };
                Arg {
                    pat: (*typed.pat).clone(),
                    simple: simple_ident.is_some(),
                    name: simple_ident.unwrap_or_else(|| quote::format_ident!("__twat_arg{}", i)),
                    ty: (*typed.ty).clone(),
                }
            })
            .collect();
        let output = Output::of(&sig.output);
        Ok(Self {
            attrs,
            vis,
            sig,
            block,
            receiver,
            args,
            output,
        })
    }

    /// The declared return type (`()` when omitted).
    pub fn return_type(&self) -> Type {
        match &self.sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        }
    }
}

impl Output {
    fn of(output: &ReturnType) -> Self {
        let ReturnType::Type(_, ty) = output else {
            return Output::Plain;
        };
        let Type::Path(path) = &**ty else {
            return Output::Plain;
        };
        let Some(last) = path.path.segments.last() else {
            return Output::Plain;
        };
        let PathArguments::AngleBracketed(generics) = &last.arguments else {
            return Output::Plain;
        };
        let Some(GenericArgument::Type(first)) = generics.args.first() else {
            return Output::Plain;
        };
        match last.ident.to_string().as_str() {
            "Result" => Output::Result { ok: first.clone() },
            "Option" if generics.args.len() == 1 => Output::Option {
                some: first.clone(),
            },
            _ => Output::Plain,
        }
    }
}

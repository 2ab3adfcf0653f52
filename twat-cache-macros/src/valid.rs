//! Every check that decides whether a function can be cached correctly, each error on the token
//! the user must change.

use darling::Error;
use syn::visit::Visit;
use syn::{GenericParam, ReceiverKind, ReturnType, Type};

use crate::ast::{CachedFn, Output};
use crate::attr::{Kind, Options};

pub fn check(
    kind: Kind,
    f: &CachedFn,
    options: &Options,
    errors: &mut darling::error::Accumulator,
) {
    let sig = &f.sig;
    let attr = kind.attr_name();
    if let Some(constness) = &sig.constness {
        errors.push(
            Error::custom(format!(
                "#[{attr}] cannot cache a `const fn`: it must run at compile time; remove `const`"
            ))
            .with_span(constness),
        );
    }
    if let syn::Safety::Unsafe(unsafety) = &sig.safety {
        errors.push(
            Error::custom(format!(
                "#[{attr}] does not support `unsafe fn`; cache a safe wrapper around it"
            ))
            .with_span(unsafety),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push(
            Error::custom(format!(
                "#[{attr}] does not support `extern` functions; cache a Rust wrapper around it"
            ))
            .with_span(abi),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(Error::custom("variadic functions cannot be cached").with_span(variadic));
    }
    check_shared(options, errors);
    check_receiver(attr, f, options, errors);
    check_generics(attr, f, options, errors);
    check_arguments(f, options, errors);
    check_output(attr, f, options, errors);
}

/// With `cache = STATIC`, the engine's options are those it was built with.
fn check_shared(options: &Options, errors: &mut darling::error::Accumulator) {
    if options.shared().is_none() {
        return;
    }
    for given in &options.given {
        let name = given.declared.name;
        let engine_option =
            given.declared.runtime.is_some() || matches!(name, "folder" | "version" | "backend");
        if engine_option {
            errors.push(
                Error::custom(format!(
                    "`{name}` cannot be set here: with `cache = …` the shared engine has the options it was built with; set them on its builder"
                ))
                .with_span(&given.span),
            );
        }
    }
}

fn check_receiver(
    attr: &str,
    f: &CachedFn,
    options: &Options,
    errors: &mut darling::error::Accumulator,
) {
    let Some(receiver) = &f.receiver else { return };
    if let ReceiverKind::Reference(_, _, Some(mutability)) = &receiver.kind {
        errors.push(
            Error::custom(format!(
                "#[{attr}] cannot cache a `&mut self` method: a hit would skip the body's changes to `self`; cache a `&self` method instead"
            ))
            .with_span(mutability),
        );
        return;
    }
    if options.key().is_none() {
        errors.push(
            Error::custom(format!(
                "`self` cannot be hashed into the cache key automatically; add `key = …` naming what identifies the call, e.g. #[{attr}(key = (self.id, arg))]"
            ))
            .with_span(&receiver.self_token),
        );
    }
}

fn check_generics(
    attr: &str,
    f: &CachedFn,
    options: &Options,
    errors: &mut darling::error::Accumulator,
) {
    if options.key().is_some() {
        return;
    }
    for param in &f.sig.generics.params {
        let (what, span) = match param {
            GenericParam::Lifetime(_) => continue,
            GenericParam::Type(t) => ("type", t.ident.span()),
            GenericParam::Const(c) => ("const", c.ident.span()),
        };
        errors.push(
            Error::custom(format!(
                "generic functions need `key = …`: the {what} parameter cannot be part of a cache key shared by every instantiation; e.g. #[{attr}(key = (x.to_string(), n))]"
            ))
            .with_span(&span),
        );
    }
}

fn check_arguments(f: &CachedFn, options: &Options, errors: &mut darling::error::Accumulator) {
    for arg in &f.args {
        if let Type::Reference(r) = &arg.ty
            && let Some(mutability) = &r.mutability
        {
            errors.push(
                Error::custom(format!(
                    "`{}` is a `&mut` argument: a cache hit would skip the body's changes to it; take it by value or by `&`",
                    arg.name
                ))
                .with_span(mutability),
            );
        }
        let mut finder = ImplTraitFinder::default();
        finder.visit_type(&arg.ty);
        if let Some(span) = finder.found {
            errors.push(
                Error::custom(format!(
                    "`{}` is an `impl Trait` argument, whose type cannot be stored in a cache key; use a concrete type (e.g. `&str`, `&[T]`, `&Path`){}",
                    arg.name,
                    if options.key().is_none() { " or add `key = …`" } else { "" }
                ))
                .with_span(&span),
            );
        }
        if options.key().is_some() && !arg.simple {
            errors.push(
                Error::custom("with `key = …`, arguments must be plain names (`x: T`), so the key expression can refer to them")
                    .with_span(&arg.pat),
            );
        }
    }
}

fn check_output(
    attr: &str,
    f: &CachedFn,
    options: &Options,
    errors: &mut darling::error::Accumulator,
) {
    if let ReturnType::Type(_, ty) = &f.sig.output {
        match &**ty {
            Type::ImplTrait(t) => errors.push(
                Error::custom(format!(
                    "#[{attr}] cannot store an `impl Trait` return value; return a concrete type"
                ))
                .with_span(&t.impl_token),
            ),
            Type::Reference(r) => errors.push(
                Error::custom(format!(
                    "#[{attr}] cannot store a borrowed return value; return an owned type (`String`, `Vec<T>`, `Arc<T>`)"
                ))
                .with_span(&r.and_token),
            ),
            _ => {}
        }
    }
    if let Some(cache_none) = options.flag("cache_none")
        && !matches!(f.output, Output::Option { .. })
    {
        let returns = match &f.sig.output {
            ReturnType::Default => "nothing".to_string(),
            ReturnType::Type(_, ty) => format!("`{}`", quote::quote!(#ty)),
        };
        errors.push(
            Error::custom(format!(
                "`cache_none` applies only to functions returning `Option<T>`, but this one returns {returns}; remove `cache_none`"
            ))
            .with_span(&cache_none.span),
        );
    }
    // Options that act on an entry's TTL, and so need one.
    for (name, what) in [
        ("refresh", "renews an entry's TTL on each hit"),
        (
            "early_refresh",
            "recomputes an entry shortly before its TTL ends",
        ),
    ] {
        if let Some(flag) = options.flag(name)
            && flag.value
            && options.get("ttl").is_none()
        {
            errors.push(
                Error::custom(format!(
                    "`{name} = true` {what}, but no `ttl` is set; add e.g. `ttl = \"10m\"`"
                ))
                .with_span(&flag.span),
            );
        }
    }
}

/// Finds the first `impl Trait` inside a type.
#[derive(Default)]
struct ImplTraitFinder {
    found: Option<proc_macro2::Span>,
}

impl<'ast> Visit<'ast> for ImplTraitFinder {
    fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
        self.found.get_or_insert(node.impl_token.span);
    }
}

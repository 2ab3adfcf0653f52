//! Code generation: the caching wrapper and its companions, from a validated [`CachedFn`].
//!
//! ```text
//! #[attrs] vis fn foo(args) -> R {          // the wrapper: key → lookup → body → store
//!     let stored = stored_type::<S, _>();   // S (the stored part of R) checked: one error
//!     let site = <this item's static Site>;
//!     let ticket = match lookup(site, &Borrowed((key_part(a), key_part(&b))), weigh, stored) {
//!         Hit(v) => return Adapter::from_stored(from_engine::<S, _>(v)),
//!         Miss(t) => t,
//!     };
//!     let result = run_body(move || -> R { <original body> });
//!     ticket.complete(to_engine::<S, _>(Adapter::stored_ref(&result)));
//!     result
//! }
//! vis fn foo_uncached(args) -> R { <original body> }
//! vis fn foo_invalidate(args) -> bool { … }
//! vis fn foo_cache() -> &'static CacheHandle { … }
//! ```
//!
//! The body is inlined (a closure, or an async block) rather than called as `foo_uncached`,
//! because an attribute cannot tell a free function from an associated one (`Self::` or not);
//! for the same reason the three generated items find their shared handle through a `static Site`
//! each, identified by the `type_name` of a nested marker fn, not by calling each other.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, Type};

use crate::ast::{CachedFn, Output};
use crate::attr::{Given, Kind, Options, POLICIES, Value};
use crate::key_reads::{self, Unread};

/// Whether `ty` is written `Option<&T>` (also `std::option::Option<&T>`).
fn is_option_of_reference(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    last.ident == "Option"
        && args.args.len() == 1
        && matches!(
            args.args.first(),
            Some(syn::GenericArgument::Type(Type::Reference(_)))
        )
}

/// A const-expression option as a `u64` (nanoseconds for `ttl`), evaluated in a `static`.
fn const_value(name: &str, expr: &syn::Expr) -> TokenStream {
    let convert = match name {
        "ttl" => quote!(::twat_cache::__private::ConstTtl(#expr).nanos()),
        "maxsize" => quote!(::twat_cache::__private::const_count(#expr)),
        _ => quote!(::twat_cache::__private::const_bytes(#expr)),
    };
    quote_spanned!(expr.span()=> #convert)
}

/// Compile-time checks that const-expression options are positive, emitted once (in the
/// wrapper), each on the user's expression.
fn const_checks(options: &Options) -> TokenStream {
    let checks = options.given.iter().filter_map(|given| {
        let Value::Expr(expr) = &given.value else {
            return None;
        };
        given.declared.runtime?;
        let name = given.declared.name;
        let value = const_value(name, expr);
        let message = if name == "ttl" {
            format!("`{name}` must be longer than 0")
        } else {
            format!("`{name}` must be greater than 0")
        };
        // A `static`, like the sites' specs: a non-const expression then gets one error
        // ("… in statics"), which the compiler shows once for all sites.
        let check = format_ident!("__TWAT_CHECK_{}", name.to_ascii_uppercase());
        Some(quote_spanned!(expr.span()=>
            #[allow(dead_code)]
            static #check: () = ::core::assert!(#value > 0, #message);
        ))
    });
    quote!(#(#checks)*)
}

/// One warning per argument `key = …` never reads (see `key_reads`), emitted once (in the
/// wrapper). Stable proc macros cannot warn, so each is a call, spanned on the argument, of a
/// `#[deprecated]` fn whose note is the message: `#[allow(deprecated)]` on the function
/// silences them, `#![deny(warnings)]` turns them into errors.
fn key_warnings(f: &CachedFn, options: &Options) -> TokenStream {
    let warnings = key_reads::unread(f, options)
        .into_iter()
        .map(|Unread { name, span }| {
            let marker = format_ident!("__twat_cache_key_ignores_{}", name);
            let note = if name == "self" {
                "`key = …` never reads `self`: every instance shares one cached value per key; \
             add what identifies the instance to `key` (e.g. `key = (self.id, …)`), or put \
             `#[allow(deprecated)]` on the function if sharing is intended"
                    .to_string()
            } else {
                format!(
                    "`key = …` never reads `{name}`: calls that differ only in `{name}` return one \
                 cached value; add `{name}` to `key`, or rename it `_{name}` if it does not \
                 change the result (or put `#[allow(deprecated)]` on the function)"
                )
            };
            // The lint lands on the called path: the argument's span, not the attribute's.
            let call = Ident::new(&marker.to_string(), span);
            quote! {
                {
                    #[deprecated(note = #note)]
                    fn #marker() {}
                    #call();
                }
            }
        });
    quote!(#(#warnings)*)
}

/// A given option as the `SpecOption` the runtime applies to its engine builders, if it is one.
fn spec_option(given: &Given) -> Option<TokenStream> {
    let variant = format_ident!("{}", given.declared.runtime?);
    let value = match &given.value {
        Value::Int(n) => quote!(#n),
        // A const expression: converted (and checked non-zero) during the static's evaluation,
        // with errors on the user's expression.
        Value::Expr(expr) => const_value(given.declared.name, expr),
        Value::Bool(b) => quote!(#b),
        // The one text option the runtime takes is `policy`, named by its enum variant.
        Value::Text(policy) => {
            let (_, name) = POLICIES.iter().find(|(n, _)| n == policy)?;
            let name = format_ident!("{}", name);
            quote!(::twat_cache::__private::Policy::#name)
        }
    };
    Some(quote!(::twat_cache::__private::SpecOption::#variant(#value)))
}

pub fn expand(kind: Kind, f: &CachedFn, options: &Options) -> TokenStream {
    let ctx = Context::new(kind, f, options);
    let wrapper = ctx.wrapper();
    if !options.flag_on("companions", true) {
        // In `impl Trait for Type` nothing but the trait's method may be emitted; the cache is
        // reached with `twat_cache::handle(name)`.
        return wrapper;
    }
    let uncached = ctx.uncached();
    let invalidate = ctx.invalidate();
    // A shared engine is the user's static: it is the handle (and `register` lists it).
    let cache = if options.shared().is_some() {
        quote!()
    } else {
        ctx.cache_accessor()
    };
    let prime = ctx.prime();
    let refresh = ctx.refresh();
    quote! {
        #wrapper
        #uncached
        #invalidate
        #cache
        #prime
        #refresh
    }
}

struct Context<'a> {
    kind: Kind,
    f: &'a CachedFn,
    options: &'a Options,
    /// Span of the function's name: generated items point here.
    span: Span,
    /// The type stored in the cache.
    stored: Type,
    /// `::twat_cache::__private::{Plain, OkOnly, SomeOnly}`.
    adapter: TokenStream,
}

impl<'a> Context<'a> {
    fn new(kind: Kind, f: &'a CachedFn, options: &'a Options) -> Self {
        let cache_none = options.flag_on("cache_none", false);
        let (stored, adapter) = match &f.output {
            Output::Result { ok } => (ok.clone(), quote!(::twat_cache::__private::OkOnly)),
            Output::Option { some } if !cache_none => {
                (some.clone(), quote!(::twat_cache::__private::SomeOnly))
            }
            _ => (f.return_type(), quote!(::twat_cache::__private::Plain)),
        };
        Self {
            kind,
            f,
            options,
            span: f.sig.ident.span(),
            stored,
            adapter,
        }
    }

    fn ident(&self, suffix: &str) -> Ident {
        format_ident!("{}{}", self.f.sig.ident, suffix)
    }

    /// The compile-time options as a `HandleSpec` literal.
    fn spec(&self) -> TokenStream {
        let o = self.options;
        let kind = match self.kind {
            Kind::Mcache => quote!(Mcache),
            Kind::Bcache => quote!(Bcache),
            Kind::Fcache => quote!(Fcache),
            Kind::Ucache => quote!(Ucache),
        };
        let folder = match o.text("folder") {
            Some(f) => quote!(#f),
            None if self.kind.is_disk() => quote!(::core::env!("CARGO_PKG_NAME")),
            None => quote!(""),
        };
        let namespace = match o.text("version") {
            Some(v) => format!("version:{v}"),
            None => format!("fingerprint:{:016x}", self.fingerprint()),
        };
        let function = self.f.sig.ident.to_string();
        let function = function.strip_prefix("r#").unwrap_or(&function);
        let name = match o.text("name") {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let redis = (o.text("backend") == Some("redis"))
            .then(|| quote!(::twat_cache::__private::SpecOption::RedisTier));
        let options = o.given.iter().filter_map(spec_option).chain(redis);
        quote! {
            ::twat_cache::__private::HandleSpec {
                kind: ::twat_cache::__private::CacheKind::#kind,
                module: ::core::module_path!(),
                function: #function,
                name: #name,
                folder: #folder,
                namespace: #namespace,
                options: &[#(#options),*],
            }
        }
    }

    /// FNV-1a of the signature and body tokens: editing the function changes its disk namespace,
    /// so entries written by an older body are never read back.
    fn fingerprint(&self) -> u64 {
        let sig = &self.f.sig;
        let block = &self.f.block;
        let text = quote!(#sig #block).to_string();
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    /// Type arguments after the stored type: the attribute's marker for disk caches and
    /// `#[ucache]`'s second tier (the runtime knows which storage each builds).
    fn backend(&self) -> TokenStream {
        match self.kind {
            Kind::Mcache => quote!(),
            Kind::Ucache => match self.redis_backend() {
                Some(span) => quote_spanned!(span=> , ::twat_cache::__private::UcacheRedis),
                None => quote!(, ::twat_cache::__private::Ucache),
            },
            Kind::Bcache => quote!(, ::twat_cache::__private::Bcache),
            Kind::Fcache => quote!(, ::twat_cache::__private::Fcache),
        }
    }

    /// The runtime function used for `what` by this attribute's engine.
    fn runtime(&self, what: &str) -> TokenStream {
        let name = format_ident!("{}{}", what, self.kind.runtime_suffix());
        quote!(::twat_cache::__private::#name)
    }

    /// The runtime call `what` (`lookup`, `invalidate`, `replacement`, `lookup…_async`) on the
    /// borrowed query: on the user's `cache = STATIC` engine if given, else on the engine of
    /// `site` (this generated item's site expression, or `__twat_site`).
    fn engine_call(&self, what: &str, site: TokenStream, with_weigh: bool) -> TokenStream {
        if let Some(engine) = self.options.shared() {
            let name = format_ident!(
                "{}_shared{}",
                what.trim_end_matches("_async"),
                if what.ends_with("_async") {
                    "_async"
                } else {
                    ""
                }
            );
            return quote_spanned! {engine.span()=>
                ::twat_cache::__private::#name(&*#engine, &__twat_query)
            };
        }
        let backend = self.backend();
        let weigh = if with_weigh {
            self.weigh_arg()
        } else {
            quote!()
        };
        // One trait for every call of an attribute: an unusable key or value is then one
        // (merged) error, not one per generated item.
        let method = format_ident!("{}", what);
        let calls = match self.kind {
            Kind::Mcache => quote!(::twat_cache::__private::MemoryCall<_>),
            Kind::Bcache | Kind::Fcache => {
                quote!(::twat_cache::__private::DiskCall<_ #backend>)
            }
            Kind::Ucache => quote!(::twat_cache::__private::TieredCall<_ #backend>),
        };
        // The value type comes from `__twat_stored` (see `stored_check`).
        quote!(<_ as #calls>::#method(#site, &__twat_query #weigh, __twat_stored))
    }

    /// For `backend = "redis"`: the check, once (in the wrapper) and on `"redis"`, that this
    /// build of twat-cache has the Redis tier (a proc macro cannot see the facade's features).
    fn redis_check(&self) -> TokenStream {
        match self.redis_backend() {
            Some(span) => quote_spanned! {span=>
                ::twat_cache::__private::require_redis_feature::<
                    ::twat_cache::__private::UcacheRedis,
                >();
            },
            None => quote!(),
        }
    }

    /// `let __twat_stored = …;`: the stored type, checked to fit the attribute (one error, on
    /// the return type, if it does not: the runtime's `fit` module explains how). Every engine
    /// call takes its value type from it. Nothing for `cache = STATIC`, whose engine fixes it.
    fn stored_check(&self) -> TokenStream {
        if self.options.shared().is_some() {
            return quote!();
        }
        let stored = &self.stored;
        let stored_type = self.runtime("stored_type");
        quote_spanned! {stored.span()=>
            let __twat_stored = #stored_type::<#stored, _>();
        }
    }

    /// `value`, a stored value from the engine, as the function's stored type.
    fn engine_value(&self, value: TokenStream) -> TokenStream {
        if self.options.shared().is_some() {
            return value;
        }
        let stored = &self.stored;
        let from_engine = self.runtime("from_engine");
        quote_spanned!(stored.span()=> #from_engine::<#stored, _>(#value))
    }

    /// `__twat_ticket.complete(…)` with what the adapter stores of `result` (an expression of
    /// the function's return type), if `cache_if` accepts it. In an `async fn` whose second
    /// tier is on a server, `complete_remote(…).await`: the write leaves the executor thread.
    fn complete(&self, result: &Ident, in_async: bool) -> TokenStream {
        let adapter = &self.adapter;
        let mut stored_ref = quote!(#adapter::stored_ref(&#result));
        if let Some(predicate) = self.options.cache_if() {
            // Spanned on the predicate: a wrong signature is reported there.
            stored_ref = quote_spanned! {predicate.span()=>
                ::twat_cache::__private::stored_if(#stored_ref, #predicate)
            };
        }
        if self.options.shared().is_some() {
            return quote!(__twat_ticket.complete(#stored_ref););
        }
        let stored = &self.stored;
        let to_engine = self.runtime("to_engine");
        if in_async && self.redis_backend().is_some() {
            return quote_spanned! {stored.span()=>
                __twat_ticket
                    .complete_remote(#to_engine::<#stored, _>(#stored_ref))
                    .await;
            };
        }
        quote_spanned! {stored.span()=>
            __twat_ticket.complete(#to_engine::<#stored, _>(#stored_ref));
        }
    }

    /// For `#[ucache(backend = "redis")]`, the span of `"redis"` (where a build without the
    /// feature reports it).
    fn redis_backend(&self) -> Option<Span> {
        let given = self.options.get("backend")?;
        (self.kind == Kind::Ucache && matches!(&given.value, Value::Text(b) if b == "redis"))
            .then_some(given.span)
    }

    /// An expression for this generated item's `&'static Site` (see `twat_cache::site`).
    fn site(&self, companion_suffix: &str) -> TokenStream {
        let spec = self.spec();
        // The wrapper's site is declared to the registry at link time, so `registry()` and
        // `twat_cache::handle(name)` know the function before its first call.
        let declare = if companion_suffix.is_empty() {
            quote! {
                ::twat_cache::__private::inventory::submit! {
                    ::twat_cache::__private::DeclaredSite(&__TWAT_SITE)
                }
            }
        } else {
            quote!()
        };
        quote_spanned! {self.span=>
            {
                fn __twat_marker() -> &'static str {
                    ::core::any::type_name_of_val(&__twat_marker)
                }
                static __TWAT_SITE: ::twat_cache::__private::Site = ::twat_cache::__private::Site::new(
                    #spec,
                    #companion_suffix,
                    ::core::concat!(::core::file!(), ":", ::core::line!(), ":", ::core::column!()),
                    __twat_marker,
                );
                #declare
                &__TWAT_SITE
            }
        }
    }

    /// Statements binding the key expression (if any) and the borrowed query `__twat_query`.
    fn query(&self) -> TokenStream {
        let key_part = self.runtime("key_part");
        if let Some(key) = self.options.key() {
            // Each element of a tuple key is bound, then looked up borrowed: a `&str` part by
            // `str` (owned `String`), any other part by reference to itself.
            let elements: Vec<&syn::Expr> = match key {
                syn::Expr::Tuple(tuple) => tuple.elems.iter().collect(),
                other => vec![other],
            };
            let names: Vec<Ident> = (0..elements.len())
                .map(|i| format_ident!("__twat_key{}", i))
                .collect();
            let parts = elements.iter().zip(&names).map(|(element, name)| {
                quote_spanned! {element.span()=>
                    #key_part((&&::twat_cache::__private::KeyWrap(&#name)).key_part())
                }
            });
            return quote_spanned! {key.span()=>
                #[allow(unused_imports)]
                use ::twat_cache::__private::{KeyByDeref as _, KeyByRef as _};
                #(let #names = #elements;)*
                let __twat_query = ::twat_cache::__private::Borrowed((#(#parts,)*));
            };
        }
        // An `Option<&T>` argument is looked up through `OptionPart` (owned: `Option<T::Owned>`),
        // its `T` checked like any key part.
        let key_part_option = self.runtime("key_part_option");
        let option_parts: Vec<TokenStream> = self
            .f
            .args
            .iter()
            .filter(|arg| is_option_of_reference(&arg.ty))
            .map(|arg| {
                let name = &arg.name;
                let part = format_ident!("__twat_part_{}", name);
                quote_spanned!(arg.ty.span()=> let #part = #key_part_option(#name);)
            })
            .collect();
        let elems = self.f.args.iter().map(|arg| {
            let name = &arg.name;
            let ty = &arg.ty;
            if is_option_of_reference(ty) {
                let part = format_ident!("__twat_part_{}", name);
                quote!(&#part)
            } else if matches!(ty, Type::Reference(_)) {
                quote_spanned!(ty.span()=> #key_part(#name))
            } else {
                quote_spanned!(ty.span()=> #key_part(&#name))
            }
        });
        quote! {
            #(#option_parts)*
            let __twat_query = ::twat_cache::__private::Borrowed((#(#elems,)*));
        }
    }

    fn weigh(&self) -> TokenStream {
        if self.options.get("max_bytes").is_some() {
            quote!(::core::option::Option::Some(
                ::twat_cache::__private::weigh_entry
            ))
        } else {
            quote!(::core::option::Option::None)
        }
    }

    /// The weigher argument of a lookup: memory tiers take the `max_bytes` weigher; disk
    /// entries are weighed by their bytes.
    fn weigh_arg(&self) -> TokenStream {
        if self.kind.has_memory() {
            let weigh = self.weigh();
            quote!(, #weigh)
        } else {
            quote!()
        }
    }

    /// `let __twat_ticket = …;`: the duty to store a value for these arguments whether or not
    /// an entry exists (for `_prime` and `_refresh`).
    fn replacement_ticket(&self, companion_suffix: &str) -> TokenStream {
        let query = self.query();
        let replacement = self.engine_call("replacement", self.site(companion_suffix), true);
        let stored_check = self.stored_check();
        quote! {
            let __twat_ticket = {
                #stored_check
                #query
                #replacement
            };
        }
    }

    /// `foo_prime(args…, value: R)`: stores `value` as the result for `args` (what the wrapper
    /// would store of it: the `Ok`/`Some` part, or nothing for an `Err`/`None`).
    fn prime(&self) -> TokenStream {
        let f = self.f;
        let shared = self.shared_attrs();
        let vis = &f.vis;
        let ident = self.ident("_prime");
        let generics = &f.sig.generics;
        let where_clause = &f.sig.generics.where_clause;
        let inputs = self.wrapper_inputs();
        let ret = f.return_type();
        let ticket = self.replacement_ticket("_prime");
        // `value`, unless an argument already has that name.
        let value = if f.args.iter().any(|a| a.name == "value") {
            format_ident!("__twat_value")
        } else {
            format_ident!("value")
        };
        let complete = self.complete(&value, false);
        let doc = format!(
            "Stores `value` as the cached result of `{}` for these arguments without running it (an `Err` or `None` stores nothing).",
            f.sig.ident
        );
        quote! {
            #(#shared)*
            #[doc = #doc]
            #[allow(dead_code, unused_variables, unused_mut)]
            #vis fn #ident #generics (#(#inputs,)* #value: #ret) #where_clause {
                #ticket
                #complete
            }
        }
    }

    /// `foo_refresh(args…) -> R`: runs the body and stores its result even over an entry.
    fn refresh(&self) -> TokenStream {
        let f = self.f;
        let shared = self.shared_attrs();
        let vis = &f.vis;
        let asyncness = &f.sig.asyncness;
        let ident = self.ident("_refresh");
        let generics = &f.sig.generics;
        let where_clause = &f.sig.generics.where_clause;
        let output = &f.sig.output;
        let inputs = self.wrapper_inputs();
        let ret = f.return_type();
        let block = self.body_block();
        let ticket = self.replacement_ticket("_refresh");
        let complete = self.complete(&format_ident!("__twat_result"), asyncness.is_some());
        let body = if asyncness.is_some() {
            quote!(::twat_cache::__private::run_body_async::<#ret, _>(async move #block).await)
        } else {
            quote!(::twat_cache::__private::run_body::<#ret, _>(move || -> #ret #block))
        };
        let doc = format!(
            "Runs `{}` and stores its result even if one is cached (an `Err` or `None` is returned and stores nothing).",
            f.sig.ident
        );
        quote! {
            #(#shared)*
            #[doc = #doc]
            #[allow(dead_code)]
            #vis #asyncness fn #ident #generics (#(#inputs),*) #output #where_clause {
                #ticket
                let __twat_result: #ret = #body;
                #complete
                __twat_result
            }
        }
    }

    /// The wrapper's parameter list: receiver as written, arguments by their wrapper names.
    fn wrapper_inputs(&self) -> Vec<TokenStream> {
        let mut typed = self.f.args.iter();
        self.f
            .sig
            .inputs
            .iter()
            .map(|input| match input {
                FnArg::Receiver(r) => quote!(#r),
                FnArg::Typed(t) => {
                    let arg = typed.next().expect("one Arg per typed input");
                    let attrs = &t.attrs;
                    let ty = &arg.ty;
                    if arg.simple {
                        let pat = &arg.pat;
                        quote!(#(#attrs)* #pat: #ty)
                    } else {
                        let name = &arg.name;
                        quote!(#(#attrs)* #name: #ty)
                    }
                }
            })
            .collect()
    }

    /// The original body as a block, preceded by rebinding destructuring patterns
    /// (`let (a, b) = __twat_arg0;`) when there are any.
    fn body_block(&self) -> TokenStream {
        let block = &self.f.block;
        let ret = self.f.return_type();
        let lets: Vec<TokenStream> = self
            .f
            .args
            .iter()
            .filter(|a| !a.simple)
            .map(|arg| {
                let pat = &arg.pat;
                let name = &arg.name;
                quote!(let #pat = #name;)
            })
            .collect();
        if lets.is_empty() {
            quote!(#block)
        } else {
            quote!({ #(#lets)* let __twat_body: #ret = #block; __twat_body })
        }
    }

    fn wrapper(&self) -> TokenStream {
        let f = self.f;
        let attrs = &f.attrs;
        let vis = &f.vis;
        let sig = &f.sig;
        let constness = &sig.constness;
        let asyncness = &sig.asyncness;
        let ident = &sig.ident;
        let generics = &sig.generics;
        let where_clause = &sig.generics.where_clause;
        let output = &sig.output;
        let inputs = self.wrapper_inputs();
        let ret = f.return_type();
        let adapter = &self.adapter;
        // A shared engine needs no site (nor registration: the user's static is the cache).
        let site = if self.options.shared().is_some() {
            quote!()
        } else {
            let site = self.site("");
            quote!(let __twat_site = #site;)
        };
        let query = self.query();
        let block = self.body_block();
        // `#[mcache]` tries the read-only hit first: an `Option` returns in registers, where a
        // `Step` goes through memory (see `MemoryCache::quick_hit`).
        let quick = self.kind == Kind::Mcache && self.options.shared().is_none();
        let quick_hit = if quick {
            let quick_hit = self.engine_call("quick_hit", quote!(__twat_site), true);
            let from_engine = self.engine_value(quote!(__twat_value));
            quote! {
                if let ::core::option::Option::Some(__twat_value) = #quick_hit {
                    return #adapter::from_stored(#from_engine);
                }
            }
        } else {
            quote!()
        };
        let (lookup, body) = if asyncness.is_some() {
            let lookup = self.engine_call("lookup_async", quote!(__twat_site), true);
            (
                quote!(#lookup.await),
                quote!(::twat_cache::__private::run_body_async::<#ret, _>(async move #block).await),
            )
        } else {
            let lookup = if quick {
                "lookup_after_quick_hit"
            } else {
                "lookup"
            };
            (
                self.engine_call(lookup, quote!(__twat_site), true),
                quote!(::twat_cache::__private::run_body::<#ret, _>(move || -> #ret #block)),
            )
        };
        // The wrapper is only the hit path (the body runs out of line), so let callers inline it,
        // unless the user already chose.
        let inline = if attrs.iter().any(|a| a.path().is_ident("inline")) {
            quote!()
        } else {
            quote!(#[inline])
        };
        let const_checks = const_checks(self.options);
        let key_warnings = key_warnings(f, self.options);
        let redis_check = self.redis_check();
        let stored_check = self.stored_check();
        let from_engine = self.engine_value(quote!(__twat_value));
        let complete = self.complete(&format_ident!("__twat_result"), asyncness.is_some());
        quote! {
            #(#attrs)*
            #inline
            #vis #constness #asyncness fn #ident #generics (#(#inputs),*) #output #where_clause {
                #key_warnings
                #const_checks
                #redis_check
                #stored_check
                #site
                let __twat_ticket = {
                    #query
                    #quick_hit
                    match #lookup {
                        ::twat_cache::__private::Step::Hit(__twat_value) => {
                            return #adapter::from_stored(#from_engine);
                        }
                        ::twat_cache::__private::Step::Miss(__twat_ticket) => __twat_ticket,
                    }
                };
                let __twat_result: #ret = #body;
                #complete
                __twat_result
            }
        }
    }

    /// Attributes that must follow the function onto every generated item.
    fn shared_attrs(&self) -> Vec<&Attribute> {
        self.f
            .attrs
            .iter()
            .filter(|a| {
                let p = a.path();
                p.is_ident("cfg") || p.is_ident("cfg_attr") || p.is_ident("allow")
            })
            .collect()
    }

    fn uncached(&self) -> TokenStream {
        let f = self.f;
        let shared = self.shared_attrs();
        let must_use = f.attrs.iter().filter(|a| a.path().is_ident("must_use"));
        let vis = &f.vis;
        let mut sig = f.sig.clone();
        sig.ident = self.ident("_uncached");
        let block = &f.block;
        let doc = format!(
            "The body of `{}` without the cache: always runs, never reads or writes entries.",
            f.sig.ident
        );
        quote! {
            #(#shared)*
            #(#must_use)*
            #[doc = #doc]
            #[allow(dead_code)]
            #vis #sig #block
        }
    }

    fn invalidate(&self) -> TokenStream {
        let f = self.f;
        let shared = self.shared_attrs();
        let vis = &f.vis;
        let ident = self.ident("_invalidate");
        let generics = &f.sig.generics;
        let where_clause = &f.sig.generics.where_clause;
        let inputs = self.wrapper_inputs();
        let invalidate = self.engine_call("invalidate", self.site("_invalidate"), false);
        let query = self.query();
        let stored_check = self.stored_check();
        let doc = format!(
            "Removes the cached result of `{}` for these arguments; `true` if there was one.",
            f.sig.ident
        );
        quote! {
            #(#shared)*
            #[doc = #doc]
            #[allow(dead_code, unused_variables, unused_mut)]
            #vis fn #ident #generics (#(#inputs),*) -> bool #where_clause {
                #stored_check
                #query
                #invalidate
            }
        }
    }

    fn cache_accessor(&self) -> TokenStream {
        let shared = self.shared_attrs();
        let vis = &self.f.vis;
        let ident = self.ident("_cache");
        let site = self.site("_cache");
        let doc = format!(
            "The cache of `{}`: its name, size, counters, and `clear()`.",
            self.f.sig.ident
        );
        quote! {
            #(#shared)*
            #[doc = #doc]
            #[allow(dead_code)]
            #vis fn #ident() -> &'static ::twat_cache::CacheHandle {
                #site.handle()
            }
        }
    }
}

//! The attribute macros of [twat-cache](https://docs.rs/twat-cache). Use them through the
//! `twat_cache` crate, which re-exports them and holds the runtime they expand to.
//!
//! Each attribute runs the same pipeline, one file per pass (as in `thiserror-impl`):
//! `attr.rs` reads the options, `ast.rs` takes the function apart, `valid.rs` checks that it can
//! be cached correctly, and `expand.rs` writes the wrapper and its companions. Errors from every pass
//! are collected and reported together, each on the token to fix.

mod ast;
mod attr;
mod expand;
mod units;
mod valid;

use proc_macro::TokenStream;

use attr::Kind;

/// Caches a function's results in a concurrent in-memory cache.
///
/// Options: `maxsize`, `max_bytes`, `ttl`, `refresh`, `policy`, `key`, `name`, `cache_none`,
/// `single_flight`. See the `twat_cache` crate docs for their meaning and for the generated
/// companions (`foo_uncached`, `foo_invalidate`, `foo_cache`).
#[proc_macro_attribute]
pub fn mcache(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Mcache, args.into(), item.into()).into()
}

fn run(
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut errors = darling::Error::accumulator();
    let options = attr::parse(kind, args, &mut errors);
    let function = match ast::CachedFn::parse(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            errors.push(darling::Error::from(e));
            return finish_with_errors(errors, item);
        }
    };
    valid::check(kind, &function, &options, &mut errors);
    match errors.finish() {
        Ok(()) => expand::expand(kind, &function, &options),
        Err(e) => {
            let mut out = e.write_errors();
            // Keep the function itself so its callers do not pile up unrelated errors.
            out.extend(item);
            out
        }
    }
}

fn finish_with_errors(
    errors: darling::error::Accumulator,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut out = errors
        .finish()
        .err()
        .map(darling::Error::write_errors)
        .unwrap_or_default();
    out.extend(item);
    out
}

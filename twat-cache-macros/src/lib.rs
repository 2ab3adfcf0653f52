//! The attribute macros of [twat-cache](https://docs.rs/twat-cache). Use them through the
//! `twat_cache` crate, which re-exports them and holds the runtime they expand to.
//!
//! Each attribute runs the same pipeline, one file per pass (as in `thiserror-impl`):
//! `attr.rs` reads the options, `ast.rs` takes the function apart, `valid.rs` checks that it can
//! be cached correctly, and `expand.rs` writes the wrapper and its companions. Errors from every pass
//! are collected and reported together, each on the token to fix.

mod ast;
mod attr;
mod estimate;
mod expand;
mod key_reads;
mod units;
mod valid;

use proc_macro::TokenStream;

use attr::Kind;

/// Caches a function's results in a concurrent in-memory cache.
///
/// Options (all optional, all checked at compile time): `maxsize = N`, `max_bytes = "64MiB"`,
/// `ttl = "10m"`, `refresh = true`, `early_refresh = true` (XFetch: with a `ttl`, one caller
/// recomputes a hot entry shortly before it expires while the others still hit),
/// `policy = "tinylfu" | "lru" | "fifo" | "lfu"`, `key = <expr>`, `name = "…"`, `cache_none = true`, `cache_if = <fn or closure>` (store
/// a value only if it returns `true` for it), `single_flight = false`,
/// `companions = false` (emit only the function — in `impl Trait for Type`, where
/// "`…_uncached` is not a member of trait" — and reach its cache with
/// `twat_cache::handle(name)`).
///
/// With `key = …`, each argument (and `self`) the expression never mentions — macro arguments
/// and format-string captures count — is a warning on that argument, since calls differing only
/// in it would share one cached value: include it in `key`, name it `_…` if it is deliberately
/// ignored, or put `#[allow(deprecated)]` on the function (the warning is a `deprecated` lint,
/// the only warning a stable proc macro can raise).
///
/// Next to `fn foo(args) -> R` it generates `foo_uncached(args) -> R` (the body, never cached),
/// `foo_invalidate(args) -> bool`, `foo_cache() -> &'static CacheHandle`,
/// `foo_prime(args, value: R)` (stores `value` without running the body) and
/// `foo_refresh(args) -> R` (runs the body and stores its result even over a cached one).
///
/// ```
/// use twat_cache::mcache;
///
/// #[mcache(maxsize = 1000, ttl = "1h")]
/// fn parse_port(text: &str) -> Result<u16, std::num::ParseIntError> {
///     text.trim().parse()
/// }
///
/// assert_eq!(parse_port(" 8080 "), Ok(8080));
/// assert_eq!(parse_port(" 8080 "), Ok(8080)); // hit
/// assert!(parse_port("http").is_err());       // errors are never cached
/// assert_eq!(parse_port_cache().len(), 1);
/// assert!(parse_port_invalidate(" 8080 "));
/// parse_port_prime("http", Ok(80));            // as if the body had returned Ok(80)
/// assert_eq!(parse_port("http"), Ok(80));
/// assert_eq!(parse_port_refresh("http").map_err(|_| ()), Err(())); // recomputed; not stored
///
/// struct Repo { id: u64 }
/// impl Repo {
///     // Methods name what identifies the call with `key = …`.
///     #[mcache(key = (self.id, branch.to_string()))]
///     fn head(&self, branch: &str) -> String { format!("{}:{branch}", self.id) }
/// }
/// assert_eq!(Repo { id: 7 }.head("main"), "7:main");
/// assert!(Repo::head_cache().name().ends_with("::Repo::head"));
/// ```
#[proc_macro_attribute]
pub fn mcache(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Mcache, args.into(), item.into()).into()
}

/// Caches a function's results on disk, in a sled database under the cache root: results
/// survive restarts.
///
/// Options: those of `#[mcache]` plus `folder = "…"` (a sub-folder of the cache root; default:
/// the crate name), `version = "…"` (the cache namespace; default: a fingerprint of the
/// function's own signature and body tokens, so editing the function invalidates its entries —
/// but not what it calls: a changed helper, constant, dependency or data file keeps the old
/// entries answering; set `version` and change it with them) and
/// `compress = true` (zstd). Keys and values must implement `serde::Serialize`, values also
/// `DeserializeOwned`. If the database cannot be used (locked by another process, unwritable,
/// corrupt), the function still returns correct values, cached in memory, with one `tracing`
/// warning and `stats().errors` counted.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
/// use twat_cache::bcache;
///
/// #[bcache(folder = "geo", ttl = "1d")]
/// fn geocode(address: &str) -> Option<(f64, f64)> {
///     (address == "Berlin").then_some((52.52, 13.40))
/// }
///
/// assert_eq!(geocode("Berlin"), Some((52.52, 13.40))); // computed, written to disk
/// assert_eq!(geocode("Berlin"), Some((52.52, 13.40))); // read back from disk
/// assert_eq!(geocode_cache().stats().hits, 1);
/// assert!(geocode_cache().name().ends_with("::geocode"));
/// ```
///
/// On disk (and in Redis) a key is identified by its **serialized form**, not by `Hash`/`Eq`:
/// arguments whose `Serialize` leaves something out (`#[serde(skip)]`, a hand-written lossy
/// impl) share one entry for every value of what is left out. The macro cannot see a foreign
/// type's serde attributes, so this is not checked: name what identifies the call with
/// `key = …` (the same holds for `#[fcache]` and `#[ucache]`).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
/// use twat_cache::bcache;
///
/// #[derive(serde::Serialize, Clone, PartialEq, Eq, Hash)]
/// struct Query { q: String, #[serde(skip)] limit: u32 }
///
/// // Without `key`, `search(Query { q: "rust", limit: 1000 })` would answer from the entry
/// // of `limit: 10`: the serialized key holds no `limit`.
/// #[bcache(folder = "search", key = (q.q.clone(), q.limit))]
/// fn search(q: Query) -> Vec<u32> {
///     (0..q.limit.min(3)).collect()
/// }
///
/// assert_eq!(search(Query { q: "rust".into(), limit: 1 }), vec![0]);
/// assert_eq!(search(Query { q: "rust".into(), limit: 1000 }), vec![0, 1, 2]);
/// ```
#[proc_macro_attribute]
pub fn bcache(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Bcache, args.into(), item.into()).into()
}

/// Caches a function's results with one file per entry: persistent, and safe for many processes
/// sharing the cache root (build tools, notebooks, worker pools).
///
/// Options: those of `#[bcache]` (`folder`, `version`, `compress`, …). Entries live in
/// `<cache root>/<folder>/<function>/<namespace>/`; each is published by an atomic rename, read
/// back only if its checksum and key match, and pruned by last access when `maxsize` or
/// `max_bytes` is exceeded. A folder that cannot be used falls back to memory (one warning,
/// `errors` counted).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
/// use twat_cache::fcache;
///
/// #[fcache(folder = "thumbs", max_bytes = "2GiB", compress = true)]
/// fn thumbnail(path: &std::path::Path, width: u32) -> Vec<u8> {
///     vec![width as u8; 1024] // an expensive resize in real life
/// }
///
/// let p = std::path::Path::new("cat.png");
/// assert_eq!(thumbnail(p, 64).len(), 1024);
/// assert_eq!(thumbnail(p, 64).len(), 1024); // read back from its file
/// assert_eq!(thumbnail_cache().stats().hits, 1);
/// ```
#[proc_macro_attribute]
pub fn fcache(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Fcache, args.into(), item.into()).into()
}

/// Caches a function's results in two tiers: a concurrent memory cache (L1) in front of a disk
/// cache (L2) that processes running at the same time share — the attribute to use when unsure.
///
/// An L1 hit never touches the disk; an L1 miss reads L2 and fills L1 (a copy that never
/// outlives the disk entry's deadline); a computed value is written to both; `foo_invalidate`
/// and `foo_cache().clear()` reach both. Concurrent misses of one key run the body once, across
/// threads and, through a lock file per entry, across processes. If the disk tier cannot be used
/// the function keeps returning correct values from memory (one warning, `errors` counted) and
/// the disk is tried again with backoff.
///
/// Options: those of `#[fcache]`; `maxsize` (default 10 000) and `max_bytes` bound the memory
/// tier, `disk_max_bytes = "…"` the disk tier (default 1 GiB); `backend = "disk"` (the
/// default). `foo_cache().tiers()` reports each tier's counters.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
/// use twat_cache::{ucache, Tier};
///
/// #[ucache(folder = "api", maxsize = 1000, ttl = "1h")]
/// fn user_name(id: u64) -> Result<String, String> {
///     if id == 0 { Err("no such user".into()) } else { Ok(format!("user {id}")) }
/// }
///
/// assert_eq!(user_name(7).unwrap(), "user 7"); // computed; kept in memory and on disk
/// assert_eq!(user_name(7).unwrap(), "user 7"); // a memory hit
/// user_name_cache().tier(Tier::Memory).unwrap(); // per-tier counters
/// assert_eq!(user_name_cache().stats().hits, 1);
/// assert!(user_name(0).is_err()); // errors are never cached
/// ```
#[proc_macro_attribute]
pub fn ucache(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Ucache, args.into(), item.into()).into()
}

/// Implements `twat_cache::EstimateSize` for a struct or enum: its heap bytes are the sum of
/// its fields' (each field's type must implement `EstimateSize`), so `max_bytes` can weigh it
/// in a memory cache.
///
/// ```
/// use twat_cache::EstimateSize;
///
/// #[derive(EstimateSize)]
/// struct User { name: String, tags: Vec<String>, age: u8 }
///
/// #[derive(EstimateSize)]
/// enum Reply { Text(String), Empty }
///
/// let user = User { name: "ada".into(), tags: vec!["x".into()], age: 36 };
/// let inline = size_of::<User>();
/// assert_eq!(user.estimate_size(), inline + 3 + size_of::<String>() + 1);
/// assert_eq!(Reply::Text("hi".into()).heap_size(), 2);
/// assert_eq!(Reply::Empty.heap_size(), 0);
/// ```
#[proc_macro_derive(EstimateSize)]
pub fn derive_estimate_size(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    estimate::derive(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
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

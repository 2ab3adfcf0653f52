//! What generated code calls. Not a public API: names and signatures may change at any release.
//!
//! A cached function expands to roughly
//!
//! ```ignore
//! fn f(a: &str, b: u32) -> R {
//!     let site = /* this function's `static Site` */;
//!     let stored = __private::stored_type::<R, _>();   // checks that R fits
//!     let ticket = match <_ as __private::MemoryCall<_>>::lookup(
//!         site,
//!         &Borrowed((key_part(a), key_part(&b))),          // each checks its part
//!         None,
//!         stored,
//!     ) {
//!         Step::Hit(v) => return Adapter::from_stored(from_engine::<R, _>(v)),
//!         Step::Miss(ticket) => ticket,
//!     };
//!     let result: R = __private::run_body(move || -> R { /* the original body */ });
//!     ticket.complete(to_engine::<R, _>(Adapter::stored_ref(&result)));
//!     result
//! }
//! ```
//!
//! so the borrowed key lives only until the match ends and the arguments can then be moved into
//! the body. Every call of an attribute goes through one trait of the query (`MemoryCall`,
//! `DiskCall` with the attribute's marker type `Bcache`/`Fcache`, which names the storage it
//! builds, `TieredCall`); the macro names no storage backend. The key parts and the stored type
//! go through the checks of the `fit` module first, so an unusable key or value is one error, on
//! the argument or return type, and nothing downstream of it. `Adapter` decides what part of `R`
//! is stored (`Ok` of a `Result`, `Some` of an `Option`, or all of `R`).

#![allow(missing_docs)]

use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_engines::{
    DiskCache, DiskVacant, Engine, Found, Lookup, MemoryCache, Tiered, TieredVacancy, Vacancy,
    VacantEntry,
};

pub use crate::registry::CacheKind;
pub use crate::site::{DeclaredSite, Site};
pub use crate::spec::{HandleSpec, SpecOption};
pub use inventory;
use twat_cache_engines::disk::paths::FunctionStore;
use twat_cache_engines::disk::{FileStore, SledStore};

mod fit;
pub use fit::*;

/// A disk attribute (or `#[ucache]`'s second tier), and the storage engine it builds.
pub trait DiskAttribute: 'static {
    type Store: FunctionStore;
}

/// `#[bcache]`: a sled tree.
pub struct Bcache;
impl DiskAttribute for Bcache {
    type Store = SledStore;
}

/// `#[fcache]`: one file per entry.
pub struct Fcache;
impl DiskAttribute for Fcache {
    type Store = FileStore;
}

/// `#[ucache]`'s disk tier: one file per entry, which processes running at the same time can
/// all read and write (sled admits one process per database).
pub struct Ucache;
impl DiskAttribute for Ucache {
    type Store = FileStore;
}

/// `#[ucache(backend = "redis")]`'s second tier: Redis.
#[cfg(feature = "redis")]
pub struct UcacheRedis;
#[cfg(feature = "redis")]
impl DiskAttribute for UcacheRedis {
    type Store = twat_cache_engines::disk::RedisStore;
}

/// Without the `redis` feature the attribute still expands against a tier that exists, so that
/// [`require_redis_feature`] is the one error the user sees.
#[cfg(not(feature = "redis"))]
pub type UcacheRedis = Ucache;

/// Implemented when this build has the Redis tier.
#[diagnostic::on_unimplemented(
    message = "`backend = \"redis\"` needs the `redis` feature of twat-cache",
    label = "this build of twat-cache has no Redis tier",
    note = "enable it: `twat-cache = {{ version = \"…\", features = [\"redis\"] }}`"
)]
pub trait RedisFeature {}
#[cfg(feature = "redis")]
impl RedisFeature for UcacheRedis {}

/// Emitted once per `#[ucache(backend = "redis")]` function, on `"redis"`.
#[inline(always)]
pub fn require_redis_feature<T: RedisFeature>() {}

/// The engine of one `#[ucache]` function (for one key/value instantiation) over the second
/// tier's store `S`.
pub type TieredEngine<K, V, S = FileStore> = Tiered<MemoryCache<K, V>, DiskCache<S, V>>;
pub use twat_cache_engines::{Borrowed, BorrowedKey, EstimateSize, KeyPart, OptionPart, Policy};

/// What a memory cache needs of a key (the owned form of the arguments, or `key = …`).
pub trait CacheKey: Hash + Eq + Send + Sync + 'static {}
impl<T: Hash + Eq + Send + Sync + 'static> CacheKey for T {}

/// What a memory cache needs of a stored value.
pub trait CacheValue: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> CacheValue for T {}

/// What a disk cache needs of a stored value.
pub trait DiskValue: Serialize + DeserializeOwned + 'static {}
impl<T: Serialize + DeserializeOwned + 'static> DiskValue for T {}

/// The result of a lookup: a cached value, or the duty (`T`) to compute and hand it back.
pub enum Step<V, T> {
    Hit(V),
    Miss(T),
}

/// The duty to store a computed value (any engine's [`Vacancy`]); `None` inside when caching
/// is disabled. Dropping it unfilled (a panic, a cancellation) releases the waiting callers.
pub struct Ticket<T> {
    vacancy: Option<T>,
}

impl<T> Ticket<T> {
    /// Stores `stored` if the result is cacheable; otherwise lets the waiting callers run
    /// their own call at once.
    #[inline(never)]
    pub fn complete<V>(self, stored: Option<&V>)
    where
        T: Vacancy<V>,
    {
        match (self.vacancy, stored) {
            (Some(vacancy), Some(value)) => vacancy.fill(value),
            (Some(vacancy), None) => vacancy.release(),
            (None, _) => {}
        }
    }
}

impl<K, V, S> Ticket<TieredVacancy<'static, K, V, S>>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: CacheValue + DiskValue,
    S: twat_cache_engines::disk::Backend,
{
    /// [`Ticket::complete`] for an `async fn` whose second tier is on a server: the write runs
    /// on a storage worker thread, not on the executor's (see `Tiered`'s `fill_async_shared`).
    pub async fn complete_remote(self, stored: Option<&V>) {
        match (self.vacancy, stored) {
            (Some(vacancy), Some(value)) => vacancy.fill_async_shared(value).await,
            (Some(vacancy), None) => vacancy.release(),
            (None, _) => {}
        }
    }
}

/// A lookup's outcome as the wrapper handles it.
#[inline]
fn step<V, T>(found: Found<V, T>) -> Step<V, Ticket<T>> {
    match found {
        Found::Hit(v) => Step::Hit(v),
        Found::Vacant(vacancy) => Step::Miss(Ticket {
            vacancy: Some(vacancy),
        }),
    }
}

/// The uncached step (caching disabled).
fn disabled<V, T>() -> Step<V, Ticket<T>> {
    Step::Miss(Ticket { vacancy: None })
}

/// The one lookup path: any engine (or none, when caching is disabled).
#[inline]
fn through<E, Q>(
    engine: Option<&'static E>,
    query: &Q,
) -> Step<E::Value, Ticket<E::Vacancy<'static>>>
where
    E: Engine<Q>,
    Q: ?Sized,
{
    match engine {
        Some(engine) => step(engine.lookup(query)),
        None => disabled(),
    }
}

/// The duty to store a value for a call whether or not it is cached (`foo_prime`,
/// `foo_refresh`), on any engine (or none, when caching is disabled).
fn replacing<E, Q>(engine: Option<&'static E>, query: &Q) -> Ticket<E::Vacancy<'static>>
where
    E: Engine<Q>,
    Q: ?Sized,
{
    Ticket {
        vacancy: engine.map(|engine| engine.replacement(query)),
    }
}

/// The memory engine of a site.
#[inline]
fn memory_engine<Q, V>(
    site: &'static Site,
    weigh: Option<fn(&Q::Owned, &V) -> u64>,
) -> Option<&'static MemoryCache<Q::Owned, V>>
where
    Q: BorrowedKey,
    Q::Owned: CacheKey,
    V: CacheValue,
{
    site.memory::<Q::Owned, V>(weigh)
}

/// The duty a `#[ucache]` miss hands back (`S`: the second tier's store).
type TieredTicket<K, V, S> = Ticket<TieredVacancy<'static, K, V, S>>;

/// One element of a `key = (…)` expression, wrapped so that method resolution picks how to
/// look it up: a reference `&U` is looked up as `U` (owned: `U::Owned`, so `branch: &str`
/// keys by `String`), anything else by reference to itself. Call as
/// `(&&KeyWrap(&element)).key_part()` with [`KeyByDeref`] and [`KeyByRef`] in scope
/// (autoref specialization: the first applies first).
pub struct KeyWrap<'a, T: ?Sized>(pub &'a T);

/// See [`KeyWrap`]: an element that is itself a reference.
pub trait KeyByDeref<'a> {
    type Part: ?Sized + 'a;
    fn key_part(&self) -> &'a Self::Part;
}

impl<'a, 'b: 'a, U: ?Sized + 'a> KeyByDeref<'a> for &KeyWrap<'a, &'b U> {
    type Part = U;
    #[inline(always)]
    fn key_part(&self) -> &'a U {
        self.0
    }
}

/// See [`KeyWrap`]: any other element.
pub trait KeyByRef<'a> {
    type Part: ?Sized + 'a;
    fn key_part(&self) -> &'a Self::Part;
}

impl<'a, T: ?Sized + 'a> KeyByRef<'a> for KeyWrap<'a, T> {
    type Part = T;
    #[inline(always)]
    fn key_part(&self) -> &'a T {
        self.0
    }
}

/// `cache = STATIC`: a call looked up in an engine the user declared (any engine; the compiler
/// checks that its key and value types fit the function). Nothing while caching is disabled.
#[inline]
pub fn lookup_shared<E, Q>(
    engine: &'static E,
    query: &Q,
) -> Step<E::Value, Ticket<E::Vacancy<'static>>>
where
    E: Engine<Q>,
    Q: ?Sized,
{
    through((!crate::caching_disabled()).then_some(engine), query)
}

/// [`lookup_shared`] for `async fn`.
pub async fn lookup_shared_async<E, Q>(
    engine: &'static E,
    query: &Q,
) -> Step<E::Value, Ticket<E::Vacancy<'static>>>
where
    E: Engine<Q>,
    Q: ?Sized,
{
    if crate::caching_disabled() {
        return disabled();
    }
    step(engine.lookup_async(query).await)
}

/// `foo_invalidate` with `cache = STATIC`.
pub fn invalidate_shared<E, Q>(engine: &'static E, query: &Q) -> bool
where
    E: Engine<Q>,
    Q: ?Sized,
{
    !crate::caching_disabled() && engine.remove(query)
}

/// `foo_prime`/`foo_refresh` with `cache = STATIC`.
pub fn replacement_shared<E, Q>(engine: &'static E, query: &Q) -> Ticket<E::Vacancy<'static>>
where
    E: Engine<Q>,
    Q: ?Sized,
{
    replacing((!crate::caching_disabled()).then_some(engine), query)
}

/// Every runtime call of an `#[mcache]` function, as methods of one trait of its query: when
/// the arguments cannot key a memory cache, each generated item reports the same unmet bound
/// (`…: MemoryCall<V>`) at the same place, which the compiler shows once.
#[diagnostic::on_unimplemented(
    message = "this function cannot be cached in memory: its key (`{Self}`) or value (`{V}`) does not fit",
    label = "see the error on the argument or return type",
    note = "memory caches need `Hash + Eq` key parts and `Clone + Send + Sync + 'static` values"
)]
pub trait MemoryCall<V: 'static> {
    /// The owned key stored in the memory tier.
    type Key: 'static;

    /// Looks a call up, waiting (blocking) for a concurrent computation of the same key.
    fn lookup(
        site: &'static Site,
        query: &Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, Ticket<VacantEntry<'static, Self::Key, V>>>;

    /// The value if the call hits on the read-only path (see `MemoryCache::quick_hit`); the
    /// wrapper tries this first, so that a hit returns without building a [`Step`].
    fn quick_hit(
        site: &'static Site,
        query: &Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> Option<V>;

    /// [`MemoryCall::lookup`] after [`MemoryCall::quick_hit`] returned `None`.
    fn lookup_after_quick_hit(
        site: &'static Site,
        query: &Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, Ticket<VacantEntry<'static, Self::Key, V>>>;

    fn lookup_async<'q>(
        site: &'static Site,
        query: &'q Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> impl Future<Output = Step<V, Ticket<VacantEntry<'static, Self::Key, V>>>> + Send + 'q;

    /// Removes one call's entry; `false` if it was not cached.
    fn invalidate(site: &'static Site, query: &Self, _: StoredType<V>) -> bool;

    fn replacement(
        site: &'static Site,
        query: &Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> Ticket<VacantEntry<'static, Self::Key, V>>;
}

#[diagnostic::do_not_recommend]
impl<Q, V> MemoryCall<V> for Q
where
    Q: BorrowedKey + Lookup<<Q as BorrowedKey>::Owned> + Sync,
    Q::Owned: CacheKey,
    V: CacheValue,
{
    type Key = Q::Owned;

    #[inline(always)]
    fn lookup(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, Ticket<VacantEntry<'static, Q::Owned, V>>> {
        through(memory_engine::<Q, V>(site, weigh), query)
    }

    #[inline(always)]
    fn quick_hit(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> Option<V> {
        memory_engine::<Q, V>(site, weigh)?.quick_hit(query)
    }

    #[inline]
    fn lookup_after_quick_hit(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, Ticket<VacantEntry<'static, Q::Owned, V>>> {
        match memory_engine::<Q, V>(site, weigh) {
            Some(cache) => step(cache.entry_after_quick_hit(query).into()),
            None => disabled(),
        }
    }

    async fn lookup_async(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, Ticket<VacantEntry<'static, Q::Owned, V>>> {
        // The engines' concrete async lookups, not `Engine::lookup_async`: a future built on a
        // generic associated type's projection is not provably `Send` yet
        // (rust-lang/rust#100013), and cached `async fn`s must stay spawnable.
        match memory_engine::<Q, V>(site, weigh) {
            Some(cache) => step(cache.entry_async(query).await.into()),
            None => disabled(),
        }
    }

    fn invalidate(site: &'static Site, query: &Q, _: StoredType<V>) -> bool {
        memory_engine::<Q, V>(site, None).is_some_and(|cache| Engine::remove(cache, query))
    }

    fn replacement(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> Ticket<VacantEntry<'static, Q::Owned, V>> {
        replacing(memory_engine::<Q, V>(site, weigh), query)
    }
}

/// [`MemoryCall`] for `#[bcache]`/`#[fcache]` (attribute `A`).
#[diagnostic::on_unimplemented(
    message = "this function cannot be cached on disk: its key (`{Self}`) or value (`{V}`) does not fit",
    label = "see the error on the argument or return type",
    note = "disk caches need `Serialize` key parts and `Serialize + DeserializeOwned` values"
)]
pub trait DiskCall<V: DiskValue, A: DiskAttribute> {
    fn lookup(
        site: &'static Site,
        query: &Self,
        _: StoredType<V>,
    ) -> Step<V, Ticket<DiskVacant<'static, A::Store, V>>>;

    fn lookup_async<'q>(
        site: &'static Site,
        query: &'q Self,
        _: StoredType<V>,
    ) -> impl Future<Output = Step<V, Ticket<DiskVacant<'static, A::Store, V>>>> + Send + 'q;

    /// Removes one call's entry; `false` if it was not cached.
    fn invalidate(site: &'static Site, query: &Self, _: StoredType<V>) -> bool;

    fn replacement(
        site: &'static Site,
        query: &Self,
        _: StoredType<V>,
    ) -> Ticket<DiskVacant<'static, A::Store, V>>;
}

#[diagnostic::do_not_recommend]
impl<Q, V, A> DiskCall<V, A> for Q
where
    Q: Serialize + Sync,
    V: DiskValue + Send,
    A: DiskAttribute,
{
    #[inline(always)]
    fn lookup(
        site: &'static Site,
        query: &Q,
        _: StoredType<V>,
    ) -> Step<V, Ticket<DiskVacant<'static, A::Store, V>>> {
        through(site.disk::<A::Store, V>(), query)
    }

    async fn lookup_async(
        site: &'static Site,
        query: &Q,
        _: StoredType<V>,
    ) -> Step<V, Ticket<DiskVacant<'static, A::Store, V>>> {
        match site.disk::<A::Store, V>() {
            Some(cache) => step(cache.entry_async(query).await.into()),
            None => disabled(),
        }
    }

    fn invalidate(site: &'static Site, query: &Q, _: StoredType<V>) -> bool {
        site.disk::<A::Store, V>()
            .is_some_and(|cache| Engine::remove(cache, query))
    }

    fn replacement(
        site: &'static Site,
        query: &Q,
        _: StoredType<V>,
    ) -> Ticket<DiskVacant<'static, A::Store, V>> {
        replacing(site.disk::<A::Store, V>(), query)
    }
}

/// [`MemoryCall`] for `#[ucache]`, whose second tier is attribute `A`'s store.
#[diagnostic::on_unimplemented(
    message = "this function cannot be cached by #[ucache]: its key (`{Self}`) or value (`{V}`) does not fit",
    label = "see the error on the argument or return type",
    note = "#[ucache] needs `Hash + Eq + Serialize` key parts and `Clone + Send + Sync + Serialize + DeserializeOwned` values"
)]
pub trait TieredCall<V: 'static, A: DiskAttribute> {
    /// The owned key stored in the memory tier.
    type Key: 'static;

    /// Looks a call up, waiting (blocking) for a concurrent computation of the same key.
    fn lookup(
        site: &'static Site,
        query: &Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, TieredTicket<Self::Key, V, A::Store>>;

    fn lookup_async<'q>(
        site: &'static Site,
        query: &'q Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> impl Future<Output = Step<V, TieredTicket<Self::Key, V, A::Store>>> + Send + 'q;

    /// Removes one call's entry; `false` if it was not cached.
    fn invalidate(site: &'static Site, query: &Self, _: StoredType<V>) -> bool;

    fn replacement(
        site: &'static Site,
        query: &Self,
        weigh: Option<fn(&Self::Key, &V) -> u64>,
        _: StoredType<V>,
    ) -> TieredTicket<Self::Key, V, A::Store>;
}

#[diagnostic::do_not_recommend]
impl<Q, V, A> TieredCall<V, A> for Q
where
    A: DiskAttribute,
    Q: BorrowedKey + Lookup<<Q as BorrowedKey>::Owned> + Serialize + Sync,
    Q::Owned: CacheKey,
    V: CacheValue + DiskValue,
{
    type Key = Q::Owned;

    #[inline(always)]
    fn lookup(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, TieredTicket<Q::Owned, V, A::Store>> {
        through(site.tiered::<A::Store, Q::Owned, V>(weigh), query)
    }

    async fn lookup_async(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> Step<V, TieredTicket<Q::Owned, V, A::Store>> {
        match site.tiered::<A::Store, Q::Owned, V>(weigh) {
            Some(engine) => step(engine.entry_async_shared(query).await),
            None => disabled(),
        }
    }

    fn invalidate(site: &'static Site, query: &Q, _: StoredType<V>) -> bool {
        site.tiered::<A::Store, Q::Owned, V>(None)
            .is_some_and(|engine| Engine::remove(engine, query))
    }

    fn replacement(
        site: &'static Site,
        query: &Q,
        weigh: Option<fn(&Q::Owned, &V) -> u64>,
        _: StoredType<V>,
    ) -> TieredTicket<Q::Owned, V, A::Store> {
        replacing(site.tiered::<A::Store, Q::Owned, V>(weigh), query)
    }
}

/// `cache_if = predicate`: what the adapter would store, if the predicate accepts it (a
/// rejected value is not stored, and the callers waiting for it run their own call at once).
#[inline]
pub fn stored_if<V, F>(stored: Option<&V>, predicate: F) -> Option<&V>
where
    V: ?Sized,
    F: FnOnce(&V) -> bool,
{
    stored.filter(|value| predicate(value))
}

/// Runs the body of a sync function, typed as the function's return type. Kept out of line so
/// the wrapper's hit path stays a small function (few registers to save and restore).
#[inline(never)]
pub fn run_body<R, F: FnOnce() -> R>(body: F) -> R {
    body()
}

/// Types the inlined body of an `async fn` as the function's return type.
#[inline(always)]
pub fn run_body_async<R, F: std::future::Future<Output = R>>(body: F) -> F {
    body
}

/// The `max_bytes` weigher: estimated key plus value size.
pub fn weigh_entry<K: EstimateSize, V: EstimateSize>(key: &K, value: &V) -> u64 {
    (key.estimate_size() + value.estimate_size()) as u64
}

/// `maxsize = <const expression>`, as the spec stores it (the wrapper asserts, once, that it
/// is positive).
pub const fn const_count(entries: usize) -> u64 {
    entries as u64
}

/// `max_bytes`/`disk_max_bytes = <const expression>`: a `u64` number of bytes.
pub const fn const_bytes(bytes: u64) -> u64 {
    bytes
}

/// `ttl = <const expression>`: a `Duration`, or a `u64` number of seconds.
pub struct ConstTtl<T>(pub T);

impl ConstTtl<std::time::Duration> {
    pub const fn nanos(self) -> u64 {
        let nanos = self.0.as_nanos();
        assert!(nanos <= u64::MAX as u128, "`ttl` is too long");
        nanos as u64
    }
}

impl ConstTtl<u64> {
    pub const fn nanos(self) -> u64 {
        match self.0.checked_mul(1_000_000_000) {
            Some(nanos) => nanos,
            None => panic!("`ttl` is too long"),
        }
    }
}

/// Stores every return value as is.
pub struct Plain;

impl Plain {
    #[inline]
    pub fn stored_ref<R>(result: &R) -> Option<&R> {
        Some(result)
    }
    #[inline]
    pub fn from_stored<R>(value: R) -> R {
        value
    }
}

/// Stores the `Ok` value of a `Result`; errors are never cached.
pub struct OkOnly;

impl OkOnly {
    #[inline]
    pub fn stored_ref<T, E>(result: &Result<T, E>) -> Option<&T> {
        result.as_ref().ok()
    }
    #[inline]
    pub fn from_stored<T, E>(value: T) -> Result<T, E> {
        Ok(value)
    }
}

/// Stores the `Some` value of an `Option`; `None` is not cached.
pub struct SomeOnly;

impl SomeOnly {
    #[inline]
    pub fn stored_ref<T>(result: &Option<T>) -> Option<&T> {
        result.as_ref()
    }
    #[inline]
    pub fn from_stored<T>(value: T) -> Option<T> {
        Some(value)
    }
}

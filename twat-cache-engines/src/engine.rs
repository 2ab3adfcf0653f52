//! The contract every engine offers to code that caches a function's results: look a key up
//! and get a hit or the duty to fill the miss ([`Vacancy`]), sync or async, with single-flight
//! behind it; and remove a key. The memory engine and the disk engine (over each backend)
//! implement it, so the runtime has one lookup path whatever the engine, and a tiered engine
//! can be composed of others.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::disk::{Backend, DiskCache, DiskEntry, DiskVacant};
use crate::key::Lookup;
use crate::memory::{Entry, MemoryCache, VacantEntry};

/// The duty to fill one missed key. Dropped without either call (a panic, a cancelled
/// future), it releases the waiting callers to retry, one of them leading.
pub trait Vacancy<V> {
    /// Stores the computed value; the waiting callers then hit.
    fn fill(self, value: &V);
    /// Stores nothing (an `Err`, a `None`): the waiting callers compute their own, at once.
    fn release(self);
}

/// What a lookup found: the cached value, or the duty to compute it.
pub enum Found<V, T> {
    /// The cached value.
    Hit(V),
    /// Absent: this caller computes it and fills or releases the vacancy.
    Vacant(T),
}

/// A cache that can be looked up by a `Q` (a borrowed key, or anything `Serialize` for disk).
///
/// ```
/// use twat_cache::{Engine, Found, MemoryCache, Vacancy};
///
/// fn cached<E: Engine<u64, Value = String>>(engine: &E, key: u64) -> String {
///     match engine.lookup(&key) {
///         Found::Hit(v) => v,
///         Found::Vacant(vacancy) => {
///             let v = format!("computed {key}");
///             vacancy.fill(&v);
///             v
///         }
///     }
/// }
///
/// let cache: MemoryCache<u64, String> = MemoryCache::builder().build();
/// assert_eq!(cached(&cache, 3), "computed 3");
/// assert_eq!(cache.stats().misses, 1);
/// assert_eq!(cached(&cache, 3), "computed 3");
/// assert_eq!(cache.stats().hits, 1);
/// ```
pub trait Engine<Q: ?Sized>: Send + Sync {
    /// The stored value type.
    type Value;
    /// The duty to fill a miss.
    type Vacancy<'a>: Vacancy<Self::Value>
    where
        Self: 'a;

    /// Looks `query` up, blocking while another caller computes the same key.
    fn lookup(&self, query: &Q) -> Found<Self::Value, Self::Vacancy<'_>>;

    /// [`Engine::lookup`] for async callers: waiting is a future, never a blocked thread.
    fn lookup_async<'a, 'q>(
        &'a self,
        query: &'q Q,
    ) -> impl Future<Output = Found<Self::Value, Self::Vacancy<'a>>> + 'q
    where
        'a: 'q;

    /// Removes `query`'s entry (a computation of it in flight does not store); `true` if one
    /// was there.
    fn remove(&self, query: &Q) -> bool;

    /// The duty to store a value for `query` whether or not an entry exists: filling it
    /// replaces the entry (priming, or a forced recomputation). It joins no single-flight and
    /// counts no miss; a removal of `query` before it is filled still wins.
    ///
    /// ```
    /// use twat_cache::{Engine, MemoryCache, Vacancy};
    ///
    /// let cache: MemoryCache<u64, &str> = MemoryCache::builder().build();
    /// cache.insert(1, "old");
    /// Engine::replacement(&cache, &1u64).fill(&"new");
    /// assert_eq!(cache.get(&1), Some("new"));
    /// ```
    fn replacement(&self, query: &Q) -> Self::Vacancy<'_>;
}

impl<K, V> Vacancy<V> for VacantEntry<'_, K, V>
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    fn fill(self, value: &V) {
        self.insert(value.clone());
    }
    fn release(self) {
        VacantEntry::release(self);
    }
}

impl<'a, K, V> From<Entry<'a, K, V>> for Found<V, VacantEntry<'a, K, V>> {
    fn from(entry: Entry<'a, K, V>) -> Self {
        match entry {
            Entry::Hit(v) => Found::Hit(v),
            Entry::Vacant(vacant) => Found::Vacant(vacant),
        }
    }
}

impl<K, V, Q> Engine<Q> for MemoryCache<K, V>
where
    Q: ?Sized + Lookup<K>,
    K: std::hash::Hash + Eq + Send + Sync,
    V: Clone + Send + Sync,
{
    type Value = V;
    type Vacancy<'a>
        = VacantEntry<'a, K, V>
    where
        Self: 'a;

    #[inline]
    fn lookup(&self, query: &Q) -> Found<V, VacantEntry<'_, K, V>> {
        self.entry(query).into()
    }

    async fn lookup_async<'a, 'q>(&'a self, query: &'q Q) -> Found<V, VacantEntry<'a, K, V>>
    where
        'a: 'q,
    {
        self.entry_async(query).await.into()
    }

    fn remove(&self, query: &Q) -> bool {
        MemoryCache::remove(self, query)
    }

    fn replacement(&self, query: &Q) -> VacantEntry<'_, K, V> {
        MemoryCache::replacement(self, query)
    }
}

impl<S, V> Vacancy<V> for DiskVacant<'_, S, V>
where
    S: Backend,
    V: Serialize + DeserializeOwned + 'static,
{
    fn fill(self, value: &V) {
        self.insert(value);
    }
    fn release(self) {
        DiskVacant::release(self);
    }
}

impl<'a, S, V> From<DiskEntry<'a, S, V>> for Found<V, DiskVacant<'a, S, V>> {
    fn from(entry: DiskEntry<'a, S, V>) -> Self {
        match entry {
            DiskEntry::Hit(v) => Found::Hit(v),
            DiskEntry::Vacant(vacant) => Found::Vacant(vacant),
        }
    }
}

impl<S, V, Q> Engine<Q> for DiskCache<S, V>
where
    Q: ?Sized + Serialize + Sync,
    S: Backend,
    V: Serialize + DeserializeOwned + 'static,
{
    type Value = V;
    type Vacancy<'a>
        = DiskVacant<'a, S, V>
    where
        Self: 'a;

    fn lookup(&self, query: &Q) -> Found<V, DiskVacant<'_, S, V>> {
        self.entry(query).into()
    }

    async fn lookup_async<'a, 'q>(&'a self, query: &'q Q) -> Found<V, DiskVacant<'a, S, V>>
    where
        'a: 'q,
    {
        self.entry_async(query).await.into()
    }

    fn remove(&self, query: &Q) -> bool {
        DiskCache::remove(self, query)
    }

    fn replacement(&self, query: &Q) -> DiskVacant<'_, S, V> {
        DiskCache::replacement(self, query)
    }
}

/// `get_or_insert_with` of every engine, written once over a lookup's outcome.
pub(crate) fn fill_with<V, T: Vacancy<V>>(found: Found<V, T>, make: impl FnOnce() -> V) -> V {
    match found {
        Found::Hit(value) => value,
        Found::Vacant(vacancy) => {
            let value = make();
            vacancy.fill(&value);
            value
        }
    }
}

/// `get_or_try_insert_with` of every engine: an `Err` is returned and not stored, and the
/// callers waiting for it compute their own at once.
pub(crate) fn try_fill_with<V, E, T: Vacancy<V>>(
    found: Found<V, T>,
    make: impl FnOnce() -> Result<V, E>,
) -> Result<V, E> {
    match found {
        Found::Hit(value) => Ok(value),
        Found::Vacant(vacancy) => settle(vacancy, make()),
    }
}

/// Stores an `Ok` result; on an `Err`, lets the waiting callers compute their own at once.
fn settle<V, E, T: Vacancy<V>>(vacancy: T, result: Result<V, E>) -> Result<V, E> {
    match result {
        Ok(value) => {
            vacancy.fill(&value);
            Ok(value)
        }
        Err(e) => {
            vacancy.release();
            Err(e)
        }
    }
}

/// [`fill_with`] for async callers: `make` is polled only on a miss.
pub(crate) async fn fill_with_async<V, T: Vacancy<V>>(
    found: Found<V, T>,
    make: impl Future<Output = V>,
) -> V {
    match found {
        Found::Hit(value) => value,
        Found::Vacant(vacancy) => {
            let value = make.await;
            vacancy.fill(&value);
            value
        }
    }
}

/// [`try_fill_with`] for async callers.
pub(crate) async fn try_fill_with_async<V, E, T: Vacancy<V>>(
    found: Found<V, T>,
    make: impl Future<Output = Result<V, E>>,
) -> Result<V, E> {
    match found {
        Found::Hit(value) => Ok(value),
        Found::Vacant(vacancy) => settle(vacancy, make.await),
    }
}

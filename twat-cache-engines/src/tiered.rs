//! [`Tiered`]: a memory cache in front of a disk cache — the engine `#[ucache]` is made of.
//!
//! A lookup runs one single-flight, the memory tier's: a hit there never touches the disk; its
//! leader reads the disk tier (without a second in-process flight, but holding the disk's
//! cross-process entry lock on a miss) and an L2 hit fills L1, capped at what is left of the
//! L2 entry's life, so an L1 copy never outlives it. A computed value is written through to
//! both tiers; `remove` reaches both.
//!
//! Large values (stored entries above [`Tiered::l1_value_limit`], 32 KiB by default — where
//! diskcache moves values to files) stay on disk only: a copy in memory would cost more than
//! the file read it saves, and a memory tier bounded by entry count would otherwise hold
//! `maxsize` times the largest value.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::disk::{Backend, CROSS_PROCESS_WAIT, DiskCache, DiskHit, DiskVacant};
use crate::engine::{
    Engine, Found, Vacancy, fill_with, fill_with_async, try_fill_with, try_fill_with_async,
};
use crate::key::Lookup;
use crate::memory::{Entry, MemoryCache, VacantEntry};
use crate::offload;

/// A memory tier (L1) in front of a disk tier (L2).
///
/// ```
/// use twat_cache::{Engine, FileCache, Found, MemoryCache, Policy, Tiered, Vacancy};
///
/// let dir = tempfile::tempdir().unwrap();
/// let tiered = Tiered::new(
///     MemoryCache::<u64, String>::builder().maxsize(2).policy(Policy::Lru).build(),
///     FileCache::<String>::builder(dir.path()).build(),
/// );
/// let get = |k: u64| match tiered.lookup(&k) {
///     Found::Hit(v) => v,
///     Found::Vacant(vacancy) => {
///         let v = format!("value {k}");
///         vacancy.fill(&v);
///         v
///     }
/// };
/// for k in 0..4 {
///     get(k);
/// }
/// assert_eq!(get(0), "value 0"); // evicted from L1 (2 entries), found on disk
/// assert_eq!(tiered.l2_hits(), 1);
/// ```
pub struct Tiered<L1, L2> {
    l1: L1,
    l2: L2,
    l2_hits: AtomicU64,
    l1_value_limit: u64,
}

/// Stored entries larger than this stay out of the memory tier by default (diskcache's
/// threshold for keeping a value in its own file).
pub const L1_VALUE_LIMIT: u64 = 32 << 10;

impl<L1, L2> Tiered<L1, L2> {
    /// Composes the tiers.
    pub fn new(l1: L1, l2: L2) -> Self {
        Self {
            l1,
            l2,
            l2_hits: AtomicU64::new(0),
            l1_value_limit: L1_VALUE_LIMIT,
        }
    }

    /// Keeps values whose stored entry exceeds `bytes` on disk only (default
    /// [`L1_VALUE_LIMIT`]; `u64::MAX` copies every value into memory).
    pub fn with_l1_value_limit(mut self, bytes: u64) -> Self {
        self.l1_value_limit = bytes;
        self
    }

    /// See [`Tiered::with_l1_value_limit`].
    pub fn l1_value_limit(&self) -> u64 {
        self.l1_value_limit
    }

    /// The memory tier.
    pub fn l1(&self) -> &L1 {
        &self.l1
    }

    /// The disk tier.
    pub fn l2(&self) -> &L2 {
        &self.l2
    }

    /// Lookups the disk tier answered (after missing the memory tier).
    pub fn l2_hits(&self) -> u64 {
        self.l2_hits.load(Ordering::Relaxed)
    }
}

/// The duty to fill a miss of both tiers.
pub struct TieredVacancy<'a, K, V, S> {
    l1: VacantEntry<'a, K, V>,
    l2: DiskVacant<'a, S, V>,
    l1_value_limit: u64,
    /// Whether an entry may exist (a replacement): a large new value must then remove the
    /// memory copy of the old one.
    replacing: bool,
}

impl<K, V, S> Vacancy<V> for TieredVacancy<'_, K, V, S>
where
    K: std::hash::Hash + Eq,
    V: Clone + Serialize + DeserializeOwned + 'static,
    S: Backend,
{
    fn fill(self, value: &V) {
        // Write-through: the shared tier first, then the waiters' tier.
        let stored = self.l2.store(value);
        Self::fill_l1(self.l1, value, stored, self.l1_value_limit, self.replacing);
    }

    fn release(self) {
        self.l2.release();
        self.l1.release();
    }
}

impl<'a, K, V, S> TieredVacancy<'a, K, V, S>
where
    K: std::hash::Hash + Eq,
    V: Clone + Serialize + DeserializeOwned + 'static,
    S: Backend,
{
    /// The memory tier after the disk tier took `stored` bytes (or did not): a value the disk
    /// did not take (too large for its bound, a fault) is kept in memory all the same.
    fn fill_l1(
        l1: VacantEntry<'a, K, V>,
        value: &V,
        stored: Option<u64>,
        limit: u64,
        replacing: bool,
    ) {
        match stored {
            Some(len) if len > limit && replacing => l1.replaced_elsewhere(),
            Some(len) if len > limit => l1.stored_elsewhere(),
            _ => l1.insert(value.clone()),
        }
    }
}

impl<K, V, S> TieredVacancy<'static, K, V, S>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    S: Backend,
{
    /// [`Vacancy::fill`] for async callers of an engine that lives as long as the program:
    /// when the second tier is on a server (`!S::LOCAL`), the record is encoded here and
    /// written from a storage worker thread (`offload.rs`), so the executor thread is not
    /// blocked on the network.
    pub async fn fill_async_shared(self, value: &V) {
        if S::LOCAL {
            return self.fill(value);
        }
        let Self {
            l1,
            l2,
            l1_value_limit,
            replacing,
        } = self;
        let record = l2.encode(value);
        let stored = offload::unblock(move || l2.store_encoded(record)).await;
        Self::fill_l1(l1, value, stored, l1_value_limit, replacing);
    }
}

impl<K, V, S> Tiered<MemoryCache<K, V>, DiskCache<S, V>>
where
    K: std::hash::Hash + Eq + Send + Sync,
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    S: Backend,
{
    /// After an L1 miss (or an early refresh) this caller leads: the disk tier, then (on a
    /// miss) the vacancy.
    fn below<'a, Q>(
        &'a self,
        l1: VacantEntry<'a, K, V>,
        query: &Q,
        wait: Duration,
    ) -> Found<V, TieredVacancy<'a, K, V, S>>
    where
        Q: ?Sized + Serialize,
    {
        let found = match l1.early_draw() {
            Some(draw) => {
                let key = self.l2.serialized_key(query);
                self.l2.lead_early(key.as_deref(), draw)
            }
            None => self.l2.lead(query, wait),
        };
        self.settle_below(l1, found)
    }

    /// What the disk tier's lead found, seen from the memory tier: a hit fills it (unless the
    /// value is too large for it), a miss becomes the vacancy of both tiers. For an early
    /// refresh of the memory tier's copy, the disk tier decided (see `DiskCache::lead_early`):
    /// its entry, if another process refreshes or refreshed it, or the vacancy.
    fn settle_below<'a>(
        &'a self,
        l1: VacantEntry<'a, K, V>,
        found: Found<DiskHit<V>, DiskVacant<'a, S, V>>,
    ) -> Found<V, TieredVacancy<'a, K, V, S>> {
        match found {
            Found::Hit(DiskHit {
                value,
                lifetime,
                stored_len,
                took,
            }) => {
                self.l2_hits.fetch_add(1, Ordering::Relaxed);
                if stored_len > self.l1_value_limit {
                    l1.stored_elsewhere();
                } else {
                    l1.insert_measured(value.clone(), lifetime, Some(took));
                }
                Found::Hit(value)
            }
            Found::Vacant(l2) => Found::Vacant(TieredVacancy {
                replacing: l1.is_early_refresh(),
                l1,
                l2,
                l1_value_limit: self.l1_value_limit,
            }),
        }
    }

    /// [`Engine::lookup_async`] as an inherent method, whose future the compiler can prove
    /// `Send` (a trait method's future built on a generic associated type it cannot yet:
    /// rust-lang/rust#100013). Waiting for a concurrent computation is a future; a miss reads
    /// the disk inline and does not wait for another process's computation.
    pub async fn entry_async<Q>(&self, query: &Q) -> Found<V, TieredVacancy<'_, K, V, S>>
    where
        Q: ?Sized + Lookup<K> + Serialize + Sync,
    {
        match self.l1.entry_async(query).await {
            Entry::Hit(v) => Found::Hit(v),
            Entry::Vacant(l1) => self.below(l1, query, Duration::ZERO),
        }
    }

    /// [`Tiered::entry_async`] for an engine that lives as long as the program (as the
    /// attributes' do). When the second tier is on a server (`!S::LOCAL`), its round trips run
    /// on the storage workers (`offload.rs`): the executor thread awaiting the lookup is never
    /// blocked on the network, whichever executor it is — nor when the vacancy is dropped
    /// there (a result not stored, a cancelled call): its lock is released from the workers.
    pub async fn entry_async_shared<Q>(
        &'static self,
        query: &Q,
    ) -> Found<V, TieredVacancy<'static, K, V, S>>
    where
        Q: ?Sized + Lookup<K> + Serialize + Sync,
    {
        match self.l1.entry_async(query).await {
            Entry::Hit(v) => Found::Hit(v),
            Entry::Vacant(l1) if S::LOCAL => self.below(l1, query, Duration::ZERO),
            Entry::Vacant(l1) => {
                let key = self.l2.serialized_key(query);
                let (l2, early) = (&self.l2, l1.early_draw());
                let found = offload::unblock(move || {
                    let mut found = match early {
                        Some(draw) => l2.lead_early(key.as_deref(), draw),
                        None => l2.lead_serialized(key.as_deref(), Duration::ZERO),
                    };
                    // The vacancy is dropped on the executor's thread when the result is not
                    // stored or the call is cancelled: its lock must not be released there.
                    if let Found::Vacant(vacant) = &mut found {
                        vacant.release_lock_on_workers();
                    }
                    found
                })
                .await;
                self.settle_below(l1, found)
            }
        }
    }
}

impl<K, V, S> Tiered<MemoryCache<K, V>, DiskCache<S, V>>
where
    K: std::hash::Hash + Eq + Send + Sync,
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    S: Backend,
{
    /// The cached value for `key` (memory first, then disk), or `make()`'s, stored in both
    /// tiers (single-flight).
    ///
    /// ```
    /// use twat_cache::{FileCache, MemoryCache, Tiered};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let tiered = Tiered::new(
    ///     MemoryCache::<String, usize>::builder().maxsize(100).build(),
    ///     FileCache::<usize>::builder(dir.path()).build(),
    /// );
    /// assert_eq!(tiered.get_or_insert_with("abc", || 3), 3);
    /// assert_eq!(tiered.get_or_insert_with("abc", || unreachable!()), 3);
    /// tiered.clear();
    /// assert_eq!(tiered.stats().len, 0);
    /// ```
    pub fn get_or_insert_with<Q>(&self, key: &Q, make: impl FnOnce() -> V) -> V
    where
        Q: ?Sized + Lookup<K> + Serialize + Sync,
    {
        fill_with(self.lookup(key), make)
    }

    /// Like [`Tiered::get_or_insert_with`], but an `Err` is returned and stored in neither tier.
    pub fn get_or_try_insert_with<Q, E>(
        &self,
        key: &Q,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E>
    where
        Q: ?Sized + Lookup<K> + Serialize + Sync,
    {
        try_fill_with(self.lookup(key), make)
    }

    /// [`Tiered::get_or_insert_with`] for async callers: waiting for a concurrent computation
    /// is a future, and `make` is polled only on a miss of both tiers.
    ///
    /// ```
    /// use twat_cache::{FileCache, MemoryCache, Tiered};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let tiered = Tiered::new(
    ///     MemoryCache::<u64, String>::builder().build(),
    ///     FileCache::<String>::builder(dir.path()).build(),
    /// );
    /// futures::executor::block_on(async {
    ///     let v = tiered.get_or_insert_with_async(&1, async { "one".to_string() }).await;
    ///     assert_eq!(v, "one");
    ///     let failed = tiered.get_or_try_insert_with_async(&2, async { Err::<String, _>("no") });
    ///     assert_eq!(failed.await, Err("no"));
    /// });
    /// assert_eq!(tiered.get_or_try_insert_with(&1, || Err::<String, ()>(())).as_deref(), Ok("one"));
    /// ```
    pub async fn get_or_insert_with_async<Q>(&self, key: &Q, make: impl Future<Output = V>) -> V
    where
        Q: ?Sized + Lookup<K> + Serialize + Sync,
    {
        fill_with_async(self.entry_async(key).await, make).await
    }

    /// [`Tiered::get_or_try_insert_with`] for async callers.
    pub async fn get_or_try_insert_with_async<Q, E>(
        &self,
        key: &Q,
        make: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E>
    where
        Q: ?Sized + Lookup<K> + Serialize + Sync,
    {
        try_fill_with_async(self.entry_async(key).await, make).await
    }

    /// The value stored for `key`: from memory, else from disk (a disk hit is not copied into
    /// memory here; [`Tiered::get_or_insert_with`] does that).
    ///
    /// ```
    /// use twat_cache::{FileCache, MemoryCache, Tiered};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let tiered = Tiered::new(
    ///     MemoryCache::<u64, String>::builder().build(),
    ///     FileCache::<String>::builder(dir.path()).build(),
    /// );
    /// tiered.insert(&1, "one".to_string());
    /// assert_eq!(tiered.get(&1).as_deref(), Some("one"));
    /// assert!(tiered.remove(&1));
    /// assert_eq!(tiered.get(&1), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: ?Sized + Lookup<K> + Serialize,
    {
        if let Some(value) = self.l1.get(key) {
            return Some(value);
        }
        let value = self.l2.get(key)?;
        self.l2_hits.fetch_add(1, Ordering::Relaxed);
        Some(value)
    }

    /// Removes `key` from both tiers; `true` if either held it.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        Q: ?Sized + Lookup<K> + Serialize,
    {
        let on_disk = self.l2.remove(key);
        self.l1.remove(key) || on_disk
    }

    /// Stores `value` under `key` in both tiers.
    pub fn insert<Q>(&self, key: &Q, value: V)
    where
        Q: ?Sized + Lookup<K> + Serialize,
    {
        match self.l2.insert_sized(key, &value) {
            Some(len) if len > self.l1_value_limit => {
                self.l1.remove(key);
            }
            _ => self.l1.insert(key.to_key(), value),
        }
    }

    /// Empties both tiers.
    pub fn clear(&self) {
        self.l2.clear();
        self.l1.clear();
    }

    /// The whole cache's counters: hits of either tier, misses of both, the disk tier's
    /// entries and bytes (every entry is written through to it), errors of either.
    pub fn stats(&self) -> crate::CacheStats {
        let (memory, disk) = (self.l1.stats(), self.l2.stats());
        crate::CacheStats {
            hits: memory.hits + self.l2_hits(),
            misses: memory.misses.saturating_sub(self.l2_hits()),
            inserts: disk.inserts,
            evictions: disk.evictions,
            expirations: disk.expirations,
            errors: memory.errors + disk.errors,
            len: disk.len,
            bytes: disk.bytes,
        }
    }
}

impl<K, V, S, Q> Engine<Q> for Tiered<MemoryCache<K, V>, DiskCache<S, V>>
where
    Q: ?Sized + Lookup<K> + Serialize + Sync,
    K: std::hash::Hash + Eq + Send + Sync,
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    S: Backend,
{
    type Value = V;
    type Vacancy<'a>
        = TieredVacancy<'a, K, V, S>
    where
        Self: 'a;

    #[inline]
    fn lookup(&self, query: &Q) -> Found<V, TieredVacancy<'_, K, V, S>> {
        match self.l1.entry(query) {
            Entry::Hit(v) => Found::Hit(v),
            Entry::Vacant(l1) => self.below(l1, query, CROSS_PROCESS_WAIT),
        }
    }

    async fn lookup_async<'a, 'q>(&'a self, query: &'q Q) -> Found<V, TieredVacancy<'a, K, V, S>>
    where
        'a: 'q,
    {
        self.entry_async(query).await
    }

    fn remove(&self, query: &Q) -> bool {
        Tiered::remove(self, query)
    }

    fn replacement(&self, query: &Q) -> TieredVacancy<'_, K, V, S> {
        TieredVacancy {
            l1: self.l1.replacement(query),
            l2: self.l2.replacement(query),
            l1_value_limit: self.l1_value_limit,
            replacing: true,
        }
    }
}

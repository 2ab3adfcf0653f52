//! The concurrent in-memory engine behind `#[mcache]` (and the L1 of `#[ucache]`).
//!
//! Layout: `store.rs` holds one shard's entries, `eviction.rs` the policies, `sketch.rs` the
//! W-TinyLFU frequency sketch, `shard.rs` the lock and counters around a store, and this file the
//! sharded front: hashing, TTL, single-flight and the public API.

mod builder;
mod eviction;
mod shard;
mod sketch;
mod store;

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

pub use builder::MemoryCacheBuilder;
use eviction::{Env, Removed, Taken};
use shard::Shard;
use store::{Cap, Stamp};

use crate::early::{EarlyRefresh, pack_delta, unpack_delta};
use crate::engine::{fill_with, fill_with_async, try_fill_with, try_fill_with_async};
use crate::flight::{self, Flight, Join, Outcome};
use crate::hit_counter::HitCounter;
use crate::stats::Counters;
use crate::{CacheStats, Clock, Lookup, Policy};

/// Estimated size of an entry, used against `max_bytes`.
///
/// ```
/// use twat_cache::Weigher;
///
/// let by_length: Weigher<String, Vec<u8>> = Box::new(|k, v| (k.len() + v.len()) as u64);
/// assert_eq!(by_length(&"ab".to_string(), &vec![0; 3]), 5);
/// ```
pub type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u64 + Send + Sync>;

/// A sharded, concurrent, bounded in-memory cache.
///
/// A hit costs one hash, a shard read lock and a couple of relaxed atomics (for LRU and LFU, whose
/// hits reorder entries, a write lock). Lookups accept any borrowed form of the key (see
/// [`Lookup`]), so finding a `String` key with a `&str` does not allocate.
///
/// ```
/// use std::time::Duration;
/// use twat_cache::{MemoryCache, Policy};
///
/// let cache: MemoryCache<String, u64> = MemoryCache::builder()
///     .maxsize(1_000)
///     .ttl(Duration::from_secs(60))
///     .policy(Policy::Lru)
///     .build();
/// cache.insert("answer".to_string(), 42);
/// assert_eq!(cache.get("answer"), Some(42));
/// assert_eq!(cache.get_or_insert_with("other".to_string(), || 7), 7);
/// assert_eq!(cache.stats().hits, 1);
/// assert!(cache.remove("answer"));
/// assert_eq!(cache.len(), 1);
/// ```
pub struct MemoryCache<K, V> {
    shards: Box<[CachePadded<Shard<K, V>>]>,
    shard_mask: usize,
    hits: HitCounter,
    hasher: foldhash::fast::RandomState,
    policy: Policy,
    /// No TTL and a policy that does not reorder on hits: hits take the shortest path.
    plain_hits: bool,
    /// Entry lifetime in clock nanoseconds; 0 = no TTL.
    ttl: u64,
    refresh: bool,
    single_flight: bool,
    /// Probabilistic early refresh (`None`: off; see `early.rs`).
    early: Option<EarlyRefresh>,
    clock: Clock,
    weigher: Weigher<K, V>,
    /// With a byte bound: the bytes of all shards together. The bound is the whole cache's,
    /// not split across shards (a share of 256 MiB over 64 shards refused anything over 4 MiB).
    shared_bytes: Option<Box<CachePadded<AtomicU64>>>,
}

/// A hit whose early refresh is due: the deadline it was judged by, and the draw; or, for a
/// `renewal`, a copy whose cap is near: the cap's `until` (see `store::Cap`).
#[derive(Clone, Copy)]
struct Due {
    deadline: u64,
    draw: f64,
    renewal: bool,
}

/// The outcome of [`MemoryCache::entry`]: the cached value, or the right to compute it.
///
/// ```
/// use twat_cache::{Entry, MemoryCache};
///
/// let cache: MemoryCache<String, usize> = MemoryCache::builder().build();
/// let len = match cache.entry("hello") {
///     Entry::Hit(len) => len,
///     Entry::Vacant(vacant) => {
///         let len = vacant.key().len(); // the expensive part; concurrent callers wait
///         vacant.insert(len);
///         len
///     }
/// };
/// assert_eq!(len, 5);
/// assert!(matches!(cache.entry("hello"), Entry::Hit(5)));
/// ```
pub enum Entry<'a, K, V> {
    /// The key was cached (or was computed by a concurrent caller we waited for).
    Hit(V),
    /// The key is absent; this caller computes it. Other callers of the same key wait until the
    /// [`VacantEntry`] is filled or dropped.
    Vacant(VacantEntry<'a, K, V>),
}

/// The right to fill one absent key; dropping it without [`VacantEntry::insert`] (an error, a
/// panic, a cancelled future) wakes the waiters so one of them can try.
///
/// ```
/// use twat_cache::{Entry, MemoryCache};
///
/// let cache: MemoryCache<u32, u32> = MemoryCache::builder().build();
/// if let Entry::Vacant(vacant) = cache.entry(&1) {
///     drop(vacant); // e.g. the computation failed: nothing is stored
/// }
/// assert_eq!(cache.get(&1), None);
/// ```
pub struct VacantEntry<'a, K, V> {
    cache: &'a MemoryCache<K, V>,
    hash: u64,
    key: Option<K>,
    flight: Option<Arc<Flight>>,
    /// The shard's generation when the computation started.
    generation: u64,
    /// When the computation started (clock nanoseconds), to record how long it took; 0 when
    /// the cache does not refresh early.
    started: u64,
    /// An early refresh of a live entry: the draw that made it due (see `early.rs`).
    early: Option<f64>,
    /// A renewal of a live copy whose cap is near, from the tier that holds the entry.
    renewal: bool,
    /// What the waiters are told when this is dropped.
    outcome: Outcome,
}

impl<K, V> MemoryCache<K, V> {
    /// Starts a builder; see [`MemoryCacheBuilder`] for the options.
    pub fn builder() -> MemoryCacheBuilder<K, V> {
        MemoryCacheBuilder::default()
    }

    /// The eviction policy in use.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    #[inline]
    fn shard_of(&self, hash: u64) -> &Shard<K, V> {
        &self.shards[self.shard_index(hash)]
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        // Skip the top 7 bits: the hash table uses them as tags within the shard.
        ((hash << 7) >> 32) as usize & self.shard_mask
    }

    #[inline]
    fn now(&self) -> u64 {
        if self.ttl == 0 {
            0
        } else {
            self.clock.now_nanos()
        }
    }

    #[inline]
    fn deadline(&self, now: u64) -> u64 {
        if self.ttl == 0 {
            0
        } else {
            now.saturating_add(self.ttl)
        }
    }

    /// The cap of a copy stored at `now` whose entry elsewhere lives `lifetime` nanoseconds
    /// more: only a cache that slides deadlines needs one, renewing from half that life on.
    fn cap_within(&self, now: u64, lifetime: Option<u64>) -> Cap {
        match lifetime {
            Some(life) if self.refresh && self.ttl != 0 => Cap {
                until: now.saturating_add(life.max(1)),
                renew_at: now.saturating_add(life / 2).max(1),
            },
            _ => Cap::default(),
        }
    }

    /// The deadline of an entry stored at `now`, capped at `lifetime` nanoseconds if given.
    fn deadline_within(&self, now: u64, lifetime: Option<u64>) -> u64 {
        match (self.deadline(now), lifetime) {
            (0, _) => 0,
            (deadline, Some(cap)) => deadline.min(now.saturating_add(cap.max(1))),
            (deadline, None) => deadline,
        }
    }

    /// Number of entries held (expired entries not yet swept included).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.store.read().len()).sum()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and current size.
    pub fn stats(&self) -> CacheStats {
        let per_shard = self
            .shards
            .iter()
            .fold(CacheStats::default(), |acc, shard| {
                let mut s = shard.counters.snapshot();
                let store = shard.store.read();
                s.len = store.len() as u64;
                s.bytes = store.bytes;
                acc.merge(s)
            });
        CacheStats {
            hits: self.hits.total(),
            ..per_shard
        }
    }

    /// Removes every entry (counters are kept).
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut store = shard.store.write();
            shard.generation.fetch_add(1, Ordering::Release);
            if let Some(shared) = &self.shared_bytes {
                shared.fetch_sub(store.bytes, Ordering::Relaxed);
            }
            let dropped = store.clear();
            drop(store);
            drop(dropped);
        }
    }
}

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq,
    V: Clone,
{
    #[inline]
    fn hash<Q: ?Sized + Hash>(&self, q: &Q) -> u64 {
        self.hasher.hash_one(q)
    }

    fn env(&self, shard: &Shard<K, V>) -> Env<'_, K, V> {
        Env {
            policy: self.policy,
            limits: shard.limits,
            hasher: &self.hasher,
            weigh: &*self.weigher,
            shared_bytes: self.shared_bytes.as_deref().map(|b| &**b),
        }
    }

    /// The value for `query`, counting a hit or a miss.
    #[inline(always)]
    pub fn get<Q>(&self, query: &Q) -> Option<V>
    where
        Q: ?Sized + Lookup<K>,
    {
        let hash = self.hash(query);
        let shard = self.shard_of(hash);
        let found = self.find(shard, hash, query);
        if found.is_none() {
            Counters::bump(&shard.counters.misses, 1);
        }
        found
    }

    /// Whether `query` has a live entry; unlike [`MemoryCache::get`] this touches neither the
    /// policy's bookkeeping nor the counters.
    pub fn contains_key<Q>(&self, query: &Q) -> bool
    where
        Q: ?Sized + Lookup<K>,
    {
        let hash = self.hash(query);
        let now = self.now();
        let store = self.shard_of(hash).store.read();
        store
            .find(hash, |k| query.matches(k))
            .is_some_and(|i| !store.is_expired(i, now))
    }

    /// Hit path: counts hits only, so callers decide what a miss is.
    #[inline(always)]
    fn find<Q>(&self, shard: &Shard<K, V>, hash: u64, query: &Q) -> Option<V>
    where
        Q: ?Sized + Lookup<K>,
    {
        if self.plain_hits {
            return self.find_plain(shard, hash, query);
        }
        self.find_or_due::<Q, false>(shard, hash, query)
            .map(|(value, _)| value)
    }

    /// The hit of a cache with `plain_hits` (no TTL, and a policy whose hit is one relaxed
    /// atomic): the shortest path. Returning `Option<V>` itself, not through
    /// [`MemoryCache::find_or_due`]'s tuple, keeps the value in registers (the tuple went
    /// through the stack: 5 more instructions and a store-to-load round trip per hit).
    #[inline(always)]
    fn find_plain<Q>(&self, shard: &Shard<K, V>, hash: u64, query: &Q) -> Option<V>
    where
        Q: ?Sized + Lookup<K>,
    {
        let store = shard.store.read();
        let slot = store.slot(store.find(hash, |k| query.matches(k))?);
        eviction::on_hit_shared(self.policy, slot);
        let value = slot.value.clone();
        drop(store);
        self.hits.add(1);
        Some(value)
    }

    /// [`MemoryCache::find`]; with `EARLY`, a hit whose early refresh is due also comes with
    /// the deadline it was judged by.
    #[inline(always)]
    fn find_or_due<Q, const EARLY: bool>(
        &self,
        shard: &Shard<K, V>,
        hash: u64,
        query: &Q,
    ) -> Option<(V, Option<Due>)>
    where
        Q: ?Sized + Lookup<K>,
    {
        if self.plain_hits {
            return self
                .find_plain(shard, hash, query)
                .map(|value| (value, None));
        }
        if self.policy.reorders_on_hit() {
            return self.find_exclusive::<Q, EARLY>(shard, hash, query);
        }
        let now = self.now();
        let store = shard.store.read();
        let index = store.find(hash, |k| query.matches(k))?;
        let slot = store.slot(index);
        if self.ttl != 0 {
            if store.is_expired(index, now) {
                drop(store);
                self.expire(shard, hash, query, now);
                return None;
            }
            if self.refresh {
                store.slide_deadline(index, self.deadline(now));
            }
        }
        let due = if EARLY {
            self.due(&store, index, now)
        } else {
            None
        };
        eviction::on_hit_shared(self.policy, slot);
        let value = slot.value.clone();
        drop(store);
        self.hits.add(1);
        Some((value, due))
    }

    /// If the early refresh of the entry at `index` is due at `now`: its deadline, and the
    /// draw that made it due; else if the entry is a copy whose renewal is due.
    #[inline]
    fn due(&self, store: &store::Store<K, V>, index: u32, now: u64) -> Option<Due> {
        if let Some(early) = self.early.as_ref() {
            let deadline = store.deadline(index);
            if let Some(draw) = early.due(now, deadline, unpack_delta(store.slot(index).delta)) {
                return Some(Due {
                    deadline,
                    draw,
                    renewal: false,
                });
            }
        }
        if !self.refresh {
            return None; // only copies in a cache that slides deadlines have caps
        }
        let cap = store.cap(index);
        (cap.renew_at != 0 && now >= cap.renew_at).then_some(Due {
            deadline: cap.until,
            draw: 0.0,
            renewal: true,
        })
    }

    fn find_exclusive<Q, const EARLY: bool>(
        &self,
        shard: &Shard<K, V>,
        hash: u64,
        query: &Q,
    ) -> Option<(V, Option<Due>)>
    where
        Q: ?Sized + Lookup<K>,
    {
        let now = self.now();
        let mut store = shard.store.write();
        let index = store.find(hash, |k| query.matches(k))?;
        if store.is_expired(index, now) {
            let removed = self.env(shard).take(&mut store, index);
            drop(store);
            drop(removed); // the value is dropped outside the lock
            Counters::bump(&shard.counters.expirations, 1);
            return None;
        }
        if self.refresh && self.ttl != 0 {
            store.slide_deadline(index, self.deadline(now));
        }
        let due = if EARLY {
            self.due(&store, index, now)
        } else {
            None
        };
        let value = store.slot(index).value.clone();
        eviction::on_hit_exclusive(&mut store, self.policy, index);
        drop(store);
        self.hits.add(1);
        Some((value, due))
    }

    /// Removes `query`'s entry if it is (still) expired.
    #[cold]
    fn expire<Q>(&self, shard: &Shard<K, V>, hash: u64, query: &Q, now: u64)
    where
        Q: ?Sized + Lookup<K>,
    {
        let mut store = shard.store.write();
        if let Some(index) = store.find(hash, |k| query.matches(k))
            && store.is_expired(index, now)
        {
            let removed = self.env(shard).take(&mut store, index);
            drop(store);
            drop(removed); // the value is dropped outside the lock
            Counters::bump(&shard.counters.expirations, 1);
        }
    }

    /// Stores `value` under `key`, replacing any previous value, evicting as the policy decides.
    /// A value heavier than the byte budget is not stored.
    pub fn insert(&self, key: K, value: V) {
        let hash = self.hash(&key);
        self.insert_hashed(hash, key, value, None, None, 0);
    }

    /// This cache's clock, in nanoseconds.
    pub(crate) fn clock_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// [`MemoryCache::insert`] of a copy of an entry another tier holds for `lifetime` more
    /// (`None`: no deadline): it never outlives that entry, even with `refresh`.
    pub(crate) fn insert_copy(&self, key: K, value: V, lifetime: Option<std::time::Duration>) {
        let hash = self.hash(&key);
        let lifetime = lifetime.map(crate::clock::duration_nanos);
        self.insert_hashed(hash, key, value, None, lifetime, 0);
    }

    /// Stores `key`; with `generation`, only if no removal happened in the shard since then;
    /// with `lifetime`, expiring no later than that many nanoseconds from now (when the cache
    /// has a TTL); `delta` is how long computing it took (packed). Returns whether it was
    /// stored.
    fn insert_hashed(
        &self,
        hash: u64,
        key: K,
        value: V,
        generation: Option<u64>,
        lifetime: Option<u64>,
        delta: u16,
    ) -> bool {
        let shard = self.shard_of(hash);
        let now = self.now();
        let env = self.env(shard);
        let mut removed = Removed::default();
        let mut replaced = None;
        let stored = {
            let mut store = shard.store.write();
            if generation.is_some_and(|g| g != shard.generation.load(Ordering::Acquire)) {
                drop(store);
                drop((key, value));
                return false;
            }
            if let Some(index) = store.find(hash, |k| *k == key) {
                replaced = Some(env.take(&mut store, index));
            }
            eviction::insert_new(
                &mut store,
                &env,
                hash,
                (
                    key,
                    value,
                    Stamp {
                        expires: self.deadline_within(now, lifetime),
                        delta,
                        cap: self.cap_within(now, lifetime),
                    },
                ),
                now,
                &mut removed,
            )
        };
        let counters = &shard.counters;
        Counters::bump(&counters.inserts, u64::from(stored));
        Counters::bump(&counters.evictions, removed.evicted.len() as u64);
        Counters::bump(&counters.expirations, removed.expired.len() as u64);
        // Values are dropped here, outside the lock.
        drop((removed, replaced));
        if let Some(shared) = env.shared_bytes
            && shared.load(Ordering::Relaxed) > env.limits.max_bytes
        {
            self.trim_other_shards(self.shard_index(hash), shared, env.limits.max_bytes);
        }
        stored
    }

    /// After an insert left the cache over its byte bound because the rest of the bytes are in
    /// other shards (its own had nothing more to evict): evicts from the others, one entry per
    /// shard in turn, each under its own lock and never two at once, until the cache fits.
    #[cold]
    #[inline(never)]
    fn trim_other_shards(&self, home: usize, shared: &AtomicU64, max_bytes: u64) {
        loop {
            let mut evicted_any = false;
            for step in 1..self.shards.len() {
                if shared.load(Ordering::Relaxed) <= max_bytes {
                    return;
                }
                let shard = &self.shards[(home + step) & self.shard_mask];
                let env = self.env(shard);
                let mut evicted = Taken::default();
                evicted_any |= eviction::evict_one(&mut shard.store.write(), &env, &mut evicted);
                Counters::bump(&shard.counters.evictions, evicted.len() as u64);
                // The value is dropped here, outside the lock.
                drop(evicted);
            }
            if !evicted_any {
                return;
            }
        }
    }

    /// Removes `query`'s entry; `true` if a live (unexpired) entry was removed.
    pub fn remove<Q>(&self, query: &Q) -> bool
    where
        Q: ?Sized + Lookup<K>,
    {
        self.remove_hashed(self.hash(query), |k| query.matches(k))
    }

    /// Removes the entry of hash `hash` whose key `matches`, voiding in-flight computations of
    /// its shard; `true` if a live one was there.
    fn remove_hashed(&self, hash: u64, matches: impl Fn(&K) -> bool) -> bool {
        let shard = self.shard_of(hash);
        let now = self.now();
        let mut store = shard.store.write();
        shard.generation.fetch_add(1, Ordering::Release);
        let Some(index) = store.find(hash, matches) else {
            return false;
        };
        let expired = store.is_expired(index, now);
        let removed = self.env(shard).take(&mut store, index);
        drop(store);
        drop(removed); // the value is dropped outside the lock
        if expired {
            Counters::bump(&shard.counters.expirations, 1);
        }
        !expired
    }

    /// Looks `query` up; on a miss, either returns the right to compute it ([`Entry::Vacant`]) or,
    /// when another caller is already computing it, blocks until that caller is done and looks
    /// again (single-flight, unless disabled in the builder).
    #[inline]
    pub fn entry<Q>(&self, query: &Q) -> Entry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        let hash = self.hash(query);
        let shard = self.shard_of(hash);
        if let Some((value, due)) = self.find_or_due::<Q, true>(shard, hash, query) {
            return match due {
                None => Entry::Hit(value),
                Some(due) => self.early_entry(shard, hash, query, value, due),
            };
        }
        self.settle(shard, hash, query)
    }

    /// After a miss: the single-flight protocol (which looks again under the flight).
    fn settle<Q>(&self, shard: &Shard<K, V>, hash: u64, query: &Q) -> Entry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        flight::settle(
            || self.attempt(shard, hash, query),
            || self.vacant(shard, hash, query, None),
        )
    }

    /// The value of a hit that needs nothing but the read lock (no TTL, no early refresh, a
    /// policy that does not reorder on a hit), counted as a hit; `None` for anything else —
    /// a miss, or a cache whose hits need more — counting nothing: call
    /// [`MemoryCache::entry_after_quick_hit`] then.
    ///
    /// Generated wrappers try this first: an `Option<V>` comes back in registers, where the
    /// larger [`Entry`] went through memory (a few store-to-load round trips on every hit).
    #[doc(hidden)]
    #[inline(always)]
    pub fn quick_hit<Q>(&self, query: &Q) -> Option<V>
    where
        Q: ?Sized + Lookup<K>,
    {
        if !self.plain_hits {
            return None;
        }
        let hash = self.hash(query);
        self.find_plain(self.shard_of(hash), hash, query)
    }

    /// [`MemoryCache::entry`] after [`MemoryCache::quick_hit`] returned `None`: a cache whose
    /// hits are all quick goes straight to the miss path.
    #[doc(hidden)]
    pub fn entry_after_quick_hit<Q>(&self, query: &Q) -> Entry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        if !self.plain_hits {
            return self.entry(query);
        }
        let hash = self.hash(query);
        self.settle(self.shard_of(hash), hash, query)
    }

    /// [`MemoryCache::entry`] for async code: waiting for another caller's computation is a future
    /// (woken by that caller, on any executor) instead of a blocked thread.
    ///
    /// ```
    /// use twat_cache::{Entry, MemoryCache};
    ///
    /// let cache: MemoryCache<u64, String> = MemoryCache::builder().build();
    /// let value = futures::executor::block_on(async {
    ///     match cache.entry_async(&7).await {
    ///         Entry::Hit(v) => v,
    ///         Entry::Vacant(vacant) => {
    ///             let v = format!("user-{}", vacant.key());
    ///             vacant.insert(v.clone());
    ///             v
    ///         }
    ///     }
    /// });
    /// assert_eq!(value, "user-7");
    /// ```
    pub async fn entry_async<Q>(&self, query: &Q) -> Entry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        let hash = self.hash(query);
        let shard = self.shard_of(hash);
        if let Some((value, due)) = self.find_or_due::<Q, true>(shard, hash, query) {
            return match due {
                None => Entry::Hit(value),
                Some(due) => self.early_entry(shard, hash, query, value, due),
            };
        }
        flight::settle_async(
            || self.attempt(shard, hash, query),
            || self.vacant(shard, hash, query, None),
        )
        .await
    }

    /// A hit whose early refresh is due: the duty to recompute it, unless another caller is
    /// computing the key (or has refreshed it since we looked) — then the hit.
    #[cold]
    #[inline(never)]
    fn early_entry<Q>(
        &self,
        shard: &Shard<K, V>,
        hash: u64,
        query: &Q,
        value: V,
        due: Due,
    ) -> Entry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        let Join::Lead(flight) = shard.flights.join(hash) else {
            return Entry::Hit(value);
        };
        let unchanged = {
            let store = shard.store.read();
            store.find(hash, |k| query.matches(k)).is_some_and(|i| {
                if due.renewal {
                    store.cap(i).until == due.deadline
                } else {
                    store.deadline(i) == due.deadline
                }
            })
        };
        if !unchanged {
            shard.flights.land(&flight, Outcome::Stored);
            return Entry::Hit(value);
        }
        let Entry::Vacant(mut vacant) = self.vacant(shard, hash, query, Some(flight)) else {
            unreachable!("vacant makes a vacant entry")
        };
        if due.renewal {
            vacant.renewal = true;
        } else {
            vacant.early = Some(due.draw);
        }
        Entry::Vacant(vacant)
    }

    /// One look after a miss: a hit (a leader finished meanwhile), the lead, or a flight.
    #[cold]
    fn attempt<Q>(
        &self,
        shard: &Shard<K, V>,
        hash: u64,
        query: &Q,
    ) -> Result<Entry<'_, K, V>, Arc<Flight>>
    where
        Q: ?Sized + Lookup<K>,
    {
        match self.find(shard, hash, query) {
            Some(value) => Ok(Entry::Hit(value)),
            None => self.join(shard, hash, query),
        }
    }

    /// After a miss: lead (a vacant entry, or a hit if a leader finished meanwhile) or wait.
    #[cold]
    #[inline(never)]
    fn join<Q>(
        &self,
        shard: &Shard<K, V>,
        hash: u64,
        query: &Q,
    ) -> Result<Entry<'_, K, V>, Arc<Flight>>
    where
        Q: ?Sized + Lookup<K>,
    {
        let flight = if self.single_flight {
            match shard.flights.join(hash) {
                Join::Wait(flight) => return Err(flight),
                Join::Lead(flight) => {
                    // A leader may have stored the value between our lookup and our join.
                    if let Some(value) = self.find(shard, hash, query) {
                        shard.flights.land(&flight, Outcome::Stored);
                        return Ok(Entry::Hit(value));
                    }
                    Some(flight)
                }
            }
        } else {
            None
        };
        Ok(self.vacant(shard, hash, query, flight))
    }

    /// A miss this caller fills: leading `flight`, or on its own (no single-flight, a leader
    /// that stored nothing, or a leader on this very thread).
    fn vacant<Q>(
        &self,
        shard: &Shard<K, V>,
        hash: u64,
        query: &Q,
        flight: Option<Arc<Flight>>,
    ) -> Entry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        Counters::bump(&shard.counters.misses, 1);
        Entry::Vacant(self.vacancy(shard, hash, query, flight))
    }

    /// The duty to fill `query` (counting nothing), from now.
    fn vacancy<Q>(
        &self,
        shard: &Shard<K, V>,
        hash: u64,
        query: &Q,
        flight: Option<Arc<Flight>>,
    ) -> VacantEntry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        VacantEntry {
            cache: self,
            hash,
            key: Some(query.to_key()),
            flight,
            generation: shard.generation.load(Ordering::Acquire),
            started: if self.early.is_some() {
                self.clock.now_nanos()
            } else {
                0
            },
            early: None,
            renewal: false,
            outcome: Outcome::Abandoned,
        }
    }

    /// The duty to store a value for `query` whether or not an entry exists (see
    /// [`Engine::replacement`](crate::Engine::replacement)).
    pub fn replacement<Q>(&self, query: &Q) -> VacantEntry<'_, K, V>
    where
        Q: ?Sized + Lookup<K>,
    {
        let hash = self.hash(query);
        self.vacancy(self.shard_of(hash), hash, query, None)
    }

    /// The cached value for `key`, or `make()`'s result, stored (single-flight).
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> V
    where
        K: Clone,
    {
        fill_with(self.entry(&key).into(), make)
    }

    /// Like [`MemoryCache::get_or_insert_with`], but an `Err` is returned and not cached.
    ///
    /// ```
    /// use twat_cache::MemoryCache;
    ///
    /// let cache: MemoryCache<String, u16> = MemoryCache::builder().build();
    /// assert!(cache.get_or_try_insert_with("x".into(), || "x".parse::<u16>()).is_err());
    /// assert_eq!(cache.get_or_try_insert_with("80".into(), || "80".parse::<u16>()), Ok(80));
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn get_or_try_insert_with<E>(
        &self,
        key: K,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E>
    where
        K: Clone,
    {
        try_fill_with(self.entry(&key).into(), make)
    }

    /// [`MemoryCache::get_or_insert_with`] for async callers: waiting for a concurrent
    /// computation is a future, and `make` is polled only on a miss.
    ///
    /// ```
    /// use twat_cache::MemoryCache;
    ///
    /// let cache: MemoryCache<u64, String> = MemoryCache::builder().build();
    /// futures::executor::block_on(async {
    ///     let v = cache.get_or_insert_with_async(1, async { "one".to_string() }).await;
    ///     assert_eq!(v, "one");
    ///     let v = cache.get_or_try_insert_with_async(1, async { Err::<String, ()>(()) }).await;
    ///     assert_eq!(v.as_deref(), Ok("one")); // a hit: `make` never runs
    /// });
    /// ```
    pub async fn get_or_insert_with_async(&self, key: K, make: impl Future<Output = V>) -> V
    where
        K: Clone,
    {
        fill_with_async(self.entry_async(&key).await.into(), make).await
    }

    /// [`MemoryCache::get_or_try_insert_with`] for async callers.
    pub async fn get_or_try_insert_with_async<E>(
        &self,
        key: K,
        make: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E>
    where
        K: Clone,
    {
        try_fill_with_async(self.entry_async(&key).await.into(), make).await
    }
}

impl<K, V> VacantEntry<'_, K, V>
where
    K: Hash + Eq,
    V: Clone,
{
    /// The key being filled.
    pub fn key(&self) -> &K {
        self.key.as_ref().expect("the key is present until insert")
    }

    /// Whether this recomputes a live entry early (see [`MemoryCacheBuilder::early_refresh`]),
    /// rather than filling a miss.
    pub fn is_early_refresh(&self) -> bool {
        self.early.is_some()
    }

    /// The draw that made an early refresh due (see `early.rs`).
    pub(crate) fn early_draw(&self) -> Option<f64> {
        self.early
    }

    /// The cache's clock, in nanoseconds.
    pub(crate) fn clock_nanos(&self) -> u64 {
        self.cache.clock_nanos()
    }

    /// Whether this renews a live copy of an entry another tier holds, from that tier (its
    /// cap is near, see `store::Cap`), rather than filling a miss.
    pub(crate) fn is_renewal(&self) -> bool {
        self.renewal
    }

    /// Stores the computed value and releases the waiters (who will now hit). If the key was
    /// removed (or the cache cleared) while the value was computed, it is not stored: it may
    /// predate what the removal meant to discard.
    pub fn insert(self, value: V) {
        self.insert_within(value, None);
    }

    /// [`VacantEntry::insert`], expiring no later than `lifetime` from now (when the cache has
    /// a TTL): a copy of an entry held elsewhere must not outlive it.
    pub fn insert_within(self, value: V, lifetime: Option<std::time::Duration>) {
        self.insert_measured(value, lifetime, None);
    }

    /// [`VacantEntry::insert_within`], recording that computing the value took `took` (for
    /// early refresh; `None`: since this entry was handed out).
    pub(crate) fn insert_measured(
        mut self,
        value: V,
        lifetime: Option<std::time::Duration>,
        took: Option<u64>,
    ) {
        let key = self.key.take().expect("insert consumes the entry");
        let lifetime = lifetime.map(crate::clock::duration_nanos);
        let took = match (took, self.started) {
            (_, 0) => 0,
            (Some(took), _) => took,
            (None, started) => self.cache.clock.now_nanos().saturating_sub(started),
        };
        if self.cache.insert_hashed(
            self.hash,
            key,
            value,
            Some(self.generation),
            lifetime,
            pack_delta(took),
        ) {
            self.outcome = Outcome::Stored;
        } else {
            self.outcome = Outcome::NotStored;
        }
    }

    /// Gives the entry up because the result is not to be cached (an `Err`, a `None`): the
    /// callers waiting for it compute their own at once instead of queueing for a retry.
    pub fn release(mut self) {
        self.outcome = Outcome::NotStored;
    }

    /// Leaves the value out of this cache because another tier behind it stored it: the
    /// callers waiting for it look again (and find it there).
    pub fn stored_elsewhere(mut self) {
        self.outcome = Outcome::Stored;
    }

    /// [`VacantEntry::stored_elsewhere`], also removing an older value this cache holds for the
    /// key (a replacement whose new value another tier keeps).
    pub fn replaced_elsewhere(mut self) {
        if let Some(key) = self.key.take() {
            self.cache.remove_hashed(self.hash, |k| *k == key);
        }
        self.outcome = Outcome::Stored;
    }
}

impl<K, V> Drop for VacantEntry<'_, K, V> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            self.cache
                .shard_of(self.hash)
                .flights
                .land(&flight, self.outcome);
        }
    }
}

impl<K, V> std::fmt::Debug for MemoryCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("policy", &self.policy)
            .field("shards", &self.shards.len())
            .field("ttl_nanos", &self.ttl)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

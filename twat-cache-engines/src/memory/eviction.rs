//! What each policy does on a hit and on an insert into a full shard.
//!
//! Runs under the shard's write lock, except [`on_hit_shared`], which runs under the read lock and
//! touches only a slot's atomics.

use std::sync::atomic::{AtomicU64, Ordering};

use super::sketch::FrequencySketch;
use super::store::{COUNTED, MAIN, NIL, Stamp, Store, WINDOW};
use crate::Policy;

/// A shard's bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Most entries in this shard (`usize::MAX`: unbounded).
    pub capacity: usize,
    /// Most estimated bytes of the whole cache, all shards together (`u64::MAX`: unbounded):
    /// an entry that fits the bound is cached, however many shards share it.
    pub max_bytes: u64,
    /// W-TinyLFU admission-window size in entries, for a bounded `capacity`.
    window: usize,
}

impl Limits {
    pub fn new(capacity: usize, max_bytes: u64) -> Self {
        let window = if capacity == usize::MAX {
            usize::MAX
        } else {
            (capacity / 100).max(1)
        };
        Self {
            capacity,
            max_bytes,
            window,
        }
    }

    /// Whether only the byte bound limits the shard: how many entries fit is then known only
    /// from what it holds.
    #[inline]
    fn bounded_by_bytes_alone(&self) -> bool {
        self.capacity == usize::MAX && self.max_bytes != u64::MAX
    }

    /// The W-TinyLFU admission window of a shard holding `len` entries: 1% of its capacity.
    /// Under a byte bound alone, 1% of what it holds (what fits, once it is full): a window of
    /// `usize::MAX` never let an entry reach the main region, and every eviction took the
    /// window's oldest (FIFO).
    #[inline]
    pub fn window(&self, len: usize) -> usize {
        if self.bounded_by_bytes_alone() {
            (len / 100).max(1)
        } else {
            self.window
        }
    }
}

/// The hooks a policy needs from the cache: how to hash and weigh an entry.
pub(crate) struct Env<'a, K, V> {
    pub policy: Policy,
    pub limits: Limits,
    pub hasher: &'a foldhash::fast::RandomState,
    pub weigh: &'a dyn Fn(&K, &V) -> u64,
    /// The bytes of every shard together, when the cache has a byte bound (each shard's
    /// store also counts its own, under its lock).
    pub shared_bytes: Option<&'a AtomicU64>,
}

impl<K: std::hash::Hash, V> Env<'_, K, V> {
    #[inline]
    pub fn hash_of(&self, key: &K) -> u64 {
        std::hash::BuildHasher::hash_one(self.hasher, key)
    }

    /// The key hasher as a closure, for the store's index maintenance.
    pub fn hash(&self) -> impl Fn(&K) -> u64 + '_ {
        |key| self.hash_of(key)
    }

    /// Bytes held against the byte bound: the whole cache's when it has one, else the shard's.
    #[inline]
    pub fn held(&self, store: &Store<K, V>) -> u64 {
        match self.shared_bytes {
            Some(shared) => shared.load(Ordering::Relaxed),
            None => store.bytes,
        }
    }

    /// Whether `weight` more bytes stay within the byte bound.
    #[inline]
    fn fits(&self, store: &Store<K, V>, weight: u64) -> bool {
        self.held(store).saturating_add(weight) <= self.limits.max_bytes
    }

    /// Adds a new entry of `weight` (see [`Store::push`]); the caller links it.
    pub fn push(
        &self,
        store: &mut Store<K, V>,
        hash: u64,
        entry: (K, V, Stamp),
        weight: u64,
    ) -> u32 {
        if let Some(shared) = self.shared_bytes {
            shared.fetch_add(weight, Ordering::Relaxed);
        }
        store.push(hash, entry, weight, self.hash())
    }

    /// Puts a new entry of `weight` into the slot at `index` (see [`Store::replace`]) and
    /// returns the entry that was there.
    pub fn replace(
        &self,
        store: &mut Store<K, V>,
        index: u32,
        hash: u64,
        entry: (K, V, Stamp),
        weight: u64,
    ) -> (K, V) {
        let (k, v, charge) = store.replace(index, hash, entry, weight, self.hash());
        if let Some(shared) = self.shared_bytes {
            // Adds `weight - charge` modulo 2^64: the total stays exact either way.
            shared.fetch_add(weight.wrapping_sub(charge), Ordering::Relaxed);
        }
        (k, v)
    }

    /// Removes the entry at `index`, giving back what it was charged.
    pub fn take(&self, store: &mut Store<K, V>, index: u32) -> (K, V) {
        let (k, v, charge) = store.remove(index, self.hash());
        if let Some(shared) = self.shared_bytes {
            shared.fetch_sub(charge, Ordering::Relaxed);
        }
        (k, v)
    }
}

/// Most pending hits a W-TinyLFU slot remembers before they are folded into the sketch.
const MAX_PENDING_HITS: u32 = 15;

/// A hit seen under the read lock.
#[inline]
pub(crate) fn on_hit_shared<K, V>(policy: Policy, slot: &super::store::Slot<K, V>) {
    if policy == Policy::TinyLfu {
        let pending = slot.meta();
        if pending < MAX_PENDING_HITS {
            // A lost increment under a race only makes the estimate a little low.
            slot.meta.store(pending + 1, Ordering::Relaxed);
        }
    }
}

/// A hit under the write lock, for policies that reorder ([`Policy::reorders_on_hit`]).
pub(crate) fn on_hit_exclusive<K, V>(store: &mut Store<K, V>, policy: Policy, index: u32) {
    match policy {
        Policy::Lru => store.move_to_head(index),
        Policy::Lfu => {
            store.unlink(index);
            let slot = store.slot(index);
            let count = slot.meta();
            slot.set_meta(count.saturating_add(1));
            store.link_head(index, COUNTED);
            if count == store.lfu_min && !store.counted.contains_key(&count) {
                store.lfu_min = count.saturating_add(1);
            }
        }
        Policy::Fifo | Policy::TinyLfu => on_hit_shared(policy, store.slot(index)),
    }
}

/// Entries removed by one insert, dropped by the caller after the lock is released.
pub(crate) struct Removed<K, V> {
    pub evicted: Taken<K, V>,
    pub expired: Taken<K, V>,
}

impl<K, V> Default for Removed<K, V> {
    fn default() -> Self {
        Self {
            evicted: Taken::default(),
            expired: Taken::default(),
        }
    }
}

/// Entries taken out of a store under its lock, to be dropped after it. The first is held
/// inline: an insert into a full cache evicts one entry, and a `Vec` for it cost an allocation
/// and a free on every such insert (a quarter of the insert's instructions).
pub(crate) struct Taken<K, V> {
    first: Option<(K, V)>,
    rest: Vec<(K, V)>,
}

impl<K, V> Default for Taken<K, V> {
    fn default() -> Self {
        Self {
            first: None,
            rest: Vec::new(),
        }
    }
}

impl<K, V> Taken<K, V> {
    pub fn push(&mut self, entry: (K, V)) {
        if self.first.is_none() {
            self.first = Some(entry);
        } else {
            self.rest.push(entry);
        }
    }

    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

/// Inserts a key known to be absent, evicting what the policy chooses from this shard. Returns
/// `false` (and stores nothing) when the entry alone is heavier than the byte bound. The cache
/// may still be over its byte bound afterwards when the rest of the bytes are in other shards:
/// the caller then evicts there ([`evict_one`]), after releasing this shard's lock.
pub(crate) fn insert_new<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    hash: u64,
    entry: (K, V, Stamp),
    now: u64,
    removed: &mut Removed<K, V>,
) -> bool {
    let (key, value, stamp) = entry;
    let weight = (env.weigh)(&key, &value);
    if weight > env.limits.max_bytes || env.limits.capacity == 0 {
        return false;
    }
    sweep_expired(store, env, now, removed);
    match env.policy {
        Policy::Lru | Policy::Fifo | Policy::Lfu => {
            while store.len() >= env.limits.capacity || !env.fits(store, weight) {
                let Some(victim) = plain_victim(store, env.policy) else {
                    break;
                };
                evict(store, env, victim, &mut removed.evicted);
            }
            let index = env.push(store, hash, (key, value, stamp), weight);
            if env.policy == Policy::Lfu {
                store.slot(index).set_meta(1);
                store.link_head(index, COUNTED);
                store.lfu_min = 1;
            } else {
                store.link_head(index, WINDOW);
            }
        }
        Policy::TinyLfu => {
            fit_sketch(store, env);
            if let Some(sketch) = &mut store.sketch {
                sketch.increment(hash);
            }
            let index = match tinylfu_loser(store, env, weight) {
                Some(loser) => {
                    // A full shard: the newcomer takes the loser's slot.
                    let evicted = env.replace(store, loser, hash, (key, value, stamp), weight);
                    removed.evicted.push(evicted);
                    loser
                }
                None => env.push(store, hash, (key, value, stamp), weight),
            };
            store.link_head(index, WINDOW);
            tinylfu_rebalance(store, env, &mut removed.evicted);
        }
    }
    true
}

/// The next victim of LRU/FIFO (list tail) or LFU (least recent of the least frequent).
fn plain_victim<K, V>(store: &mut Store<K, V>, policy: Policy) -> Option<u32> {
    let tail = if policy == Policy::Lfu {
        // `lfu_min` is a hint kept exact by inserts and hits; only removals can stale it.
        if !store.counted.contains_key(&store.lfu_min) {
            store.lfu_min = *store.counted.keys().min()?;
        }
        store.counted[&store.lfu_min].tail
    } else {
        store.fixed[WINDOW as usize].tail
    };
    (tail != NIL).then_some(tail)
}

/// Evicts one entry of this shard, as the policy chooses, for room in another shard (a byte
/// bound is shared by all of them). `false` if the shard is empty.
pub(crate) fn evict_one<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    out: &mut Taken<K, V>,
) -> bool {
    if store.len() == 0 {
        return false;
    }
    match env.policy {
        Policy::Lru | Policy::Fifo | Policy::Lfu => match plain_victim(store, env.policy) {
            Some(victim) => evict(store, env, victim, out),
            None => return false,
        },
        Policy::TinyLfu => tinylfu_evict(store, env, out),
    }
    true
}

fn evict<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    index: u32,
    out: &mut Taken<K, V>,
) {
    out.push(env.take(store, index));
}

/// Removes expired entries found at the old end of each list: cheap, bounded work per insert so
/// that dead entries do not hold capacity until someone looks them up.
fn sweep_expired<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    now: u64,
    removed: &mut Removed<K, V>,
) {
    for list in [WINDOW, MAIN] {
        for _ in 0..2 {
            let tail = store.fixed[list as usize].tail;
            if tail == NIL || !store.is_expired(tail, now) {
                break;
            }
            evict(store, env, tail, &mut removed.expired);
        }
    }
}

/// When the shard is full and one eviction makes room for a newcomer of `weight` (the steady
/// state of a bounded cache): runs the admission contest [`tinylfu_rebalance`] would run after
/// linking the newcomer, and returns the slot of the entry that loses it, for the newcomer to
/// take — which saves moving the last slot into the hole. `None` otherwise.
fn tinylfu_loser<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    weight: u64,
) -> Option<u32> {
    let window_len = store.fixed[WINDOW as usize].len;
    if store.len() != env.limits.capacity
        || !env.fits(store, weight)
        || store.fixed[MAIN as usize].len == 0
    {
        return None;
    }
    let victim = main_victim(store, env);
    // With the newcomer linked, the window would hold `window_len + 1`.
    if window_len < env.limits.window(store.len()) {
        return Some(victim);
    }
    Some(contest(store, env, victim))
}

/// The admission contest between the window's oldest entry (the candidate) and the main
/// region's victim: the candidate enters the main region if the sketch says it is used more
/// often. Returns the loser, to be evicted.
fn contest<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    victim: u32,
) -> u32 {
    let candidate = store.fixed[WINDOW as usize].tail;
    let candidate_hash = env.hash_of(&store.slot(candidate).key);
    let victim_hash = env.hash_of(&store.slot(victim).key);
    let sketch = store.sketch.as_ref().expect("tinylfu shards have a sketch");
    let candidate_freq = sketch.estimate(candidate_hash) + store.slot(candidate).meta();
    let victim_freq = sketch.estimate(victim_hash);
    if candidate_freq > victim_freq {
        promote(store, candidate, candidate_hash);
        victim
    } else {
        fold_pending_hits(store, candidate, candidate_hash);
        candidate
    }
}

/// Restores the W-TinyLFU invariants after an insert: within capacity and byte bound, with the
/// window no larger than its share. The newcomer (at the window's head) stays: when the cache is
/// over its byte bound with nothing else left here, the other shards make room.
fn tinylfu_rebalance<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    out: &mut Taken<K, V>,
) {
    while store.len() > env.limits.capacity
        || (store.len() > 1 && env.held(store) > env.limits.max_bytes)
    {
        tinylfu_evict(store, env, out);
    }
    while store.fixed[WINDOW as usize].len > env.limits.window(store.len()) {
        let candidate = store.fixed[WINDOW as usize].tail;
        let candidate_hash = env.hash_of(&store.slot(candidate).key);
        promote(store, candidate, candidate_hash);
    }
}

/// Evicts one entry of a non-empty W-TinyLFU shard: the main region's victim, or the loser of
/// the admission contest while the window is over its share (the window's oldest while the main
/// region is empty). With two or more entries, never the window's newest (the newcomer).
fn tinylfu_evict<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    out: &mut Taken<K, V>,
) {
    if store.fixed[MAIN as usize].len == 0 {
        let oldest = store.fixed[WINDOW as usize].tail;
        evict(store, env, oldest, out);
        return;
    }
    let victim = main_victim(store, env);
    let loser = if store.fixed[WINDOW as usize].len > env.limits.window(store.len()) {
        contest(store, env, victim)
    } else {
        victim
    };
    evict(store, env, loser, out);
}

/// Under a byte bound alone a shard's capacity in entries is known only from what it holds:
/// the sketch starts small and doubles when the entries outgrow it (a crowded sketch lets
/// one-hit keys look as frequent as hot ones), keeping the residents' counts.
fn fit_sketch<K: std::hash::Hash, V>(store: &mut Store<K, V>, env: &Env<'_, K, V>) {
    if !env.limits.bounded_by_bytes_alone() {
        return;
    }
    let Some(sketch) = &store.sketch else {
        return;
    };
    if store.len() < sketch.capacity() {
        return;
    }
    let mut grown = FrequencySketch::new(sketch.capacity().saturating_mul(2));
    for slot in &store.slots {
        let hash = env.hash_of(&slot.key);
        grown.add(hash, sketch.estimate(hash));
    }
    store.sketch = Some(grown);
}

/// Moves a window entry to the head of the main region.
fn promote<K, V>(store: &mut Store<K, V>, index: u32, hash: u64) {
    fold_pending_hits(store, index, hash);
    store.unlink(index);
    store.link_head(index, MAIN);
}

/// Adds a slot's pending hits to the sketch and resets them: the sketch keeps the history once
/// the entry is gone, and a cleared count is the CLOCK "second chance" used up.
fn fold_pending_hits<K, V>(store: &mut Store<K, V>, index: u32, hash: u64) {
    let pending = store.slot(index).meta();
    if pending > 0 {
        if let Some(sketch) = &mut store.sketch {
            sketch.add(hash, pending);
        }
        store.slot(index).set_meta(0);
    }
}

/// CLOCK over the main region: the oldest entry not hit since it was last passed over.
fn main_victim<K: std::hash::Hash, V>(store: &mut Store<K, V>, env: &Env<'_, K, V>) -> u32 {
    loop {
        let tail = store.fixed[MAIN as usize].tail;
        if store.slot(tail).meta() == 0 {
            return tail;
        }
        let hash = env.hash_of(&store.slot(tail).key);
        fold_pending_hits(store, tail, hash);
        store.move_to_head(tail);
    }
}

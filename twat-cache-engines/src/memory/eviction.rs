//! What each policy does on a hit and on an insert into a full shard.
//!
//! Runs under the shard's write lock, except [`on_hit_shared`], which runs under the read lock and
//! touches only a slot's atomics.

use std::sync::atomic::Ordering;

use super::store::{COUNTED, MAIN, NIL, Stamp, Store, WINDOW};
use crate::Policy;

/// Per-shard bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Most entries (`usize::MAX`: unbounded).
    pub capacity: usize,
    /// Most estimated bytes (`u64::MAX`: unbounded).
    pub max_bytes: u64,
    /// W-TinyLFU admission-window size in entries.
    pub window: usize,
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
}

/// The hooks a policy needs from the cache: how to hash and weigh an entry.
pub(crate) struct Env<'a, K, V> {
    pub policy: Policy,
    pub limits: Limits,
    pub hasher: &'a foldhash::fast::RandomState,
    pub weigh: &'a dyn Fn(&K, &V) -> u64,
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

    /// Adds a new entry of `weight` (see [`Store::push`]); the caller links it.
    pub fn push(
        &self,
        store: &mut Store<K, V>,
        hash: u64,
        entry: (K, V, Stamp),
        weight: u64,
    ) -> u32 {
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
        let (k, v, _) = store.replace(index, hash, entry, weight, self.hash());
        (k, v)
    }

    /// Removes the entry at `index`, giving back what it was charged.
    pub fn take(&self, store: &mut Store<K, V>, index: u32) -> (K, V) {
        let (k, v, _) = store.remove(index, self.hash());
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

/// Inserts a key known to be absent, evicting what the policy chooses. Returns `false` (and
/// stores nothing) when the entry alone is heavier than the shard's byte budget.
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
            while store.len() >= env.limits.capacity
                || store.bytes.saturating_add(weight) > env.limits.max_bytes
            {
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
    let limits = env.limits;
    let window_len = store.fixed[WINDOW as usize].len;
    if store.len() != limits.capacity
        || store.bytes.saturating_add(weight) > limits.max_bytes
        || store.fixed[MAIN as usize].len == 0
    {
        return None;
    }
    let victim = main_victim(store, env);
    // With the newcomer linked, the window would hold `window_len + 1`.
    if window_len < limits.window {
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

/// Restores the W-TinyLFU invariants after an insert: within capacity and byte budget, with the
/// window no larger than its share.
fn tinylfu_rebalance<K: std::hash::Hash, V>(
    store: &mut Store<K, V>,
    env: &Env<'_, K, V>,
    out: &mut Taken<K, V>,
) {
    let limits = env.limits;
    while store.len() > limits.capacity || store.bytes > limits.max_bytes {
        if store.fixed[MAIN as usize].len == 0 {
            let oldest = store.fixed[WINDOW as usize].tail;
            evict(store, env, oldest, out);
            continue;
        }
        let victim = main_victim(store, env);
        let loser = if store.fixed[WINDOW as usize].len > limits.window {
            contest(store, env, victim)
        } else {
            victim
        };
        evict(store, env, loser, out);
    }
    while store.fixed[WINDOW as usize].len > limits.window {
        let candidate = store.fixed[WINDOW as usize].tail;
        let candidate_hash = env.hash_of(&store.slot(candidate).key);
        promote(store, candidate, candidate_hash);
    }
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

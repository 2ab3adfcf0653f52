//! Keeping a [`DiskCache`] within bounds: sampled eviction (sled), whole-store prunes (files),
//! expiry sweeps, and the open-time scan.

use std::sync::atomic::Ordering;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{DiskCache, bump};
use crate::Policy;
use crate::disk::backend::{Backend, EntryId};
use crate::disk::record;

/// A backend that prunes is pruned at least every this many inserts of this process, so that
/// bounds hold while other processes write too.
const PRUNE_EVERY: u64 = 64;

impl<S: Backend, V> DiskCache<S, V> {
    /// A whole-store prune: drops damaged, expired and leftover temporary entries, then the
    /// least recently used until within bounds; resets the counters to what is really there.
    pub(super) fn prune(&self) {
        let Some(store) = &self.store else { return };
        let now = self.clock.unix_nanos();
        let classify = |prefix: &[u8]| {
            record::peek(prefix)
                .map(|(namespace, expires)| (namespace, record::expired(expires, now)))
        };
        match store.prune(self.namespace_tag, &classify, self.maxsize, self.max_bytes) {
            Ok(report) => {
                let c = &self.counters;
                c.len.store(report.len, Ordering::Relaxed);
                c.bytes.store(report.bytes, Ordering::Relaxed);
                c.evictions.fetch_add(report.evicted, Ordering::Relaxed);
                c.expirations.fetch_add(report.expired, Ordering::Relaxed);
            }
            Err(why) => self.fault("pruning the cache storage", &why),
        }
    }
}

impl<S: Backend, V: Serialize + DeserializeOwned> DiskCache<S, V> {
    /// Brings the store back within `maxsize` and `max_bytes` after an insert, sparing `keep`.
    pub(super) fn enforce_bounds(&self, keep: &EntryId, inserts: u64) {
        if S::PRUNES {
            if self.over_bounds() || inserts % PRUNE_EVERY == 0 {
                self.prune();
            }
            return;
        }
        while self.over_bounds() {
            match self.sample_victim(keep) {
                Ok(Some(victim)) => {
                    if self.delete(&victim) {
                        bump(&self.counters.evictions);
                    }
                }
                Ok(None) => break,
                Err(why) => return self.fault("evicting from the cache storage", &why),
            }
        }
    }

    fn over_bounds(&self) -> bool {
        let c = &self.counters;
        c.len.load(Ordering::Relaxed) > self.maxsize
            || c.bytes.load(Ordering::Relaxed) > self.max_bytes
    }

    /// The least valuable of up to 16 entries of this namespace read from a pseudo-random
    /// position: the Redis approach to approximate LRU/LFU/FIFO without an index.
    fn sample_victim(&self, keep: &EntryId) -> Result<Option<EntryId>, String> {
        const SAMPLE: usize = 16;
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let seed = self.next_seed();
        let mut best: Option<(EntryId, (u64, u64))> = None;
        let mut seen = 0;
        store.sample(seed, &mut |id, bytes| {
            if &id == keep {
                return true;
            }
            let Some(r) = record::decode(bytes) else {
                best = Some((id, (0, 0))); // damaged: the best victim
                return false;
            };
            if r.header.namespace != self.namespace_tag {
                return true;
            }
            let score = self.keep_score(&id, r.header.created);
            if best.is_none_or(|(_, b)| score < b) {
                best = Some((id, score));
            }
            seen += 1;
            seen < SAMPLE
        })?;
        Ok(best.map(|(id, _)| id))
    }

    fn next_seed(&self) -> u64 {
        self.counters
            .sampler
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
    }

    /// Removes the expired entries among up to 64 read from a pseudo-random position: expired
    /// entries that nobody reads again still leave, a little at a time.
    pub(super) fn sweep_sample(&self, now: u64) {
        let Some(store) = &self.store else { return };
        let mut expired = Vec::new();
        let mut seen = 0;
        let scanned = store.sample(self.next_seed(), &mut |id, bytes| {
            if let Some(r) = record::decode(bytes)
                && r.header.namespace == self.namespace_tag
                && r.header.is_expired(now)
            {
                expired.push(id);
            }
            seen += 1;
            seen < 64
        });
        if let Err(why) = scanned {
            return self.fault("sweeping the cache storage", &why);
        }
        for id in expired {
            if self.delete(&id) {
                bump(&self.counters.expirations);
            }
        }
    }

    /// Removes every expired entry of this namespace now; returns how many.
    pub fn sweep_expired(&self) -> usize {
        let Some(store) = &self.store else { return 0 };
        let now = self.clock.unix_nanos();
        let mut expired = Vec::new();
        let scanned = store.for_each(&mut |id, bytes| {
            if let Some(r) = record::decode(bytes)
                && r.header.namespace == self.namespace_tag
                && r.header.is_expired(now)
            {
                expired.push(id);
            }
        });
        if let Err(why) = scanned {
            self.fault("sweeping the cache storage", &why);
            return 0;
        }
        let removed = expired.iter().filter(|id| self.delete(id)).count();
        self.counters
            .expirations
            .fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    /// Higher = more worth keeping, per policy.
    fn keep_score(&self, id: &EntryId, created: u64) -> (u64, u64) {
        let access = self.access.get(id).map(|a| *a);
        let last = access.map_or(created, |a| a.last.max(created));
        let hits = access.map_or(0, |a| u64::from(a.hits));
        match self.policy {
            Policy::Fifo => (created, 0),
            Policy::Lru => (last, 0),
            Policy::Lfu | Policy::TinyLfu => (hits, last),
        }
    }
}

impl<S: Backend, V> DiskCache<S, V> {
    /// Counts this namespace's entries and bytes, dropping damaged and expired ones.
    pub(super) fn scan(&self) -> Result<(), String> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let now = self.clock.unix_nanos();
        let mut doomed = Vec::new();
        let (mut len, mut bytes) = (0u64, 0u64);
        store.for_each(&mut |id, value| match record::decode(value) {
            None => doomed.push((id, false)),
            Some(r) if r.header.namespace == self.namespace_tag => {
                if r.header.is_expired(now) {
                    doomed.push((id, true));
                } else {
                    len += 1;
                    bytes += value.len() as u64;
                }
            }
            Some(_) => {}
        })?;
        for (id, expired) in doomed {
            store.remove(&id)?;
            if expired {
                bump(&self.counters.expirations);
            }
        }
        self.counters.len.store(len, Ordering::Relaxed);
        self.counters.bytes.store(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Removes every entry of this namespace.
    pub fn clear(&self) {
        if let Some(m) = self.fallback.get() {
            m.clear();
        }
        let Some(store) = &self.store else { return };
        let mut ids = Vec::new();
        let result = store
            .for_each(&mut |id, value| {
                if record::decode(value).is_none_or(|r| r.header.namespace == self.namespace_tag) {
                    ids.push(id);
                }
            })
            .and_then(|()| ids.iter().try_for_each(|id| store.remove(id).map(|_| ())));
        match result {
            Ok(()) => {
                self.counters.len.store(0, Ordering::Relaxed);
                self.counters.bytes.store(0, Ordering::Relaxed);
                self.access.clear();
            }
            Err(why) => self.fault("clearing the cache storage", &why),
        }
    }

    /// Writes everything to disk now (a normal exit does this too).
    pub fn flush(&self) -> Result<(), String> {
        match &self.store {
            Some(store) => store.flush(),
            None => Ok(()),
        }
    }
}

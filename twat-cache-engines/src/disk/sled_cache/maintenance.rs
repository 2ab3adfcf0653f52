//! Keeping a [`SledCache`] within bounds: sampled eviction and expiry sweeps.

use std::sync::atomic::Ordering;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::builder::guarded;
use super::{EntryId, SledCache, bump};
use crate::Policy;
use crate::disk::record;
use crate::disk::sled_db;

impl<V: Serialize + DeserializeOwned> SledCache<V> {
    /// Evicts by sampling until within `maxsize` and `max_bytes`, sparing `keep`.
    pub(super) fn enforce_bounds(&self, keep: &EntryId) {
        let Some(tree) = &self.tree else { return };
        let c = &self.counters;
        while c.len.load(Ordering::Relaxed) > self.maxsize
            || c.bytes.load(Ordering::Relaxed) > self.max_bytes
        {
            match self.sample_victim(tree, keep) {
                Ok(Some(victim)) => {
                    if self.delete(&victim) {
                        bump(&c.evictions);
                    }
                }
                Ok(None) => break,
                Err(why) => return self.fault("evicting from the cache database", &why),
            }
        }
    }

    /// The least valuable of up to 16 entries of this namespace read from a pseudo-random
    /// position: the Redis approach to approximate LRU/LFU/FIFO without an index.
    fn sample_victim(&self, tree: &sled::Tree, keep: &EntryId) -> Result<Option<EntryId>, String> {
        const SAMPLE: usize = 16;
        let seed = self
            .counters
            .sampler
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        let start = seed.to_be_bytes();
        let mut best: Option<(EntryId, (u64, u64))> = None;
        guarded(|| {
            let after = tree.range(start.as_slice()..);
            let before = tree.range(..start.as_slice());
            let mut seen = 0;
            for item in after.chain(before) {
                let (id, value) = item?;
                let Ok(id) = <EntryId>::try_from(id.as_ref()) else {
                    continue;
                };
                if &id == keep {
                    continue;
                }
                let Some(r) = record::decode(&value) else {
                    best = Some((id, (0, 0))); // damaged: the best victim
                    break;
                };
                if r.header.namespace != self.namespace_tag {
                    continue;
                }
                let score = self.keep_score(&id, r.header.created);
                if best.is_none_or(|(_, b)| score < b) {
                    best = Some((id, score));
                }
                seen += 1;
                if seen == SAMPLE {
                    break;
                }
            }
            Ok(())
        })?;
        Ok(best.map(|(id, _)| id))
    }

    /// Removes the expired entries among up to 64 read from a pseudo-random position: expired
    /// entries that nobody reads again still leave, a little at a time.
    pub(super) fn sweep_sample(&self, now: u64) {
        let Some(tree) = &self.tree else { return };
        let seed = self
            .counters
            .sampler
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        let start = seed.to_be_bytes();
        let mut expired = Vec::new();
        let scanned = guarded(|| {
            for item in tree.range(start.as_slice()..).take(64) {
                let (id, value) = item?;
                if let (Ok(id), Some(r)) =
                    (<EntryId>::try_from(id.as_ref()), record::decode(&value))
                    && r.header.namespace == self.namespace_tag
                    && r.header.is_expired(now)
                {
                    expired.push(id);
                }
            }
            Ok(())
        });
        if let Err(why) = scanned {
            return self.fault("sweeping the cache database", &why);
        }
        for id in expired {
            if self.delete(&id) {
                bump(&self.counters.expirations);
            }
        }
    }

    /// Removes every expired entry of this namespace now; returns how many.
    pub fn sweep_expired(&self) -> usize {
        let Some(tree) = &self.tree else { return 0 };
        let now = self.clock.unix_nanos();
        let mut expired = Vec::new();
        let scanned = guarded(|| {
            for item in tree.iter() {
                let (id, value) = item?;
                if let (Ok(id), Some(r)) =
                    (<EntryId>::try_from(id.as_ref()), record::decode(&value))
                    && r.header.namespace == self.namespace_tag
                    && r.header.is_expired(now)
                {
                    expired.push(id);
                }
            }
            Ok(())
        });
        if let Err(why) = scanned {
            self.fault("sweeping the cache database", &why);
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

impl<V> SledCache<V> {
    /// Counts this namespace's entries and bytes, dropping damaged and expired ones.
    pub(super) fn scan(&self) -> Result<(), String> {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        let now = self.clock.unix_nanos();
        let mut doomed = Vec::new();
        let (mut len, mut bytes) = (0u64, 0u64);
        guarded(|| {
            for item in tree.iter() {
                let (id, value) = item?;
                match record::decode(&value) {
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
                }
            }
            Ok(())
        })?;
        for (id, expired) in doomed {
            guarded(|| tree.remove(&id))?;
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
        let Some(tree) = &self.tree else { return };
        let result = guarded(|| {
            let mut ids = Vec::new();
            for item in tree.iter() {
                let (id, value) = item?;
                if record::decode(&value).is_none_or(|r| r.header.namespace == self.namespace_tag) {
                    ids.push(id);
                }
            }
            for id in ids {
                tree.remove(id)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                self.counters.len.store(0, Ordering::Relaxed);
                self.counters.bytes.store(0, Ordering::Relaxed);
                self.access.clear();
            }
            Err(why) => self.fault("clearing the cache database", &why),
        }
    }

    /// Writes everything to disk now (a normal exit does this too).
    pub fn flush(&self) -> Result<(), String> {
        if self.tree.is_none() {
            return Ok(());
        }
        sled_db::flush(&self.folder).map_err(|e| e.to_string())
    }
}

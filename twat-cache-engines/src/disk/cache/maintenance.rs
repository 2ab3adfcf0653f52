//! Keeping a disk cache within bounds: sampled eviction (sled), whole-store prunes (files),
//! expiry and stale-namespace sweeps, and the open-time scan.

use std::sync::atomic::Ordering;

use super::attach::Missed;
use super::core::{DiskCore, bump};
use crate::Policy;
use crate::disk::backend::{Backend, Classified, EntryId, EvictionOrder, PruneRequest};
use crate::disk::error::StoreError;
use crate::disk::file_store::STALE_NAMESPACE;
use crate::disk::record;

/// A backend that prunes is pruned at least every this many inserts of this process, so that
/// bounds hold while other processes write too.
const PRUNE_EVERY: u64 = 64;

/// Most entries of other namespaces (left by edited functions) one scan or sweep removes:
/// collection happens in bounded steps.
const STALE_BUDGET: usize = 4096;

/// What a sweep does with one stored entry.
enum Verdict {
    Keep,
    /// Damaged, or of a namespace no longer in use.
    Drop,
    Expired,
    /// Another namespace that is still in use (another version of the function).
    Other,
}

impl<S: Backend> DiskCore<S> {
    fn verdict(&self, store: &S, bytes: &[u8], now: u64) -> Verdict {
        match record::decode(bytes) {
            None => Verdict::Drop,
            Some(r) if r.header.namespace != self.namespace_tag => {
                if Self::namespace_in_use(store, r.header.namespace, now) {
                    Verdict::Other
                } else {
                    Verdict::Drop
                }
            }
            Some(r) if self.expired_since(r.header.renewed, r.header.expires, now) => {
                Verdict::Expired
            }
            Some(_) => Verdict::Keep,
        }
    }

    /// Whether an entry that a sweep begun at `now` reads is expired. An entry renewed after
    /// `now` was most likely written by another thread or process while the sweep ran, not
    /// from a clock stepped back: it is judged again at a fresh reading of the clock (which
    /// still expires it if it really is from the future), or a sweep would delete fresh
    /// entries as "from the future".
    fn expired_since(&self, renewed: u64, expires: u64, now: u64) -> bool {
        let now = if renewed > now {
            self.clock.unix_nanos()
        } else {
            now
        };
        record::expired(renewed, expires, now, self.ttl)
    }

    /// Whether a namespace was marked in use within [`STALE_NAMESPACE`] of `now`.
    fn namespace_in_use(store: &S, namespace: u64, now: u64) -> bool {
        let grace = crate::clock::duration_nanos(STALE_NAMESPACE);
        store
            .last_use(namespace)
            .is_some_and(|last| now.saturating_sub(last) < grace)
    }

    /// A whole-store prune: drops damaged, expired and leftover temporary entries and stale
    /// namespaces, then the least recently used until within bounds; resets the counters to
    /// what is really there.
    pub(super) fn prune(&self) {
        if let Some(store) = self.store() {
            self.prune_with(store);
        }
    }

    /// [`DiskCore::prune`] on an opened store.
    pub(super) fn prune_with(&self, store: &S) {
        let now = self.clock.unix_nanos();
        let classify = |prefix: &[u8]| {
            record::peek(prefix).map(|p| Classified {
                namespace: p.namespace,
                expired: self.expired_since(p.renewed, p.expires, now),
                created: p.created,
            })
        };
        let counted = |id: &EntryId, bytes: u64| self.ledger.note_counted(id, bytes);
        let request = PruneRequest {
            namespace: self.namespace_tag,
            classify: &classify,
            counted: &counted,
            maxsize: self.maxsize,
            max_bytes: self.max_bytes,
            order: match self.policy {
                Policy::Fifo => EvictionOrder::Insertion,
                Policy::Lru | Policy::Lfu | Policy::TinyLfu => EvictionOrder::LastAccess,
            },
        };
        if !self.ledger.open() {
            return; // another thread is pruning this store now
        }
        let pruned = store.prune(&request);
        let correction = self.ledger.close();
        match pruned {
            Ok(report) => {
                let c = &self.counters;
                // What the walk found, plus this process's writes it could not see.
                c.len.store(
                    report.len.saturating_add_signed(correction.len),
                    Ordering::Relaxed,
                );
                c.bytes.store(
                    report.bytes.saturating_add_signed(correction.bytes),
                    Ordering::Relaxed,
                );
                c.evictions.fetch_add(report.evicted, Ordering::Relaxed);
                c.expirations.fetch_add(report.expired, Ordering::Relaxed);
            }
            Err(why) => self.fault("pruning the cache storage", &why),
        }
    }

    /// Resets `len`/`bytes` to the entries of this namespace in the store, as `twat-cache
    /// stats` counts them (every entry whose header names the namespace, expired or not): a
    /// store shared by processes is written by all of them. Reads headers only and removes
    /// nothing; this process's writes during the walk are reconciled by the ledger, as a
    /// prune's are. If a prune is walking now, its count is used instead.
    pub(super) fn recount(&self, store: &S) {
        if !self.ledger.open() {
            return;
        }
        let (mut len, mut bytes) = (0u64, 0u64);
        let walked = store.for_each_header(&mut |id, header| {
            let ours = record::peek(header).is_some_and(|p| p.namespace == self.namespace_tag);
            if let Some(size) = record::declared_len(header).filter(|_| ours) {
                len += 1;
                bytes += size;
                self.ledger.note_counted(&id, size);
            }
        });
        let correction = self.ledger.close();
        match walked {
            Ok(()) => {
                let c = &self.counters;
                c.len
                    .store(len.saturating_add_signed(correction.len), Ordering::Relaxed);
                c.bytes.store(
                    bytes.saturating_add_signed(correction.bytes),
                    Ordering::Relaxed,
                );
            }
            Err(why) => self.fault("counting the cache storage", &why),
        }
    }

    /// Brings the store back within `maxsize` and `max_bytes` after an insert, sparing `keep`.
    pub(super) fn enforce_bounds(&self, keep: &EntryId, inserts: u64) {
        if S::PRUNES {
            if self.over_bounds() || inserts.is_multiple_of(PRUNE_EVERY) {
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
    /// position: the Redis approach to approximate LRU/LFU/FIFO without an index. Damaged
    /// entries and those of other namespaces are the best victims.
    fn sample_victim(&self, keep: &EntryId) -> Result<Option<EntryId>, StoreError> {
        const SAMPLE: usize = 16;
        let Some(store) = self.store() else {
            return Ok(None);
        };
        let seed = self.next_seed();
        let mut best: Option<(EntryId, (u64, u64))> = None;
        let mut seen = 0;
        store.sample(seed, &mut |id, bytes| {
            if &id == keep {
                return true;
            }
            let Some(r) =
                record::decode(bytes).filter(|r| r.header.namespace == self.namespace_tag)
            else {
                best = Some((id, (0, 0)));
                return false;
            };
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

    /// Removes the expired, damaged and stale-namespace entries among up to 64 read from a
    /// pseudo-random position: such entries that nobody reads again still leave, a little at a
    /// time.
    pub(super) fn sweep_sample(&self, now: u64) {
        let Some(store) = self.store() else { return };
        let mut doomed = Vec::new();
        let mut seen = 0;
        let scanned = store.sample(self.next_seed(), &mut |id, bytes| {
            match self.verdict(store, bytes, now) {
                Verdict::Keep | Verdict::Other => {}
                Verdict::Drop => doomed.push((id, false)),
                Verdict::Expired => doomed.push((id, true)),
            }
            seen += 1;
            seen < 64
        });
        if let Err(why) = scanned {
            return self.fault("sweeping the cache storage", &why);
        }
        self.remove_doomed(&doomed);
    }

    /// Removes entries a sweep condemned, counting expirations.
    fn remove_doomed(&self, doomed: &[(EntryId, bool)]) {
        for (id, expired) in doomed {
            // Only this namespace's entries are counted in `len`; others are removed directly.
            let removed = if *expired {
                self.delete(id)
            } else {
                self.store().is_some_and(|s| s.remove(id).is_ok())
            };
            if removed && *expired {
                bump(&self.counters.expirations);
            }
        }
    }

    /// Removes every expired entry of this namespace now; returns how many.
    pub fn sweep_expired(&self) -> usize {
        if S::PRUNES {
            let before = self.counters.expirations.load(Ordering::Relaxed);
            self.prune();
            return (self.counters.expirations.load(Ordering::Relaxed) - before) as usize;
        }
        let Some(store) = self.store() else { return 0 };
        let now = self.clock.unix_nanos();
        let mut expired = Vec::new();
        let scanned = store.for_each(&mut |id, bytes| {
            if let Verdict::Expired = self.verdict(store, bytes, now) {
                expired.push((id, true));
            }
        });
        if let Err(why) = scanned {
            self.fault("sweeping the cache storage", &why);
            return 0;
        }
        let before = self.counters.expirations.load(Ordering::Relaxed);
        self.remove_doomed(&expired);
        (self.counters.expirations.load(Ordering::Relaxed) - before) as usize
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

    /// Counts this namespace's entries and bytes, dropping damaged and expired ones and (up to
    /// a budget) those of namespaces no longer in use: one process owns a sled database, and
    /// the tree belongs to one function, so any other namespace in it is an edited
    /// function's.
    pub(super) fn scan_with(&self, store: &S) -> Result<(), StoreError> {
        let now = self.clock.unix_nanos();
        let mut doomed = Vec::new();
        let (mut len, mut bytes) = (0u64, 0u64);
        store.mark_in_use(self.namespace_tag, now);
        store.for_each(&mut |id, value| match self.verdict(store, value, now) {
            Verdict::Other => {}
            Verdict::Keep => {
                len += 1;
                bytes += value.len() as u64;
            }
            Verdict::Drop if doomed.len() < STALE_BUDGET => doomed.push((id, false)),
            Verdict::Drop => {}
            Verdict::Expired => doomed.push((id, true)),
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

    /// Removes every stored entry of this namespace (and damaged ones); if the storage is
    /// away, it is cleared before it is used again.
    pub(super) fn clear_store(&self) {
        let Some(store) = self.store_or_record(Missed::All) else {
            return;
        };
        if let Err(why) = self.clear_entries(store) {
            self.go_offline("clearing the cache storage", &why, Missed::All);
        }
    }

    /// Removes every entry of this namespace (and damaged ones) from `store`.
    pub(super) fn clear_entries(&self, store: &S) -> Result<(), StoreError> {
        if !store.clear_location()? {
            // Headers only: a whole-entry read of every file would hold every invalidation
            // stripe for as long as reading the whole store takes.
            let mut ids = Vec::new();
            store.for_each_header(&mut |id, header| {
                if record::peek(header).is_none_or(|p| p.namespace == self.namespace_tag) {
                    ids.push(id);
                }
            })?;
            for id in &ids {
                store.remove(id)?;
            }
        }
        self.counters.len.store(0, Ordering::Relaxed);
        self.counters.bytes.store(0, Ordering::Relaxed);
        self.access.clear();
        Ok(())
    }
}

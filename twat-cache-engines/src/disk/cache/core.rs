//! [`DiskCore`]: everything of a disk cache that does not depend on the value type — the store,
//! the memory fallback, counters, bounds, single-flight and invalidation generations. A
//! [`DiskCache`](super::DiskCache) is a typed view of one; a generic function's instantiations
//! share it, and a function's handle can open it (to count or clear entries) before any call.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, MutexGuard};

use super::attach::{Attach, Missed};
use super::fallback::{Fallback, FilesFallback, MemoryFallback};
use super::ledger::PruneLedger;
use crate::disk::FileStore;
use crate::disk::backend::{Backend, EntryId, IdHasher, Stored};
use crate::disk::error::StoreError;
use crate::disk::key_bytes::{self, KeyBytes};
use crate::early::EarlyRefresh;
use crate::flight::FlightTable;
use crate::{CacheStats, Clock, MemoryCache, Policy};

/// Invalidation generations are kept per stripe of ids, not per id: bounded memory, and a
/// removal voids at most the in-flight stores of its stripe.
const STRIPES: usize = 64;

/// The memory fallback's bounds when the cache itself has none: a fallback must not grow
/// without limit in a process whose disk is gone.
const FALLBACK_MAXSIZE: usize = 10_000;
const FALLBACK_MAX_BYTES: u64 = 256 << 20;

/// The local file cache a storage on another machine falls back to (see `fallback.rs`),
/// until it is opened.
pub(super) struct FilesOpener {
    /// Its entries' directory.
    pub dir: PathBuf,
    pub open: Box<dyn FnOnce() -> Arc<DiskCore<FileStore>> + Send>,
}

/// The untyped part of a disk cache (see the module docs).
///
/// ```
/// use twat_cache::FileCache;
///
/// let dir = tempfile::tempdir().unwrap();
/// let cache: FileCache<u32> = FileCache::builder(dir.path()).build();
/// cache.insert("a", &1);
/// let core = cache.core();
/// assert_eq!(core.len(), 1);
/// core.clear();
/// assert_eq!(cache.get("a"), None);
/// ```
pub struct DiskCore<S> {
    pub(super) folder: PathBuf,
    /// The storage, once opened.
    pub(super) store: OnceLock<S>,
    /// Whether the storage is in use: opened, and nothing it missed is pending (see
    /// `attach.rs`). Cleared when a failed write left an older entry that could not be
    /// removed either, so that entry can never shadow the newer value in memory.
    pub(super) online: AtomicBool,
    pub(super) attach: Mutex<Attach>,
    /// Opens the storage (checking the directories on the way).
    pub(super) opener: Box<dyn Fn() -> Result<S, StoreError> + Send + Sync>,
    /// Where entries go while the storage is away (created on the first fault).
    pub(super) fallback: OnceLock<Box<dyn Fallback>>,
    /// Makes the fallback a local file cache rather than memory.
    pub(super) fallback_files: Mutex<Option<FilesOpener>>,
    /// BLAKE3 key derived from the namespace: an entry id is the keyed BLAKE3 of the value
    /// layout and the serialized key (see `id_of`), so every namespace has its own id space.
    pub(super) id_key: [u8; 32],
    pub(super) namespace_tag: u64,
    pub(super) ttl: u64,
    pub(super) refresh: bool,
    pub(super) maxsize: u64,
    pub(super) max_bytes: u64,
    /// Most bytes of one entry, read or written (see `DEFAULT_MAX_ENTRY_BYTES`).
    pub(super) max_entry: u64,
    pub(super) policy: Policy,
    pub(super) compress: bool,
    pub(super) clock: Clock,
    pub(super) single_flight: bool,
    /// Probabilistic early refresh (`None`: off; see `early.rs`).
    pub(super) early: Option<EarlyRefresh>,
    pub(super) flights: FlightTable,
    pub(super) generations: [Mutex<u64>; STRIPES],
    /// Per-entry use, for choosing sampled eviction victims (stores that do not prune).
    pub(super) access: dashmap::DashMap<EntryId, Access, IdHasher>,
    pub(super) counters: DiskCounters,
    /// This process's writes during a prune (see `ledger.rs`).
    pub(super) ledger: PruneLedger,
    pub(super) warned: AtomicBool,
}

/// What this process knows about an entry's use, for choosing eviction victims.
#[derive(Clone, Copy)]
pub(super) struct Access {
    pub last: u64,
    pub hits: u32,
}

#[derive(Default)]
pub(super) struct DiskCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub inserts: AtomicU64,
    pub evictions: AtomicU64,
    pub expirations: AtomicU64,
    pub errors: AtomicU64,
    pub len: AtomicU64,
    pub bytes: AtomicU64,
    pub sampler: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn saturating_sub(counter: &AtomicU64, by: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(by))
    });
}

impl<S: Backend> DiskCore<S> {
    /// The storage folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Whether the cache is working from its fallback (memory, or local files for a remote
    /// storage) because the storage could not be used.
    pub fn is_fallback(&self) -> bool {
        self.store().is_none() || self.fallback.get().is_some_and(|f| f.len() > 0)
    }

    /// Logs one warning per cache, counts every fault, and makes sure the fallback exists.
    pub(super) fn fault(&self, doing: &str, why: &dyn std::fmt::Display) {
        bump(&self.counters.errors);
        let instead = self.fallback().instead();
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(location = %self.folder.display(), error = %why,
                "twat-cache: {doing} failed; {instead}");
        }
    }

    /// The fallback, created on first use.
    pub(super) fn fallback(&self) -> &dyn Fallback {
        &**self
            .fallback
            .get_or_init(|| match self.fallback_files.lock().take() {
                Some(files) => Box::new(FilesFallback((files.open)())),
                None => Box::new(self.memory_fallback()),
            })
    }

    fn memory_fallback(&self) -> MemoryFallback {
        let maxsize = if self.maxsize == u64::MAX {
            FALLBACK_MAXSIZE
        } else {
            self.maxsize as usize
        };
        let max_bytes = self.max_bytes.min(FALLBACK_MAX_BYTES);
        MemoryCache::builder()
            .policy(self.policy)
            .maxsize(maxsize)
            .max_bytes(max_bytes)
            .weigher(|_, v: &Arc<[u8]>| v.len() as u64)
            .build()
    }

    /// The id of the entry of `key` for values of layout `value_layout` (see
    /// `value_layout.rs`): a generic function's instantiations share this core and may share
    /// a key (`key = s` with `T` only in the return type), so each value type needs its own
    /// entry or they overwrite each other's. The fixed-size layout goes first, so no two
    /// (layout, key) pairs hash the same bytes.
    pub(super) fn id_of(&self, key: &[u8], value_layout: u64) -> EntryId {
        *blake3::Hasher::new_keyed(&self.id_key)
            .update(&value_layout.to_le_bytes())
            .update(key)
            .finalize()
            .as_bytes()
    }

    /// The self-describing bytes of `key` (see `key_bytes.rs`); `None` (with a fault) if its
    /// `Serialize` fails.
    pub(super) fn key_bytes<Q: ?Sized + serde::Serialize>(&self, key: &Q) -> Option<KeyBytes> {
        match key_bytes::encode(key) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.fault("serializing a cache key", &e);
                None
            }
        }
    }

    /// Whether eviction needs per-entry access times (only bounded caches evict).
    pub(super) fn tracks_access(&self) -> bool {
        self.maxsize != u64::MAX || self.max_bytes != u64::MAX
    }

    /// The most bytes one entry can have: what a read accepts, a decompression produces and
    /// a write stores.
    pub(super) fn max_entry(&self) -> u64 {
        self.max_entry
    }

    /// Entries of this namespace: the store's count (for a file store shared by processes,
    /// counted from its directory now, as `twat-cache stats` counts it), plus any fallback.
    pub fn len(&self) -> usize {
        let fallback = self.fallback.get().map_or(0, |f| f.len());
        self.stored_counts().0 as usize + fallback
    }

    /// Entries and bytes in the storage (zero while it is away). A local store other processes
    /// write too (files) is recounted first: this process's running count cannot see their
    /// writes and removals. Not on the hit path: only `len`/`stats` ask.
    fn stored_counts(&self) -> (u64, u64) {
        let Some(store) = self.store() else {
            return (0, 0);
        };
        if S::PRUNES && S::LOCAL {
            self.recount(store);
        }
        let c = &self.counters;
        (
            c.len.load(Ordering::Relaxed),
            c.bytes.load(Ordering::Relaxed),
        )
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and size (disk plus any fallback).
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let fallback = self.fallback.get().map(|f| f.stats()).unwrap_or_default();
        let (len, bytes) = self.stored_counts();
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            inserts: c.inserts.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed) + fallback.evictions,
            expirations: c.expirations.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed) + fallback.errors,
            len: len + fallback.len,
            bytes: bytes + fallback.bytes,
        }
    }

    /// The invalidation stripe of `id`.
    pub(super) fn stripe(&self, id: &EntryId) -> MutexGuard<'_, u64> {
        self.generations[id[0] as usize % STRIPES].lock()
    }

    fn forget(&self, id: &EntryId, stored_len: u64) {
        // Saturating: with files shared by processes, this process may delete an entry another
        // one wrote, which its counts never included (the next prune recounts).
        saturating_sub(&self.counters.len, 1);
        saturating_sub(&self.counters.bytes, stored_len);
        self.ledger.note_write(id, None);
        self.access.remove(id);
    }

    /// Removes a stored entry by id (known to be ours); returns whether it was there.
    pub(super) fn delete(&self, id: &EntryId) -> bool {
        let Some(store) = self.store_or_record(Missed::Entry(*id)) else {
            return false;
        };
        match store.remove(id) {
            Ok(Some(old_len)) => {
                self.forget(id, old_len);
                true
            }
            Ok(None) => false,
            Err(why) => {
                // The entry may still be there: the storage must not be read again before
                // the removal is (the reliability suite's fault injection found stale values
                // read back after an invalidation whose removal had failed).
                self.go_offline("removing a cache entry", &why, Missed::Entry(*id));
                false
            }
        }
    }

    /// The stored bytes for `id`, from the storage or the fallback (at most one of them holds
    /// an id: a stored write removes it from the fallback, a failed one from the storage).
    pub(super) fn stored(&self, id: &EntryId) -> Option<Stored> {
        self.stored_for(id, false)
    }

    /// [`DiskCore::stored`] for a hit: with `touch`, a shared store records the use (for
    /// pruning by last access).
    pub(super) fn stored_for(&self, id: &EntryId, touch: bool) -> Option<Stored> {
        if let Some(store) = self.store() {
            let found = if touch {
                store.get_touched(id, self.max_entry())
            } else {
                store.get(id, self.max_entry())
            };
            match found {
                Ok(Some(bytes)) => return Some(bytes),
                Ok(None) => {}
                Err(why) if why.is_unavailable() => {
                    self.go_offline("reading the cache storage", &why, Missed::Nothing);
                }
                Err(why) => self.fault("reading the cache storage", &why),
            }
        }
        self.fallback.get().and_then(|f| f.get(id))
    }

    /// Removes a damaged, stale or expired entry.
    pub(super) fn discard(&self, id: &EntryId) {
        if let Some(f) = self.fallback.get() {
            f.remove(id);
        }
        self.delete(id);
    }

    /// Removes the entry under `id` that this cache could read (an older value that a write
    /// too large to store must not leave behind). In a store other machines share, an entry
    /// over this cache's bound is left alone: this cache never reads it, and it is another
    /// one's, with a larger bound (removing it, each would delete what the other stores).
    pub(super) fn discard_readable(&self, id: &EntryId) {
        if !S::LOCAL
            && let Some(store) = self.store()
            && let Ok(None) = store.get(id, self.max_entry())
        {
            if let Some(f) = self.fallback.get() {
                f.remove(id);
            }
            return;
        }
        self.discard(id);
    }

    /// Drops an entry this cache found expired by its own clock. A store shared with other
    /// machines keeps it: their clocks differ from this one, and the server expires its keys
    /// itself (`PX`); only a copy in the local fallback goes.
    pub(super) fn expire(&self, id: &EntryId) {
        if S::LOCAL {
            self.discard(id);
        } else if let Some(f) = self.fallback.get() {
            f.remove(id);
        }
    }

    /// How far in this clock's future an entry's renewal is still trusted, in nanoseconds:
    /// [`CLOCK_SKEW_TOLERANCE`](super::CLOCK_SKEW_TOLERANCE) for a store other machines write
    /// too, none for one on this machine.
    pub(super) fn clock_skew(&self) -> u64 {
        if S::LOCAL {
            0
        } else {
            crate::clock::duration_nanos(super::CLOCK_SKEW_TOLERANCE)
        }
    }

    /// Removes the entry whose serialized key is `key` and whose values have layout
    /// `value_layout`, voiding in-flight computations of its stripe; `true` if there was one.
    pub(super) fn remove_key(&self, key: &[u8], value_layout: u64) -> bool {
        let id = self.id_of(key, value_layout);
        let mut generation = self.stripe(&id);
        *generation += 1;
        let in_fallback = self.fallback.get().is_some_and(|f| f.remove(&id));
        let Some(store) = self.store_or_record(Missed::Entry(id)) else {
            // The storage is away: the removal is recorded and applied when it returns (its
            // entry cannot be checked now; an id is a 256-bit keyed hash of this key and layout).
            return in_fallback;
        };
        // Only remove a disk entry that is really ours (same key), never a colliding one. If
        // it cannot be read, it cannot be told apart: the storage is left until the removal
        // is applied (as when it was away).
        let ours = match store.get(&id, self.max_entry()) {
            Ok(Some(stored)) => crate::disk::record::decode(&stored).is_some_and(|r| r.key == key),
            // Nothing this cache can read; in a store other machines share, maybe an entry
            // over this cache's bound that a cache with a larger one wrote: the invalidation
            // reaches it too (its id is the keyed hash of this key and layout, as when applied
            // later).
            Ok(None) => !S::LOCAL,
            Err(why) => {
                self.go_offline("reading the cache storage", &why, Missed::Entry(id));
                return in_fallback;
            }
        };
        (ours && self.delete(&id)) || in_fallback
    }

    /// Stores encoded bytes unless `generation` is given and a removal happened since; returns
    /// whether it stored them.
    pub(super) fn put(&self, id: &EntryId, bytes: Vec<u8>, generation: Option<u64>) -> bool {
        let stripe = self.stripe(id);
        if generation.is_some_and(|g| g != *stripe) {
            return false;
        }
        self.put_unchecked(id, bytes);
        true
    }

    fn put_unchecked(&self, id: &EntryId, bytes: Vec<u8>) {
        // Away, the storage must lose its copy before it is read again: this value is newer.
        if let Some(store) = self.store_or_record(Missed::Entry(*id)) {
            let new_len = bytes.len() as u64;
            match store.put(id, &bytes) {
                Ok(old) => {
                    let c = &self.counters;
                    match old {
                        Some(old_len) => saturating_sub(&c.bytes, old_len),
                        None => {
                            c.len.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    c.bytes.fetch_add(new_len, Ordering::Relaxed);
                    self.ledger.note_write(id, Some(new_len));
                    if let Some(f) = self.fallback.get() {
                        f.remove(id); // the storage now holds the newest value
                    }
                    return;
                }
                Err(why) => {
                    self.fault("writing the cache storage", &why);
                    // The older entry must not outlive this write, or a later read (once the
                    // memory copy is evicted) would return it.
                    match store.remove(id) {
                        Ok(old) => {
                            if let Some(old_len) = old {
                                self.forget(id, old_len);
                            }
                        }
                        Err(why) => self.go_offline(
                            "removing a stale cache entry",
                            &why,
                            Missed::Entry(*id),
                        ),
                    }
                }
            }
        }
        self.fallback().insert(*id, bytes);
    }

    /// Replaces `expected` by `renewed` (a refresh), unless the entry changed meanwhile or its
    /// stripe saw a removal since `generation` (read before `expected` was): like a computed
    /// value, a renewal must not bring back what an invalidation removed while it was read.
    pub(super) fn renew(&self, id: &EntryId, expected: &Stored, renewed: Vec<u8>, generation: u64) {
        // Held while replacing, as `put` and `remove_key` hold it: no removal slips between.
        let stripe = self.stripe(id);
        if *stripe == generation {
            self.replace_stored(id, expected, renewed);
        }
    }

    /// [`DiskCore::renew`] without the generation check.
    pub(super) fn replace_stored(&self, id: &EntryId, expected: &Stored, renewed: Vec<u8>) {
        match (expected, self.store()) {
            (Stored::Memory(_), _) | (_, None) => {
                if let Some(f) = self.fallback.get() {
                    f.replace(id, expected, renewed);
                }
            }
            (_, Some(store)) => {
                if let Err(why) = store.replace(id, expected, &renewed) {
                    self.fault("renewing a cache entry", &why);
                }
            }
        }
    }

    pub(super) fn touch(&self, id: &EntryId, now: u64) {
        self.access
            .entry(*id)
            .and_modify(|a| {
                a.last = now;
                a.hits = a.hits.saturating_add(1);
            })
            .or_insert(Access { last: now, hits: 1 });
    }

    /// Removes every entry of this namespace, voiding every in-flight computation.
    pub fn clear(&self) {
        let mut stripes: Vec<_> = self.generations.iter().map(|g| g.lock()).collect();
        for generation in &mut stripes {
            **generation += 1;
        }
        if let Some(f) = self.fallback.get() {
            f.clear();
        }
        self.clear_store();
    }

    /// Writes everything to disk now (a normal exit does this too).
    pub fn flush(&self) -> Result<(), StoreError> {
        match self.store() {
            Some(store) => store.flush(),
            None => Ok(()),
        }
    }
}

impl<S: Backend> std::fmt::Debug for DiskCore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskCore")
            .field("folder", &self.folder)
            .field("fallback", &self.is_fallback())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

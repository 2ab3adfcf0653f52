//! Where a disk cache keeps entries while its storage is away: in memory, or — for a storage on
//! another machine (Redis) — in a local file cache first, which itself falls back to memory.
//!
//! A fallback holds encoded records under their ids like the storage does; the cache checks
//! what it reads from either the same way (key, layout, checksum, deadline). Its contents are
//! only good while the storage is away: other machines may change or remove entries of the
//! storage meanwhile, and a fallback cannot hear of it. So every fallback is emptied when the
//! storage comes into use — a local file fallback also when a process first reaches the storage,
//! for what processes that died during an outage left (see `attach.rs`). The processes of a
//! machine share a local file fallback while the storage is away for them.

use std::sync::Arc;

use super::core::DiskCore;
use crate::disk::FileStore;
use crate::disk::backend::{EntryId, Stored};
use crate::{CacheStats, MemoryCache};

/// Entry bytes by id, kept while the storage is away.
pub(super) trait Fallback: Send + Sync {
    /// What the warning says the cache does instead: "caching in memory instead".
    fn instead(&self) -> &'static str;
    fn get(&self, id: &EntryId) -> Option<Stored>;
    fn insert(&self, id: EntryId, bytes: Vec<u8>);
    /// Replaces `expected`, read from this fallback, by `renewed` if `id` still holds it.
    fn replace(&self, id: &EntryId, expected: &Stored, renewed: Vec<u8>);
    /// Returns whether `id` was held.
    fn remove(&self, id: &EntryId) -> bool;
    fn clear(&self);
    fn len(&self) -> usize;
    /// Its evictions, errors and bytes (the cache adds them to its own).
    fn stats(&self) -> CacheStats;
}

/// Encoded records in memory, bounded by entries and bytes.
pub(super) type MemoryFallback = MemoryCache<EntryId, Arc<[u8]>>;

impl Fallback for MemoryFallback {
    fn instead(&self) -> &'static str {
        "caching in memory instead"
    }
    fn get(&self, id: &EntryId) -> Option<Stored> {
        MemoryCache::get(self, id).map(Stored::Memory)
    }
    fn insert(&self, id: EntryId, bytes: Vec<u8>) {
        MemoryCache::insert(self, id, Arc::from(bytes));
    }
    fn replace(&self, id: &EntryId, expected: &Stored, renewed: Vec<u8>) {
        // Callers hold the id's stripe, as every insert does: nothing changes it meanwhile.
        let Stored::Memory(expected) = expected else {
            return;
        };
        if MemoryCache::get(self, id).is_some_and(|held| Arc::ptr_eq(&held, expected)) {
            MemoryCache::insert(self, *id, Arc::from(renewed));
        }
    }
    fn remove(&self, id: &EntryId) -> bool {
        MemoryCache::remove(self, id)
    }
    fn clear(&self) {
        MemoryCache::clear(self)
    }
    fn len(&self) -> usize {
        MemoryCache::len(self)
    }
    fn stats(&self) -> CacheStats {
        MemoryCache::stats(self)
    }
}

/// Encoded records in a local file cache (same namespace, bounds and TTL), shared by the
/// processes of this machine while the storage is away for them.
pub(super) struct FilesFallback(pub(super) Arc<DiskCore<FileStore>>);

impl Fallback for FilesFallback {
    fn instead(&self) -> &'static str {
        "caching on the local disk instead"
    }
    fn get(&self, id: &EntryId) -> Option<Stored> {
        self.0.stored_for(id, true)
    }
    fn insert(&self, id: EntryId, bytes: Vec<u8>) {
        let now = self.0.clock.unix_nanos();
        if bytes.len() as u64 > self.0.max_bytes {
            self.0.discard(&id);
        } else if self.0.put(&id, bytes, None) {
            self.0.note_insert(&id, now);
        }
    }
    fn replace(&self, id: &EntryId, expected: &Stored, renewed: Vec<u8>) {
        self.0.replace_stored(id, expected, renewed);
    }
    fn remove(&self, id: &EntryId) -> bool {
        let in_memory = self.0.fallback.get().is_some_and(|m| m.remove(id));
        self.0.delete(id) || in_memory
    }
    fn clear(&self) {
        self.0.clear()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn stats(&self) -> CacheStats {
        self.0.stats()
    }
}

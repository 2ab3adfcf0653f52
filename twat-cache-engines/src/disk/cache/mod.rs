//! [`DiskCache`]: a persistent cache over a storage [`Backend`] (sled or files), with a memory
//! fallback.
//!
//! This file holds the cache and its read/write path; `builder.rs` opens it, `entry.rs` is the
//! single-flight entry API, `maintenance.rs` the eviction, pruning and expiry sweeps, `bytes.rs`
//! the byte forms (keys on the stack, compression).

mod builder;
mod bytes;
mod entry;
mod maintenance;

pub use builder::DiskCacheBuilder;
pub use entry::{DiskEntry, DiskVacant};

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::backend::{Backend, EntryId, Stored};
use super::record::{self, COMPRESSED, Header};
use crate::flight::{Flight, FlightTable, Join};
use crate::{CacheStats, Clock, MemoryCache, Policy};
use bytes::{KeyBytes, SMALL_KEY, SWEEP_EVERY, compress};

/// A persistent cache of `V` values in a storage backend `S`, keyed by anything `Serialize`:
/// [`SledCache`](crate::SledCache) (a sled database) or [`FileCache`](crate::FileCache) (one file
/// per entry).
///
/// Keys are identified by their postcard serialization, so a borrowed form serializes like its
/// owned one (`&str`/`String`, `&[T]`/`Vec<T>`, `&Path`/`PathBuf`) and lookups never need the
/// owned key. Entries carry their serialized key, their value type and a checksum: a
/// collision, a changed value type or a damaged entry reads as a miss, never as a wrong value.
///
/// If the storage cannot be used (locked by another process, unwritable folder, full disk,
/// corruption that recovery cannot fix), the cache logs one warning, counts `errors`, and keeps
/// working in memory. Storage calls run inline, also from async code.
///
/// ```
/// use std::time::Duration;
/// use twat_cache_engines::{Clock, FileCache, SledCache};
///
/// let dir = tempfile::tempdir().unwrap();
/// let clock = Clock::manual();
/// let files: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("files"))
///     .ttl(Duration::from_secs(60))
///     .clock(clock.clone())
///     .build();
/// let sled: SledCache<Vec<u8>> = SledCache::builder(dir.path().join("db"), "blobs").build();
/// files.insert("a", &vec![1]);
/// sled.insert("a", &vec![1]);
/// assert_eq!(files.get("a"), Some(vec![1]));
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(files.get("a"), None, "expired");
/// assert_eq!(sled.get_or_insert_with("a", || vec![2]), vec![1]);
/// assert_eq!(sled.stats().hits, 1);
/// ```
pub struct DiskCache<S, V> {
    folder: PathBuf,
    store: Option<S>,
    fallback: OnceLock<MemoryCache<EntryId, Arc<[u8]>>>,
    /// BLAKE3 key derived from the namespace: an entry id is the keyed BLAKE3 of the serialized
    /// key, so every namespace has its own id space.
    id_key: [u8; 32],
    namespace_tag: u64,
    value_type: u64,
    ttl: u64,
    refresh: bool,
    maxsize: u64,
    max_bytes: u64,
    policy: Policy,
    compress: bool,
    clock: Clock,
    single_flight: bool,
    flights: FlightTable,
    access: dashmap::DashMap<EntryId, Access>,
    counters: DiskCounters,
    warned: AtomicBool,
    _value: PhantomData<fn() -> V>,
}

/// What this process knows about an entry's use, for choosing eviction victims.
#[derive(Clone, Copy)]
struct Access {
    last: u64,
    hits: u32,
}

#[derive(Default)]
struct DiskCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    errors: AtomicU64,
    len: AtomicU64,
    bytes: AtomicU64,
    sampler: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl<S: Backend, V> DiskCache<S, V> {
    /// The storage folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Whether the cache is working from memory because the database could not be used.
    pub fn is_fallback(&self) -> bool {
        self.store.is_none() || self.fallback.get().is_some()
    }

    /// Logs one warning per cache, counts every fault, and makes sure the memory fallback exists.
    fn fault(&self, doing: &str, why: &str) {
        bump(&self.counters.errors);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(folder = %self.folder.display(), error = %why,
                "twat-cache: {doing} failed; caching in memory instead");
        }
        self.memory();
    }

    fn memory(&self) -> &MemoryCache<EntryId, Arc<[u8]>> {
        self.fallback.get_or_init(|| {
            let mut builder = MemoryCache::builder().policy(self.policy);
            if self.maxsize != u64::MAX {
                builder = builder.maxsize(self.maxsize as usize);
            }
            if self.max_bytes != u64::MAX {
                builder = builder
                    .max_bytes(self.max_bytes)
                    .weigher(|_, v: &Arc<[u8]>| v.len() as u64);
            }
            builder.build()
        })
    }

    fn id_of(&self, key: &[u8]) -> EntryId {
        *blake3::keyed_hash(&self.id_key, key).as_bytes()
    }

    /// Whether eviction needs per-entry access times (only bounded caches evict).
    fn tracks_access(&self) -> bool {
        self.maxsize != u64::MAX || self.max_bytes != u64::MAX
    }

    /// Entries of this namespace.
    pub fn len(&self) -> usize {
        let memory = self.fallback.get().map_or(0, |m| m.len());
        let disk = if self.store.is_some() {
            self.counters.len.load(Ordering::Relaxed)
        } else {
            0
        };
        disk as usize + memory
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and size (disk plus any memory fallback).
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let memory = self.fallback.get().map(|m| m.stats()).unwrap_or_default();
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            inserts: c.inserts.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed) + memory.evictions,
            expirations: c.expirations.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            len: self.len() as u64,
            bytes: c.bytes.load(Ordering::Relaxed) * u64::from(self.store.is_some()) + memory.bytes,
        }
    }

    fn forget(&self, id: &EntryId, stored_len: u64) {
        // Saturating: with files shared by processes, this process may delete an entry another
        // one wrote, which its counts never included (the next prune recounts).
        let sub = |counter: &AtomicU64, by: u64| {
            let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(by))
            });
        };
        sub(&self.counters.len, 1);
        sub(&self.counters.bytes, stored_len);
        self.access.remove(id);
    }

    /// Removes a stored entry by id (known to be ours); returns whether it was there.
    fn delete(&self, id: &EntryId) -> bool {
        let Some(store) = &self.store else {
            return false;
        };
        match store.remove(id) {
            Ok(Some(old_len)) => {
                self.forget(id, old_len);
                true
            }
            Ok(None) => false,
            Err(why) => {
                self.fault("removing a cache entry", &why);
                false
            }
        }
    }
}

impl<S: Backend, V: Serialize + DeserializeOwned> DiskCache<S, V> {
    fn key_bytes<Q: ?Sized + Serialize>(&self, key: &Q) -> Option<KeyBytes> {
        let mut small = [0u8; SMALL_KEY];
        if let Ok(used) = postcard::to_slice(key, &mut small) {
            let len = used.len();
            return Some(KeyBytes::Small(small, len));
        }
        match postcard::to_allocvec(key) {
            Ok(bytes) => Some(KeyBytes::Large(bytes)),
            Err(e) => {
                self.fault("serializing a cache key", &e.to_string());
                None
            }
        }
    }

    /// The value stored for `key`, counting a hit or a miss.
    pub fn get<Q: ?Sized + Serialize>(&self, key: &Q) -> Option<V> {
        let found = self
            .key_bytes(key)
            .and_then(|bytes| self.read(&self.id_of(&bytes), &bytes));
        if found.is_none() {
            bump(&self.counters.misses);
        }
        found
    }

    /// Stores `value` under `key`.
    pub fn insert<Q: ?Sized + Serialize>(&self, key: &Q, value: &V) {
        if let Some(bytes) = self.key_bytes(key) {
            self.write(&self.id_of(&bytes), &bytes, value);
        }
    }

    /// Removes `key`'s entry; `true` if one was there.
    pub fn remove<Q: ?Sized + Serialize>(&self, key: &Q) -> bool {
        let Some(bytes) = self.key_bytes(key) else {
            return false;
        };
        let id = self.id_of(&bytes);
        let in_memory = self.fallback.get().is_some_and(|m| m.remove(&id));
        // Only remove a disk entry that is really ours (same key), never a colliding one.
        let ours = self
            .stored(&id)
            .is_some_and(|stored| record::decode(&stored).is_some_and(|r| r.key == &bytes[..]));
        (ours && self.delete(&id)) || in_memory
    }

    /// Looks `key` up; on a miss returns the right to compute it, or waits for the caller who
    /// already is (single-flight).
    pub fn entry<Q: ?Sized + Serialize>(&self, key: &Q) -> DiskEntry<'_, S, V> {
        let Some(bytes) = self.key_bytes(key) else {
            bump(&self.counters.misses);
            return DiskEntry::Vacant(self.vacant(Vec::new(), None));
        };
        let id = self.id_of(&bytes);
        loop {
            if let Some(v) = self.read(&id, &bytes) {
                return DiskEntry::Hit(v);
            }
            match self.join(&id, &bytes) {
                Ok(entry) => return entry,
                Err(flight) => flight.wait(),
            }
        }
    }

    /// [`DiskCache::entry`] for async code: waiting is a future, not a blocked thread.
    pub async fn entry_async<Q: ?Sized + Serialize>(&self, key: &Q) -> DiskEntry<'_, S, V> {
        let Some(bytes) = self.key_bytes(key) else {
            bump(&self.counters.misses);
            return DiskEntry::Vacant(self.vacant(Vec::new(), None));
        };
        let id = self.id_of(&bytes);
        loop {
            if let Some(v) = self.read(&id, &bytes) {
                return DiskEntry::Hit(v);
            }
            match self.join(&id, &bytes) {
                Ok(entry) => return entry,
                Err(flight) => flight.wait_async().await,
            }
        }
    }

    fn vacant(&self, key: Vec<u8>, flight: Option<Arc<Flight>>) -> DiskVacant<'_, S, V> {
        let id = if key.is_empty() {
            [0; 32]
        } else {
            self.id_of(&key)
        };
        DiskVacant {
            cache: self,
            id,
            key,
            flight,
        }
    }

    #[cold]
    fn join(&self, id: &EntryId, key: &[u8]) -> Result<DiskEntry<'_, S, V>, Arc<Flight>> {
        let flight = if self.single_flight {
            let hash = u64::from_le_bytes(id[..8].try_into().expect("8 bytes"));
            match self.flights.join(hash) {
                Join::Wait(flight) => return Err(flight),
                Join::Lead(flight) => {
                    if let Some(v) = self.read(id, key) {
                        self.flights.land(&flight);
                        return Ok(DiskEntry::Hit(v));
                    }
                    Some(flight)
                }
            }
        } else {
            None
        };
        bump(&self.counters.misses);
        Ok(DiskEntry::Vacant(self.vacant(key.to_vec(), flight)))
    }

    /// The cached value or `make()`'s, stored (single-flight).
    pub fn get_or_insert_with<Q: ?Sized + Serialize>(
        &self,
        key: &Q,
        make: impl FnOnce() -> V,
    ) -> V {
        match self.entry(key) {
            DiskEntry::Hit(v) => v,
            DiskEntry::Vacant(vacant) => {
                let value = make();
                vacant.insert(&value);
                value
            }
        }
    }

    /// The stored bytes for `id`, from disk or the memory fallback.
    fn stored(&self, id: &EntryId) -> Option<Stored> {
        if let Some(store) = &self.store {
            match store.get(id) {
                Ok(Some(bytes)) => return Some(bytes),
                Ok(None) => {}
                Err(why) => self.fault("reading the cache database", &why),
            }
        }
        self.fallback
            .get()
            .and_then(|m| m.get(id))
            .map(Stored::Memory)
    }

    /// Hit path: verifies and decodes the entry; anything off is a miss (and is removed).
    fn read(&self, id: &EntryId, key: &[u8]) -> Option<V> {
        let stored = self.stored(id)?;
        let now = if self.ttl != 0 || self.tracks_access() {
            self.clock.unix_nanos()
        } else {
            0
        };
        let Some(entry) = record::decode(&stored) else {
            self.discard(id);
            return None;
        };
        if entry.key != key || entry.header.namespace != self.namespace_tag {
            return None; // a hash collision: someone else's entry, left alone
        }
        if entry.header.value_type != self.value_type {
            self.discard(id);
            return None;
        }
        if entry.header.is_expired(now) {
            self.discard(id);
            bump(&self.counters.expirations);
            return None;
        }
        let Some(value) = self.decode_payload(&entry) else {
            self.discard(id);
            return None;
        };
        if self.refresh && self.ttl != 0 {
            let mut renewed = stored.to_vec();
            record::set_expires(&mut renewed, now.saturating_add(self.ttl));
            self.put(id, renewed);
        }
        if self.tracks_access() {
            self.touch(id, now);
            if let Some(store) = &self.store {
                store.touch(id);
            }
        }
        bump(&self.counters.hits);
        Some(value)
    }

    /// The stored value; `None` if undecodable (e.g. written by an older type).
    fn decode_payload(&self, entry: &record::Record<'_>) -> Option<V> {
        if entry.header.flags & COMPRESSED != 0 {
            zstd::stream::decode_all(entry.payload)
                .ok()
                .and_then(|raw| postcard::from_bytes(&raw).ok())
        } else {
            postcard::from_bytes(entry.payload).ok()
        }
    }

    fn touch(&self, id: &EntryId, now: u64) {
        self.access
            .entry(*id)
            .and_modify(|a| {
                a.last = now;
                a.hits = a.hits.saturating_add(1);
            })
            .or_insert(Access { last: now, hits: 1 });
    }

    /// Removes a damaged, stale or expired entry.
    fn discard(&self, id: &EntryId) {
        if let Some(m) = self.fallback.get() {
            m.remove(id);
        }
        self.delete(id);
    }

    fn write(&self, id: &EntryId, key: &[u8], value: &V) {
        if key.is_empty() {
            return; // the key could not be serialized: nothing to store under
        }
        let now = self.clock.unix_nanos();
        let mut header = Header {
            flags: 0,
            value_type: self.value_type,
            namespace: self.namespace_tag,
            created: now,
            expires: if self.ttl == 0 {
                0
            } else {
                now.saturating_add(self.ttl)
            },
        };
        let encoded = if self.compress {
            postcard::to_allocvec(value).map(|raw| match compress(&raw) {
                Some(packed) => {
                    header.flags = COMPRESSED;
                    record::encode_with::<()>(&header, key, packed.len(), |out| {
                        out.extend_from_slice(&packed);
                        Ok(())
                    })
                    .expect("infallible")
                }
                None => record::encode_with::<()>(&header, key, raw.len(), |out| {
                    out.extend_from_slice(&raw);
                    Ok(())
                })
                .expect("infallible"),
            })
        } else {
            // Serialized straight into the entry's buffer: one copy of a large value, not three.
            let hint = postcard::experimental::serialized_size(value).unwrap_or(0);
            record::encode_with(&header, key, hint, |out| {
                *out = postcard::to_extend(value, std::mem::take(out))?;
                Ok(())
            })
        };
        let bytes = match encoded {
            Ok(bytes) => bytes,
            Err(e) => return self.fault("serializing a cache value", &e.to_string()),
        };
        if bytes.len() as u64 > self.max_bytes {
            // Too large to keep: an older value stored under the key must not outlive this
            // insert, or a later read would return it.
            self.discard(id);
            return;
        }
        self.put(id, bytes);
        let inserts = self.counters.inserts.fetch_add(1, Ordering::Relaxed) + 1;
        if self.tracks_access() {
            self.touch(id, now);
            self.enforce_bounds(id, inserts);
        }
        if self.ttl != 0 && inserts % SWEEP_EVERY == 0 {
            if S::PRUNES {
                self.prune(); // reads only entry headers
            } else {
                self.sweep_sample(now);
            }
        }
    }

    /// Stores encoded bytes on disk, or in memory if the disk fails.
    fn put(&self, id: &EntryId, bytes: Vec<u8>) {
        if let Some(store) = &self.store {
            let new_len = bytes.len() as u64;
            match store.put(id, &bytes) {
                Ok(old) => {
                    let c = &self.counters;
                    match old {
                        Some(old_len) => {
                            let _ =
                                c.bytes
                                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                                        Some(v.saturating_sub(old_len))
                                    });
                        }
                        None => {
                            c.len.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    c.bytes.fetch_add(new_len, Ordering::Relaxed);
                    return;
                }
                Err(why) => self.fault("writing the cache database", &why),
            }
        }
        self.memory().insert(*id, Arc::from(bytes));
    }
}

impl<S: Backend, V> std::fmt::Debug for DiskCache<S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskCache")
            .field("folder", &self.folder)
            .field("fallback", &self.is_fallback())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

//! [`DiskCache`]: a persistent cache over a storage [`Backend`] (sled or files), with a memory
//! fallback.
//!
//! This file holds the typed read/write path; `core.rs` is everything that does not depend on
//! the value type (storage, fallback, counters, invalidation), `builder.rs` opens it, `entry.rs`
//! is the single-flight entry API, `maintenance.rs` the eviction, pruning and expiry sweeps,
//! `bytes.rs` the payload forms (compression).

mod attach;
mod builder;
mod bytes;
mod core;
mod entry;
mod fallback;
mod ledger;
mod maintenance;
mod payload;

pub use self::core::DiskCore;
pub use builder::DiskCacheBuilder;
pub use entry::{DiskEntry, DiskVacant};

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use self::core::bump;
use super::backend::{Backend, EntryId, EntryLock, LockOutcome};
use super::error::StoreError;
use super::record::{self, COMPRESSED, Header};
use crate::engine::{fill_with, fill_with_async, try_fill_with, try_fill_with_async};
use crate::flight::{self, Flight, Join, Outcome};
use crate::{CacheStats, Found};
use bytes::{SWEEP_EVERY, compress, decompress};

/// How far in the future (by this machine's clock) an entry of a store shared with other
/// machines (Redis) may have been written or renewed and still be trusted: their clocks differ
/// a little. An entry beyond it, or expired by this clock, is a miss here but is never deleted
/// from the shared store (the server expires its keys itself, by `PX`). Stores on this
/// machine's disk allow no skew.
pub const CLOCK_SKEW_TOLERANCE: Duration = Duration::from_secs(5);

/// How long a miss waits for another process computing the same entry (stores shared by
/// processes) before computing it too. An async miss does not wait (it must not block its
/// executor's thread): if another process holds the entry, it computes as well.
pub const CROSS_PROCESS_WAIT: Duration = Duration::from_secs(30);

/// A persistent cache of `V` values in a storage backend `S`, keyed by anything `Serialize`:
/// [`SledCache`](crate::SledCache) (a sled database) or [`FileCache`](crate::FileCache) (one file
/// per entry).
///
/// Keys are identified by a self-describing serialization (type tags, struct, field and
/// variant names), so a borrowed form serializes like its owned one (`&str`/`String`,
/// `&[T]`/`Vec<T>`, `&Path`/`PathBuf`) and lookups never need the owned key, while keys of
/// different types (`5u8`, `5u32`) or layouts never meet. Entries carry their serialized key,
/// the layout fingerprint of their value type (its serde data model) and a checksum: a
/// collision, a changed value type or layout, or a damaged entry reads as a miss, never as a
/// wrong value.
///
/// If the storage cannot be used (locked by another process, unwritable or foreign-owned
/// folder, full disk, corruption that recovery cannot fix), the cache logs one warning, counts
/// `errors`, and keeps working in memory. Storage calls run inline, also from async code.
///
/// ```
/// use std::time::Duration;
/// use twat_cache::{Clock, FileCache, SledCache};
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
    core: Arc<DiskCore<S>>,
    /// Layout fingerprint of `V` (see `value_layout.rs`), stored in and checked against every entry.
    value_layout: u64,
    _value: PhantomData<fn() -> V>,
}

impl<S: Backend, V> DiskCache<S, V> {
    /// The untyped part of this cache, shared with other views of it.
    pub fn core(&self) -> &Arc<DiskCore<S>> {
        &self.core
    }

    /// The storage folder.
    pub fn folder(&self) -> &Path {
        self.core.folder()
    }

    /// Whether the cache is working from its fallback (memory, or local files for a remote
    /// storage) because the storage could not be used.
    pub fn is_fallback(&self) -> bool {
        self.core.is_fallback()
    }

    /// Entries of this namespace.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.core.is_empty()
    }

    /// Counters and size (disk plus any memory fallback).
    pub fn stats(&self) -> CacheStats {
        self.core.stats()
    }

    /// Removes every entry of this namespace.
    pub fn clear(&self) {
        self.core.clear()
    }

    /// Removes every expired entry of this namespace now; returns how many.
    pub fn sweep_expired(&self) -> usize {
        self.core.sweep_expired()
    }

    /// Writes everything to disk now (a normal exit does this too).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.core.flush()
    }
}

impl<S: Backend, V: Serialize + DeserializeOwned + 'static> DiskCache<S, V> {
    /// A typed view of `core`, storing and reading `V` values.
    pub fn from_core(core: Arc<DiskCore<S>>) -> Self {
        Self {
            core,
            value_layout: super::value_layout::fingerprint::<V>(),
            _value: PhantomData,
        }
    }

    /// The id of `key`'s entry of this value type (see [`DiskCore::id_of`]).
    fn id_of(&self, key: &[u8]) -> EntryId {
        self.core.id_of(key, self.value_layout)
    }

    /// The value stored for `key`, counting a hit or a miss.
    pub fn get<Q: ?Sized + Serialize>(&self, key: &Q) -> Option<V> {
        let found = self
            .core
            .key_bytes(key)
            .and_then(|bytes| self.read(&self.id_of(&bytes), &bytes));
        if found.is_none() {
            bump(&self.core.counters.misses);
        }
        found
    }

    /// Stores `value` under `key`.
    pub fn insert<Q: ?Sized + Serialize>(&self, key: &Q, value: &V) {
        self.insert_sized(key, value);
    }

    /// [`DiskCache::insert`], returning the stored entry's size in bytes (`None`: not stored).
    pub fn insert_sized<Q: ?Sized + Serialize>(&self, key: &Q, value: &V) -> Option<u64> {
        let bytes = self.core.key_bytes(key)?;
        self.write(&self.id_of(&bytes), &bytes, value, None, 0)
    }

    /// Removes `key`'s entry; `true` if one was there. A computation of `key` in flight
    /// meanwhile does not store its result.
    pub fn remove<Q: ?Sized + Serialize>(&self, key: &Q) -> bool {
        self.core
            .key_bytes(key)
            .is_some_and(|bytes| self.core.remove_key(&bytes, self.value_layout))
    }

    /// The duty to store a value for `key` whether or not an entry exists (see
    /// [`Engine::replacement`](crate::Engine::replacement)).
    pub fn replacement<Q: ?Sized + Serialize>(&self, key: &Q) -> DiskVacant<'_, S, V> {
        let key = self.core.key_bytes(key).map(|bytes| bytes.to_vec());
        self.uncounted_vacancy(key, None, None)
    }

    /// Looks `key` up; on a miss returns the right to compute it, or waits for the caller who
    /// already is (single-flight).
    pub fn entry<Q: ?Sized + Serialize>(&self, key: &Q) -> DiskEntry<'_, S, V> {
        let Some(bytes) = self.core.key_bytes(key) else {
            return self.vacant(None, None, None);
        };
        let id = self.id_of(&bytes);
        flight::settle(
            || self.attempt(&id, &bytes, CROSS_PROCESS_WAIT),
            || self.vacant(Some(bytes.to_vec()), None, None),
        )
    }

    /// [`DiskCache::entry`] for async code: waiting is a future, not a blocked thread.
    pub async fn entry_async<Q: ?Sized + Serialize>(&self, key: &Q) -> DiskEntry<'_, S, V> {
        let Some(bytes) = self.core.key_bytes(key) else {
            return self.vacant(None, None, None);
        };
        let id = self.id_of(&bytes);
        flight::settle_async(
            || self.attempt(&id, &bytes, Duration::ZERO),
            || self.vacant(Some(bytes.to_vec()), None, None),
        )
        .await
    }

    /// One look: a hit, the lead of this key's computation, or the flight to wait for.
    fn attempt(
        &self,
        id: &EntryId,
        key: &[u8],
        wait: Duration,
    ) -> Result<DiskEntry<'_, S, V>, Arc<Flight>> {
        match self.read_with_lifetime(id, key) {
            Some(hit) => Ok(self.hit_or_refresh(id, key, hit)),
            None => self.join(id, key, wait),
        }
    }

    /// A hit, or — when its early refresh is due — the duty to recompute it.
    #[inline]
    fn hit_or_refresh(&self, id: &EntryId, key: &[u8], hit: DiskHit<V>) -> DiskEntry<'_, S, V> {
        match self.early_draw(&hit) {
            None => DiskEntry::Hit(hit.value),
            Some(draw) => self.early_entry(id, key, hit.value, draw),
        }
    }

    /// The draw that makes `hit`'s early refresh due, if it is.
    fn early_draw(&self, hit: &DiskHit<V>) -> Option<f64> {
        let early = self.core.early.as_ref()?;
        let remaining = crate::clock::duration_nanos(hit.lifetime?);
        early.due(0, remaining, hit.took)
    }

    /// An early refresh this caller makes if it can take the key's flight and cross-process
    /// lock without waiting, and the entry has not been refreshed meanwhile; else the hit.
    #[cold]
    #[inline(never)]
    fn early_entry(&self, id: &EntryId, key: &[u8], value: V, draw: f64) -> DiskEntry<'_, S, V> {
        let Join::Lead(flight) = self.core.flights.join(id_hash(id)) else {
            return DiskEntry::Hit(value);
        };
        match self.claim_refresh(id, draw) {
            Some(lock) => DiskEntry::Vacant(self.vacancy(Some(key.to_vec()), Some(flight), lock)),
            None => {
                self.core.flights.land(&flight, Outcome::Stored);
                DiskEntry::Hit(value)
            }
        }
    }

    /// The right to refresh `id` early: its cross-process lock, taken without waiting (`None`
    /// inside: the store is away, or takes no locks), if the stored entry is still due by
    /// `draw` — not if another process is refreshing it or has refreshed it since.
    fn claim_refresh(&self, id: &EntryId, draw: f64) -> Option<Option<EntryLock>> {
        let lock = match self.core.store().map(|s| s.lock_entry(id, Duration::ZERO)) {
            Some(LockOutcome::Acquired { lock, .. }) => Some(lock),
            Some(LockOutcome::TimedOut) => return None,
            None => None,
        };
        self.still_due(id, draw).then_some(lock)
    }

    /// Whether the entry stored under `id` is due by `draw` (read without counting a hit).
    fn still_due(&self, id: &EntryId, draw: f64) -> bool {
        let core = &*self.core;
        let Some(stored) = core.stored(id) else {
            return false;
        };
        let Some(entry) = record::decode(&stored) else {
            return false;
        };
        let header = entry.header;
        let deadline = record::deadline(header.renewed, header.expires, core.ttl);
        let remaining = deadline.saturating_sub(core.clock.unix_nanos());
        deadline != u64::MAX && crate::early::still_due(draw, remaining, header.took)
    }

    /// For a tier in front of this cache whose copy of `key` is due for an early refresh by
    /// `draw`: the duty to refresh it (holding the cross-process lock), or — if another process
    /// is refreshing it or has refreshed it — what the store holds.
    pub(crate) fn lead_early(
        &self,
        bytes: Option<&[u8]>,
        draw: f64,
    ) -> Found<DiskHit<V>, DiskVacant<'_, S, V>> {
        if let Some(bytes) = bytes {
            let id = self.id_of(bytes);
            if let Some(lock) = self.claim_refresh(&id, draw) {
                return Found::Vacant(self.vacancy(Some(bytes.to_vec()), None, lock));
            }
        }
        self.lead_serialized(bytes, Duration::ZERO)
    }

    /// A miss this caller fills (`key` `None`: the key could not be serialized, nothing will
    /// be stored).
    fn vacant(
        &self,
        key: Option<Vec<u8>>,
        flight: Option<Arc<Flight>>,
        entry_lock: Option<EntryLock>,
    ) -> DiskEntry<'_, S, V> {
        DiskEntry::Vacant(self.vacancy(key, flight, entry_lock))
    }

    /// The duty to fill a miss (counted as one).
    fn vacancy(
        &self,
        key: Option<Vec<u8>>,
        flight: Option<Arc<Flight>>,
        entry_lock: Option<EntryLock>,
    ) -> DiskVacant<'_, S, V> {
        bump(&self.core.counters.misses);
        self.uncounted_vacancy(key, flight, entry_lock)
    }

    /// The duty to fill `key` (`None`: a key that could not be serialized stores nothing),
    /// with the invalidation generation of its stripe now.
    fn uncounted_vacancy(
        &self,
        key: Option<Vec<u8>>,
        flight: Option<Arc<Flight>>,
        entry_lock: Option<EntryLock>,
    ) -> DiskVacant<'_, S, V> {
        let id = key.as_deref().map_or([0; 32], |k| self.id_of(k));
        let generation = *self.core.stripe(&id);
        DiskVacant {
            cache: self,
            id,
            key,
            flight,
            generation,
            started: self.core.clock.now_nanos(),
            outcome: Outcome::Abandoned,
            _entry_lock: entry_lock,
        }
    }

    #[cold]
    fn join(
        &self,
        id: &EntryId,
        key: &[u8],
        wait: Duration,
    ) -> Result<DiskEntry<'_, S, V>, Arc<Flight>> {
        if !self.core.single_flight {
            return Ok(self.vacant(Some(key.to_vec()), None, None));
        }
        let flight = match self.core.flights.join(id_hash(id)) {
            Join::Wait(flight) => return Err(flight),
            Join::Lead(flight) => flight,
        };
        // A leader may have stored the value between our lookup and our join.
        if let Some(v) = self.read(id, key) {
            self.core.flights.land(&flight, Outcome::Stored);
            return Ok(DiskEntry::Hit(v));
        }
        match self.lock_or_read(id, key, wait) {
            Ok(lock) => Ok(self.vacant(Some(key.to_vec()), Some(flight), lock)),
            Err(hit) => {
                self.core.flights.land(&flight, Outcome::Stored);
                Ok(DiskEntry::Hit(hit.value))
            }
        }
    }

    /// Takes the store's cross-process lock for computing `id`; `Err` with the entry if another
    /// process, which held the lock while we waited, wrote it meanwhile.
    fn lock_or_read(
        &self,
        id: &EntryId,
        key: &[u8],
        wait: Duration,
    ) -> Result<Option<EntryLock>, DiskHit<V>> {
        match self.core.store().map(|s| s.lock_entry(id, wait)) {
            Some(LockOutcome::Acquired { lock, contended }) => {
                if contended && let Some(hit) = self.read_with_lifetime(id, key) {
                    return Err(hit);
                }
                Ok(Some(lock))
            }
            Some(LockOutcome::TimedOut) | None => Ok(None),
        }
    }

    /// The cached value or `make()`'s, stored (single-flight).
    pub fn get_or_insert_with<Q: ?Sized + Serialize>(
        &self,
        key: &Q,
        make: impl FnOnce() -> V,
    ) -> V {
        fill_with(self.entry(key).into(), make)
    }

    /// Like [`DiskCache::get_or_insert_with`], but an `Err` is returned and not stored.
    ///
    /// ```
    /// use twat_cache::FileCache;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache: FileCache<u16> = FileCache::builder(dir.path()).build();
    /// assert!(cache.get_or_try_insert_with("x", || "x".parse::<u16>()).is_err());
    /// assert_eq!(cache.get_or_try_insert_with("80", || "80".parse::<u16>()), Ok(80));
    /// assert_eq!(cache.len(), 1);
    /// futures::executor::block_on(async {
    ///     assert_eq!(cache.get_or_insert_with_async("80", async { 0 }).await, 80);
    /// });
    /// ```
    pub fn get_or_try_insert_with<Q: ?Sized + Serialize, E>(
        &self,
        key: &Q,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        try_fill_with(self.entry(key).into(), make)
    }

    /// [`DiskCache::get_or_insert_with`] for async callers: waiting for a concurrent
    /// computation in this process is a future, and `make` is polled only on a miss.
    pub async fn get_or_insert_with_async<Q: ?Sized + Serialize>(
        &self,
        key: &Q,
        make: impl Future<Output = V>,
    ) -> V {
        fill_with_async(self.entry_async(key).await.into(), make).await
    }

    /// [`DiskCache::get_or_try_insert_with`] for async callers.
    pub async fn get_or_try_insert_with_async<Q: ?Sized + Serialize, E>(
        &self,
        key: &Q,
        make: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        try_fill_with_async(self.entry_async(key).await.into(), make).await
    }

    /// Hit path: verifies and decodes the entry; anything off is a miss (and is removed).
    fn read(&self, id: &EntryId, key: &[u8]) -> Option<V> {
        self.read_with_lifetime(id, key).map(|hit| hit.value)
    }

    /// [`DiskCache::read`], with what is left of the entry's life and its stored size.
    fn read_with_lifetime(&self, id: &EntryId, key: &[u8]) -> Option<DiskHit<V>> {
        let core = &*self.core;
        let renews = core.refresh && core.ttl != 0;
        // Read before the entry: a removal after this voids the renewal (see `DiskCore::renew`).
        let generation = if renews { *core.stripe(id) } else { 0 };
        // Stores that prune by last access record it as they read (coarsely: see the store).
        let first = core.stored_for(id, S::PRUNES && core.tracks_access())?;
        let again;
        let (stored, entry) = match record::decode(&first) {
            Some(entry) => (&first, entry),
            // Another thread or process renewing the entry in place right now: look again
            // before treating it as damage (a torn renewal that stays is damage).
            None if record::renewal_torn(&first) => {
                again = core.stored(id)?;
                match record::decode(&again) {
                    Some(entry) => (&again, entry),
                    None => {
                        core.discard(id);
                        return None;
                    }
                }
            }
            None => {
                core.discard(id);
                return None;
            }
        };
        if entry.key != key || entry.header.namespace != core.namespace_tag {
            return None; // a hash collision: someone else's entry, left alone
        }
        if entry.header.value_layout != self.value_layout {
            core.discard(id); // written by a value type of another layout
            return None;
        }
        let has_deadline = core.ttl != 0 || entry.header.expires != 0;
        let now = if has_deadline || core.tracks_access() {
            core.clock.unix_nanos()
        } else {
            0
        };
        if has_deadline && entry.header.is_expired(now, core.ttl, core.clock_skew()) {
            core.expire(id);
            bump(&core.counters.expirations);
            return None;
        }
        let mut renewed = entry.header.renewed;
        let mut deadline = record::deadline(renewed, entry.header.expires, core.ttl);
        let Some(value) = self.decode_payload(&entry) else {
            core.discard(id);
            return None;
        };
        if renews && renewal_due(entry.header.renewed, now, core.ttl, S::RENEWAL_RESOLUTION) {
            let mut renewal = stored.to_vec();
            record::renew(&mut renewal, now, now.saturating_add(core.ttl));
            core.renew(id, stored, renewal, generation);
            deadline = now.saturating_add(core.ttl);
            renewed = now;
        }
        if core.tracks_access() && !S::PRUNES {
            core.touch(id, now);
        }
        bump(&core.counters.hits);
        // Counted from the renewal if another machine's clock put it (a little) after ours:
        // a copy kept in front of this tier never outlives the entry's TTL from now.
        let since = now.max(renewed);
        let lifetime =
            (deadline != u64::MAX).then(|| Duration::from_nanos(deadline.saturating_sub(since)));
        Some(DiskHit {
            value,
            lifetime,
            stored_len: stored.len() as u64,
            took: entry.header.took,
        })
    }

    /// For a tier in front of this cache that already runs the single-flight: looks `key` up
    /// without joining an in-process flight. A hit comes with what is left of its life; a miss
    /// holds the cross-process entry lock (sync callers wait for another process computing
    /// it; `wait` zero for async ones).
    pub fn lead<Q: ?Sized + Serialize>(
        &self,
        key: &Q,
        wait: Duration,
    ) -> Found<DiskHit<V>, DiskVacant<'_, S, V>> {
        let bytes = self.core.key_bytes(key);
        self.lead_serialized(bytes.as_deref(), wait)
    }

    /// [`DiskCache::lead`] with the key already serialized (`None`: it could not be; nothing
    /// will be stored), for work handed to another thread.
    pub(crate) fn lead_serialized(
        &self,
        bytes: Option<&[u8]>,
        wait: Duration,
    ) -> Found<DiskHit<V>, DiskVacant<'_, S, V>> {
        let Some(bytes) = bytes else {
            return Found::Vacant(self.vacancy(None, None, None));
        };
        let id = self.id_of(bytes);
        if let Some(hit) = self.read_with_lifetime(&id, bytes) {
            return Found::Hit(hit);
        }
        match self.lock_or_read(&id, bytes, wait) {
            Ok(lock) => Found::Vacant(self.vacancy(Some(bytes.to_vec()), None, lock)),
            Err(hit) => Found::Hit(hit),
        }
    }

    /// The life of an entry stored now (`None`: no deadline), for a tier in front that keeps
    /// copies no longer than the entry.
    pub(crate) fn fresh_lifetime(&self) -> Option<Duration> {
        (self.core.ttl != 0).then(|| Duration::from_nanos(self.core.ttl))
    }

    /// The key as the store's entries record it (`None`: it cannot be serialized).
    pub(crate) fn serialized_key<Q: ?Sized + Serialize>(&self, key: &Q) -> Option<Vec<u8>> {
        self.core.key_bytes(key).map(|bytes| bytes.to_vec())
    }

    /// The stored value; `None` if undecodable (damaged, or written by an older type) or if
    /// bytes are left over after it.
    fn decode_payload(&self, entry: &record::Record<'_>) -> Option<V> {
        if entry.header.flags & COMPRESSED != 0 {
            // Writes never compress more than an entry may hold (see `encode_record`): a larger
            // declared size is damage or a decompression bomb, refused before decompressing.
            if entry.header.raw_len > self.core.max_entry() {
                return None;
            }
            payload::decode(&decompress(entry.payload, entry.header.raw_len)?)
        } else {
            payload::decode(entry.payload)
        }
    }

    /// Serializes and stores `value`; with `generation`, only if `key` was not invalidated
    /// since. Returns the stored entry's size, if it was stored.
    fn write(
        &self,
        id: &EntryId,
        key: &[u8],
        value: &V,
        generation: Option<u64>,
        took: u64,
    ) -> Option<u64> {
        let bytes = self.encode_record(key, value, took)?;
        self.write_record(id, bytes, generation)
    }

    /// The entry record of `value` under `key`, computed in `took` nanoseconds (`None`: it
    /// could not be serialized).
    pub(super) fn encode_record(&self, key: &[u8], value: &V, took: u64) -> Option<Vec<u8>> {
        let core = &*self.core;
        let now = core.clock.unix_nanos();
        let mut header = Header {
            flags: 0,
            value_layout: self.value_layout,
            namespace: core.namespace_tag,
            created: now,
            renewed: now,
            expires: if core.ttl == 0 {
                0
            } else {
                now.saturating_add(core.ttl)
            },
            took,
            raw_len: 0,
        };
        let append = |out: &mut Vec<u8>, bytes: &[u8]| {
            out.extend_from_slice(bytes);
            Ok::<(), postcard::Error>(())
        };
        let encoded = if core.compress {
            // A value larger than an entry may be is not compressed (and so, too large, not
            // stored): decoding an entry never needs more memory than the cache's bound.
            let fits = |raw: &[u8]| raw.len() as u64 <= core.max_entry();
            payload::encode_into(value, Vec::new()).and_then(|raw| match compress(&raw) {
                Some(packed) if fits(&raw) => {
                    header.flags = COMPRESSED;
                    header.raw_len = raw.len() as u64;
                    record::encode_with(&header, key, packed.len(), |out| append(out, &packed))
                }
                _ => record::encode_with(&header, key, raw.len(), |out| append(out, &raw)),
            })
        } else {
            // Serialized straight into the entry's buffer: one copy of a large value, not three.
            let hint = postcard::experimental::serialized_size(value).unwrap_or(0);
            record::encode_with(&header, key, hint, |out| {
                *out = payload::encode_into(value, std::mem::take(out))?;
                Ok(())
            })
        };
        match encoded {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                core.fault("serializing a cache value", &e);
                None
            }
        }
    }

    /// Stores an encoded record (see [`DiskCache::write`]).
    pub(super) fn write_record(
        &self,
        id: &EntryId,
        bytes: Vec<u8>,
        generation: Option<u64>,
    ) -> Option<u64> {
        let core = &*self.core;
        let now = core.clock.unix_nanos();
        if bytes.len() as u64 > core.max_entry() {
            // Too large to keep (or to read back: see `max_entry`): an older value stored
            // under the key must not outlive this insert, or a later read would return it.
            core.discard_readable(id);
            return None;
        }
        let stored_len = bytes.len() as u64;
        if !core.put(id, bytes, generation) {
            return None;
        }
        core.note_insert(id, now);
        Some(stored_len)
    }
}

impl<S: Backend> DiskCore<S> {
    /// Counts an insert of `id` at `now` (unix nanos) and keeps the bounds: evicts, prunes or
    /// sweeps as the store needs.
    pub(super) fn note_insert(&self, id: &EntryId, now: u64) {
        let inserts = self.counters.inserts.fetch_add(1, Ordering::Relaxed) + 1;
        if S::BOUNDS_ITSELF {
            return; // nothing to keep: a scan of a server's namespace per insert is not free
        }
        if self.tracks_access() {
            if !S::PRUNES {
                self.touch(id, now);
            }
            self.enforce_bounds(id, inserts);
        }
        if inserts.is_multiple_of(SWEEP_EVERY) {
            if S::PRUNES {
                self.prune(); // reads only entry headers
            } else {
                self.sweep_sample(now);
            }
        }
    }
}

/// A hit of [`DiskCache::lead`]: the value, what is left of its life (`None`: no deadline) and
/// the size of its stored entry.
#[derive(Debug)]
pub struct DiskHit<V> {
    /// The stored value.
    pub value: V,
    /// Time until the entry expires.
    pub lifetime: Option<Duration>,
    /// Bytes of the entry as stored (header, key and payload).
    pub stored_len: u64,
    /// Nanoseconds computing the value took (0: not measured).
    pub took: u64,
}

/// Whether a `refresh` hit at `now` renews an entry last renewed at `renewed`: once the
/// backend's resolution or a sixteenth of the TTL has passed, whichever is shorter (so an
/// entry hit often is written once per step, and still expires no more than a step early).
fn renewal_due(renewed: u64, now: u64, ttl: u64, resolution: Duration) -> bool {
    let step = crate::clock::duration_nanos(resolution).min(ttl / 16);
    now.saturating_sub(renewed) >= step
}

/// The flight-table hash of an entry id.
fn id_hash(id: &EntryId) -> u64 {
    u64::from_le_bytes(id[..8].try_into().expect("8 bytes"))
}

impl<S: Backend, V> std::fmt::Debug for DiskCache<S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskCache")
            .field("folder", &self.core.folder)
            .field("fallback", &self.is_fallback())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::FileCache;
    use crate::disk::record;

    /// postcard ignores bytes after a value; an entry whose payload has any is not trusted.
    #[test]
    fn trailing_payload_bytes_are_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache: FileCache<u32> = FileCache::builder(dir.path()).build();
        cache.insert("k", &7);
        let path = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .flat_map(|shard| std::fs::read_dir(shard.path()).unwrap().flatten())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "twc"))
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let entry = record::decode(&bytes).unwrap();
        let mut longer = entry.payload.to_vec();
        longer.push(0);
        std::fs::write(&path, record::encode(&entry.header, entry.key, &longer)).unwrap();
        assert_eq!(cache.get("k"), None);
    }
}

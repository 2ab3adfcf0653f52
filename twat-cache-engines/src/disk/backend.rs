//! Where a [`DiskCache`](super::DiskCache) keeps its entries: the storage backend trait.
//!
//! A backend stores opaque entry bytes (see `record.rs`) under 32-byte ids and knows nothing of
//! keys, values, TTLs or checksums; the cache above it does all of that, once, for every backend.

use std::path::Path;
use std::sync::Arc;

use super::error::StoreError;

/// An entry's id: BLAKE3 of the serialized key, keyed by the namespace.
pub type EntryId = [u8; 32];

/// The hasher of in-process maps keyed by [`EntryId`]: foldhash with a per-process seed. The
/// default SipHash cost 170 instructions per 32-byte id — a tenth of a `#[bcache]` hit, which
/// looks an id up in the access map on every hit.
pub(crate) type IdHasher = foldhash::fast::RandomState;

/// Entry bytes as a backend hands them out, without copying where it can.
///
/// ```
/// use twat_cache::disk::Stored;
///
/// let stored = Stored::Owned(vec![1, 2, 3]);
/// assert_eq!(&*stored, &[1, 2, 3]);
/// ```
pub enum Stored {
    /// A buffer shared with the store (no copy).
    Shared(SharedBytes),
    /// The memory fallback's buffer.
    Memory(Arc<[u8]>),
    /// A buffer read from a file.
    Owned(Vec<u8>),
}

/// Bytes a store hands out without copying them (today: sled's reference-counted buffers).
pub struct SharedBytes(sled::IVec);

impl SharedBytes {
    pub(crate) fn from_sled(bytes: sled::IVec) -> Self {
        Self(bytes)
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Stored {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Stored::Shared(bytes) => bytes,
            Stored::Memory(bytes) => bytes,
            Stored::Owned(bytes) => bytes,
        }
    }
}

/// A held cross-process lock on one entry's computation (see [`Backend::lock_entry`]);
/// released when dropped, or by the OS if the holding process dies.
///
/// ```
/// let unlocked = twat_cache::disk::EntryLock::none();
/// drop(unlocked);
/// ```
pub struct EntryLock {
    file: Option<(std::fs::File, std::path::PathBuf)>,
    /// Releases a lock held elsewhere (a Redis key), on drop.
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for EntryLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryLock")
            .field("file", &self.file)
            .field("remote", &self.release.is_some())
            .finish()
    }
}

/// Lock files this process holds. File locks conflict between two opens in one process too, so
/// a thread must not wait for a lock its own process holds (a cached recursive function whose
/// keys share a lock file would wait on itself): such a computation goes ahead without it.
static HELD: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

impl EntryLock {
    /// Claims `path` for this process; `false` if a thread of this process holds it already.
    pub(crate) fn claim(path: &Path) -> bool {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if held.iter().any(|p| p == path) {
            return false;
        }
        held.push(path.to_path_buf());
        true
    }

    /// Gives a claim back (the lock was not taken).
    pub(crate) fn unclaim(path: &Path) {
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| p != path);
    }

    /// The lock held on `file` (claimed at `path`), until drop.
    pub(crate) fn file(file: std::fs::File, path: std::path::PathBuf) -> Self {
        Self {
            file: Some((file, path)),
            release: None,
        }
    }

    /// A lock that `release` gives back when dropped (a lock held on a server).
    pub fn on_release(release: Box<dyn FnOnce() + Send>) -> Self {
        Self {
            file: None,
            release: Some(release),
        }
    }

    /// Has a lock held on a server released from the storage workers (`offload.rs`) rather
    /// than by the thread that drops it: an async caller drops it on its executor's thread
    /// (a result not stored, a cancelled call), which must never wait on the network.
    pub(crate) fn release_on_workers(&mut self) {
        if let Some(release) = self.release.take() {
            self.release = Some(Box::new(move || crate::offload::detach(release)));
        }
    }

    /// No lock (a backend only one process uses needs none).
    pub fn none() -> Self {
        Self {
            file: None,
            release: None,
        }
    }
}

impl Drop for EntryLock {
    fn drop(&mut self) {
        if let Some((file, path)) = self.file.take() {
            drop(file); // closing the file releases the lock
            Self::unclaim(&path);
        }
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// How a [`Backend::lock_entry`] call ended.
#[derive(Debug)]
pub enum LockOutcome {
    /// The lock is ours; `contended` if another process held it first (so an entry may have
    /// been written meanwhile: look again before computing).
    Acquired {
        /// The lock, held until dropped.
        lock: EntryLock,
        /// Whether we had to wait for it.
        contended: bool,
    },
    /// Another process held it for the whole wait: compute without it.
    TimedOut,
}

/// What a backend-wide prune found and did.
///
/// ```
/// let report = twat_cache::disk::PruneReport::default();
/// assert_eq!((report.len, report.evicted), (0, 0));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct PruneReport {
    /// Entries of this namespace left.
    pub len: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Entries removed to meet the bounds.
    pub evicted: u64,
    /// Expired entries removed.
    pub expired: u64,
    /// Entries of namespaces no longer in use removed.
    pub stale: u64,
}

/// What a prune needs to know of one entry, from its header.
#[derive(Debug, Clone, Copy)]
pub struct Classified {
    /// The entry's namespace.
    pub namespace: u64,
    /// Whether it has expired under the options in force.
    pub expired: bool,
    /// When it was written (wall-clock nanoseconds), for insertion-order eviction.
    pub created: u64,
}

/// How a prune reads an entry's header (`None` for bytes that are not an intact entry).
pub type Classify<'a> = &'a dyn Fn(&[u8]) -> Option<Classified>;

/// Which entries a prune evicts first when over a bound: how a backend honours `policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionOrder {
    /// Least recently used first (`lru`; also `lfu`/`tinylfu`, whose use counts a store
    /// shared by processes does not keep).
    LastAccess,
    /// Oldest write first (`fifo`).
    Insertion,
}

/// One prune: whose entries, how to read them, the bounds and the eviction order.
///
/// ```
/// use twat_cache::disk::{EvictionOrder, PruneRequest};
///
/// let request = PruneRequest {
///     namespace: 7,
///     classify: &|_| None,
///     counted: &|_, _| {},
///     maxsize: 1000,
///     max_bytes: u64::MAX,
///     order: EvictionOrder::LastAccess,
/// };
/// assert_eq!(request.maxsize, 1000);
/// ```
pub struct PruneRequest<'a> {
    /// The namespace whose entries are counted and bounded.
    pub namespace: u64,
    /// Reads an entry's header.
    pub classify: Classify<'a>,
    /// Told of each entry of the namespace the prune counts, with its stored size (the cache
    /// reconciles its own concurrent writes with the count).
    pub counted: &'a dyn Fn(&EntryId, u64),
    /// Most entries of the namespace.
    pub maxsize: u64,
    /// Most bytes of the namespace.
    pub max_bytes: u64,
    /// What goes first.
    pub order: EvictionOrder,
}

/// A store of entry bytes by id.
///
/// ```
/// use std::collections::HashMap;
/// use std::path::{Path, PathBuf};
/// use std::sync::Mutex;
/// use twat_cache::DiskCache;
/// use twat_cache::disk::{Backend, EntryId, StoreError, Stored};
///
/// /// Entries in a map: a backend for tests.
/// struct MapStore(Mutex<HashMap<EntryId, Vec<u8>>>, PathBuf);
///
/// impl Backend for MapStore {
///     type Location = PathBuf;
///     const PRUNES: bool = false;
///     fn open(location: &PathBuf) -> Result<Self, StoreError> {
///         Ok(Self(Mutex::default(), location.clone()))
///     }
///     fn folder(location: &PathBuf) -> &Path {
///         location
///     }
///     fn get(&self, id: &EntryId, _max_len: u64) -> Result<Option<Stored>, StoreError> {
///         Ok(self.0.lock().unwrap().get(id).cloned().map(Stored::Owned))
///     }
///     fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, StoreError> {
///         let old = self.0.lock().unwrap().insert(*id, bytes.to_vec());
///         Ok(old.map(|b| b.len() as u64))
///     }
///     fn replace(&self, id: &EntryId, expected: &[u8], new: &[u8]) -> Result<bool, StoreError> {
///         let mut map = self.0.lock().unwrap();
///         let same = map.get(id).is_some_and(|old| old == expected);
///         if same {
///             map.insert(*id, new.to_vec());
///         }
///         Ok(same)
///     }
///     fn remove(&self, id: &EntryId) -> Result<Option<u64>, StoreError> {
///         Ok(self.0.lock().unwrap().remove(id).map(|b| b.len() as u64))
///     }
///     fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError> {
///         for (id, bytes) in self.0.lock().unwrap().iter() {
///             visit(*id, bytes);
///         }
///         Ok(())
///     }
///     fn sample(
///         &self,
///         _seed: u64,
///         visit: &mut dyn FnMut(EntryId, &[u8]) -> bool,
///     ) -> Result<(), StoreError> {
///         for (id, bytes) in self.0.lock().unwrap().iter() {
///             if !visit(*id, bytes) {
///                 break;
///             }
///         }
///         Ok(())
///     }
/// }
///
/// let cache: DiskCache<MapStore, String> =
///     DiskCache::builder_at(PathBuf::from("in-memory")).maxsize(100).build();
/// cache.insert("k", &"v".to_string());
/// assert_eq!(cache.get("k").as_deref(), Some("v"));
/// ```
pub trait Backend: Send + Sync + Sized + 'static {
    /// Where the backend lives.
    type Location: Send + Sync + 'static;

    /// Opens (creating if needed) the store at `location`. Every directory it uses must pass
    /// the ownership and permission rule (see `twat_cache` "Security").
    fn open(location: &Self::Location) -> Result<Self, StoreError>;

    /// The folder, for messages and the registry.
    fn folder(location: &Self::Location) -> &Path;

    /// Whether bounds are kept by periodic whole-store prunes (files, shared by processes)
    /// rather than by sampled eviction on every insert (sled, owned by one process).
    const PRUNES: bool;

    /// How long after an entry's last renewal a `refresh` hit renews it again (at most; never
    /// longer than a sixteenth of the TTL, so the window slides in small steps): a backend that
    /// pays a write of its own per renewal renews coarsely. Zero: every hit renews.
    const RENEWAL_RESOLUTION: std::time::Duration = std::time::Duration::ZERO;

    /// Whether the store lives in the file system, below the cache root (whose directories
    /// must then pass the ownership rule before it is opened); `false` for a server, whose
    /// entries other machines write by their own clocks (see
    /// [`CLOCK_SKEW_TOLERANCE`](super::CLOCK_SKEW_TOLERANCE)).
    const LOCAL: bool = true;

    /// Whether the store bounds its own size and drops expired entries itself (a Redis
    /// server: `maxmemory`, `PX`): the cache then never prunes, evicts or sweeps it as it
    /// writes.
    const BOUNDS_ITSELF: bool = false;

    /// The bytes stored under `id`. A backend that reads from files reads no more than
    /// `max_len` bytes, nor more than the entry declares; what is not a plausible entry may be
    /// returned as any bytes that fail to decode (the cache then removes it). A store other
    /// machines share (not [`Backend::LOCAL`]) checks the size before fetching anything and
    /// returns `None` for an entry over `max_len`: another cache's, with a larger bound, which
    /// must not be removed.
    fn get(&self, id: &EntryId, max_len: u64) -> Result<Option<Stored>, StoreError>;

    /// Stores `bytes` under `id`, atomically; returns the replaced entry's length, if any.
    fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, StoreError>;

    /// Stores `new` under `id` only if the stored bytes are still `expected` (for renewing an
    /// entry without overwriting a newer one written meanwhile); returns whether it did.
    fn replace(&self, id: &EntryId, expected: &[u8], new: &[u8]) -> Result<bool, StoreError>;

    /// Removes `id`; returns the removed entry's length, if there was one.
    fn remove(&self, id: &EntryId) -> Result<Option<u64>, StoreError>;

    /// Visits every entry.
    fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError>;

    /// Visits every entry's header: at least its first bytes up to the end of its renewal
    /// (see `record.rs`), fewer for a file too short to be an entry. For scans that
    /// need only the namespace and lifetime (`clear`), which must not read whole entries; the
    /// default visits whole entries.
    fn for_each_header(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError> {
        self.for_each(visit)
    }

    /// Visits entries from a position chosen by `seed` until `visit` returns `false`.
    fn sample(
        &self,
        seed: u64,
        visit: &mut dyn FnMut(EntryId, &[u8]) -> bool,
    ) -> Result<(), StoreError>;

    /// Records a use of `id`, for backends whose prune orders by last access.
    fn touch(&self, _id: &EntryId) {}

    /// [`Backend::get`], recording a use of the entry if there is one ([`Backend::touch`]); a
    /// backend may record it more cheaply while it reads, or coarsely.
    fn get_touched(&self, id: &EntryId, max_len: u64) -> Result<Option<Stored>, StoreError> {
        let found = self.get(id, max_len)?;
        if found.is_some() {
            self.touch(id);
        }
        Ok(found)
    }

    /// Takes the cross-process lock for computing `id`, waiting up to `wait` for another
    /// process that holds it, so that processes sharing the store compute a missing entry once.
    /// The default (a store one process owns) never waits.
    fn lock_entry(&self, _id: &EntryId, _wait: std::time::Duration) -> LockOutcome {
        LockOutcome::Acquired {
            lock: EntryLock::none(),
            contended: false,
        }
    }

    /// Records that `namespace` is in use at `now` (wall-clock nanoseconds), for the
    /// collection of namespaces nobody uses any more.
    fn mark_in_use(&self, _namespace: u64, _now: u64) {}

    /// When `namespace` was last marked in use, if the backend records it.
    fn last_use(&self, _namespace: u64) -> Option<u64> {
        None
    }

    /// Removes every entry at this location in bulk, if the backend can (its location holds
    /// one namespace only); `Ok(false)`: the cache removes them one by one.
    fn clear_location(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Makes written entries durable now.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Removes damaged, expired and leftover temporary entries and (a bounded number of)
    /// entries of namespaces no longer in use; then, if the namespace holds more than `maxsize`
    /// entries or `max_bytes` bytes, evicts in the request's order down to a low-water mark
    /// below both. Only called when [`Backend::PRUNES`].
    fn prune(&self, _request: &PruneRequest<'_>) -> Result<PruneReport, StoreError> {
        Err(StoreError::Unsupported("this backend evicts by sampling"))
    }
}

//! What is under a cache root, for tools (the `twat-cache` command): every cache the layout of
//! [`paths`] puts there — sled trees in `<folder>/db`, file stores in
//! `<folder>/<function>/<namespace>/` (`#[fcache]`, and `#[ucache]`'s disk tier) — with their
//! namespaces, entries, sizes and ages; and the operations that change them: [`clear`] and
//! [`prune`].
//!
//! Nothing here trusts what it reads: entries are decoded with the checked format
//! (`record.rs`), directories pass the ownership rule, and a sled database another process
//! holds is reported as in use, never opened around its lock.
//!
//! A function's *current* namespace is the one a process opened last (the newest `.in-use`
//! mark of its file store, or the newest in-use stamp in its sled tree); its other namespaces
//! belong to edited versions of the function and are *stale*.
//!
//! ```
//! use twat_cache::FileCache;
//! use twat_cache::disk::inspect;
//!
//! let root = tempfile::tempdir().unwrap();
//! let cache: FileCache<u32> = FileCache::builder(root.path().join("geo/app.lookup/0123456789abcdef")).build();
//! cache.insert(&("Paris",), &75);
//! let caches = inspect::scan_root(root.path()).unwrap();
//! assert_eq!(caches.len(), 1);
//! assert_eq!((caches[0].folder.as_str(), caches[0].name.as_str()), ("geo", "app::lookup"));
//! assert_eq!(caches[0].entries(), 1);
//! let shown = inspect::entries(&caches[0], 10).unwrap();
//! assert_eq!(shown[0].key, r#"("Paris",)"#);
//! ```

mod files;
#[cfg(feature = "redis")]
pub mod redis_keys;
mod sled_trees;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::paths;
use super::private_dir;

/// How a cache stores its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A tree of the folder's sled database (`#[bcache]`).
    Sled,
    /// One file per entry (`#[fcache]`, and `#[ucache]`'s disk tier).
    Files,
    /// Keys on a Redis server (`#[ucache(backend = "redis")]`; feature `redis`).
    Redis,
}

/// Whether a cache could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum CacheState {
    /// Read.
    Ok,
    /// A sled database another process holds open (sled admits one): not read, not touched.
    InUse,
    /// Refused or unreadable (the reason says why).
    Unreadable(String),
}

/// One cache under the root.
#[derive(Debug, Clone, Serialize)]
pub struct CacheReport {
    /// Its folder under the root.
    pub folder: String,
    /// The function's registry name (`module::function`; for a file store, its directory name
    /// with `.` read as `::`).
    pub name: String,
    /// How it stores entries.
    pub store: StoreKind,
    /// The sled database, or the function's directory.
    pub path: PathBuf,
    /// Whether it could be read.
    #[serde(flatten)]
    pub state: CacheState,
    /// Its namespaces, the current one first.
    pub namespaces: Vec<NamespaceReport>,
    /// The server URL a Redis cache was found with (credentials and all: never shown, its
    /// `Debug` is redacted).
    #[serde(skip)]
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) url: Option<super::redis_url::RedisUrl>,
}

/// One namespace (a `version`, or a fingerprint of the function's code) of a cache.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NamespaceReport {
    /// Its id: the directory name (files) or the namespace tag in hex (sled).
    pub id: String,
    /// Whether it is the function's current namespace (the others are stale).
    pub current: bool,
    /// Readable entries, expired ones included.
    pub entries: u64,
    /// Their stored bytes.
    pub bytes: u64,
    /// Entries past their stored deadline.
    pub expired: u64,
    /// Files or values that are not intact entries.
    pub damaged: u64,
    /// Temporary files left by writers that died.
    pub dead_temp_files: u64,
    /// The oldest entry's write time (Unix nanoseconds).
    pub oldest: Option<u64>,
    /// The newest entry's write time (Unix nanoseconds).
    pub newest: Option<u64>,
}

impl NamespaceReport {
    /// Counts one intact entry of `bytes` stored bytes.
    fn count(&mut self, header: &super::record::Peek, bytes: u64, now: u64) {
        self.entries += 1;
        self.bytes += bytes;
        if super::record::expired(header.renewed, header.expires, now, 0) {
            self.expired += 1;
        }
        let created = Some(header.created);
        self.oldest = self.oldest.min(created).or(created);
        self.newest = self.newest.max(created);
    }
}

/// One entry, as `inspect` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EntryReport {
    /// The stored key as text (see [`describe_key`](super::describe_key)).
    pub key: String,
    /// Stored bytes.
    pub bytes: u64,
    /// Write time (Unix nanoseconds).
    pub created: u64,
    /// Stored deadline (Unix nanoseconds), if any.
    pub expires: Option<u64>,
    /// Whether the value is stored compressed.
    pub compressed: bool,
    /// Its namespace's id.
    pub namespace: String,
}

/// What a [`clear`] or [`prune`] removed (or, for a dry run, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Freed {
    /// Entries removed.
    pub entries: u64,
    /// Their bytes (temporary files included).
    pub bytes: u64,
    /// Of them: expired entries.
    pub expired: u64,
    /// Of them: entries of stale namespaces.
    pub stale: u64,
    /// Of them: entries removed to get within `max_bytes`.
    pub evicted: u64,
    /// Damaged entries removed.
    pub damaged: u64,
    /// Temporary files of dead writers removed.
    pub temp_files: u64,
}

impl Freed {
    /// All of `cache`'s entries (what a clear frees).
    fn everything_of(cache: &CacheReport) -> Self {
        Freed {
            entries: cache.entries(),
            bytes: cache.bytes(),
            ..Freed::default()
        }
    }

    /// Counts one removal of `bytes` stored bytes, for `why`.
    fn count(&mut self, why: Removed, bytes: u64) {
        self.bytes += bytes;
        match why {
            Removed::Stale => self.stale += 1,
            Removed::Expired => self.expired += 1,
            Removed::Evicted => self.evicted += 1,
            Removed::Damaged => self.damaged += 1,
            Removed::TempFile => self.temp_files += 1,
        }
        if matches!(why, Removed::Stale | Removed::Expired | Removed::Evicted) {
            self.entries += 1;
        }
    }

    fn add(&mut self, other: Freed) {
        self.entries += other.entries;
        self.bytes += other.bytes;
        self.expired += other.expired;
        self.stale += other.stale;
        self.evicted += other.evicted;
        self.damaged += other.damaged;
        self.temp_files += other.temp_files;
    }
}

/// Why a prune removed something.
#[derive(Clone, Copy)]
enum Removed {
    /// An entry of a stale namespace.
    Stale,
    /// An entry past its stored deadline.
    Expired,
    /// An entry removed to fit `max_bytes`.
    Evicted,
    /// Bytes that are not an intact entry.
    Damaged,
    /// A temporary file of a writer that died.
    TempFile,
}

/// Why a root cannot be inspected, or a change failed.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The root does not exist.
    #[error("cache root `{}` does not exist", .0.display())]
    NoRoot(PathBuf),
    /// The root is not a directory.
    #[error("cache root `{}` is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The root fails the ownership and permission rule.
    #[error("refusing cache root `{}`: {reason}", path.display())]
    Insecure {
        /// The root.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A sled database another process holds.
    #[error(
        "the cache database `{}` is in use by another process; stop it, or clear the cache from inside it (`foo_cache().clear()`)",
        .0.display()
    )]
    InUse(PathBuf),
    /// A file-system or database operation failed.
    #[error("{0}")]
    Failed(String),
    /// The Redis server named cannot be used (a bad URL, or it does not answer).
    #[error("{0}")]
    BadServer(String),
}

/// The caches under `root`, by folder and name.
pub fn scan_root(root: &Path) -> Result<Vec<CacheReport>, InspectError> {
    check_root(root)?;
    let mut caches = Vec::new();
    for folder in sorted_dirs(root) {
        let Some(folder_name) = folder
            .file_name()
            .and_then(|n| n.to_str())
            .map(String::from)
        else {
            continue;
        };
        if let Err(e) = private_dir::check(&folder) {
            caches.push(CacheReport {
                folder: folder_name.clone(),
                name: String::new(),
                store: StoreKind::Files,
                path: folder.clone(),
                state: CacheState::Unreadable(e.to_string()),
                namespaces: Vec::new(),
                url: None,
            });
            continue;
        }
        for dir in sorted_dirs(&folder) {
            let Some(dir_name) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if dir_name == "db" {
                caches.extend(sled_trees::scan(&folder_name, &folder));
            } else if !dir_name.starts_with('.') && !dir_name.starts_with("db.corrupt-") {
                caches.push(files::scan(&folder_name, &dir));
            }
        }
    }
    Ok(caches)
}

/// The caches `name` selects: a folder (`geo`) or one cache of it (`geo/app::geocode`).
pub fn select<'a>(caches: &'a [CacheReport], name: &str) -> Vec<&'a CacheReport> {
    let (folder, function) = match name.split_once('/') {
        Some((folder, function)) => (folder, Some(function)),
        None => (name, None),
    };
    caches
        .iter()
        .filter(|c| c.folder == folder)
        .filter(|c| function.is_none_or(|f| c.matches(f)))
        .collect()
}

impl CacheReport {
    /// Whether `function` (a registry name) names this cache, in its store's own spelling.
    fn matches(&self, function: &str) -> bool {
        match self.store {
            StoreKind::Sled => self.name == function,
            StoreKind::Files | StoreKind::Redis => {
                self.name == function
                    || self.path.file_name().and_then(|n| n.to_str())
                        == Some(paths::function_dir(function).as_str())
            }
        }
    }

    /// Entries over all namespaces.
    pub fn entries(&self) -> u64 {
        self.namespaces.iter().map(|n| n.entries).sum()
    }

    /// Stored bytes over all namespaces.
    pub fn bytes(&self) -> u64 {
        self.namespaces.iter().map(|n| n.bytes).sum()
    }

    /// Expired entries over all namespaces.
    pub fn expired(&self) -> u64 {
        self.namespaces.iter().map(|n| n.expired).sum()
    }

    /// Namespaces other than the current one.
    pub fn stale_namespaces(&self) -> usize {
        self.namespaces.iter().filter(|n| !n.current).count()
    }

    /// The oldest entry's write time.
    pub fn oldest(&self) -> Option<u64> {
        self.namespaces.iter().filter_map(|n| n.oldest).min()
    }

    /// The newest entry's write time.
    pub fn newest(&self) -> Option<u64> {
        self.namespaces.iter().filter_map(|n| n.newest).max()
    }
}

/// Up to `limit` entries of `cache`, current namespace first.
pub fn entries(cache: &CacheReport, limit: usize) -> Result<Vec<EntryReport>, InspectError> {
    usable(cache)?;
    match cache.store {
        StoreKind::Files => Ok(files::entries(cache, limit)),
        StoreKind::Sled => sled_trees::entries(cache, limit),
        StoreKind::Redis => redis_entries(cache, limit),
    }
}

/// Removes every entry of `cache` (a file store's directory; a sled tree).
pub fn clear(cache: &CacheReport) -> Result<Freed, InspectError> {
    usable(cache)?;
    match cache.store {
        StoreKind::Files => files::clear(cache),
        StoreKind::Sled => sled_trees::clear(cache),
        StoreKind::Redis => redis_clear(cache),
    }
}

/// What [`prune`] removes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// After expired, damaged and stale entries and dead writers' temporary files: remove the
    /// least recently used entries (files: by last access; sled, which keeps no access times
    /// on disk: oldest written first) until the selected caches hold at most this many bytes.
    pub max_bytes: Option<u64>,
    /// Count, remove nothing.
    pub dry_run: bool,
}

/// Prunes `caches` (see [`PruneOptions`]); caches in use or unreadable are left alone.
/// `progress` is told of each entry examined and each eviction (for a progress display).
pub fn prune(
    caches: &[&CacheReport],
    options: PruneOptions,
    progress: &dyn Fn(u64),
) -> Result<Freed, InspectError> {
    let mut freed = Freed::default();
    let mut survivors: Vec<Survivor> = Vec::new();
    for cache in caches {
        if usable(cache).is_err() {
            continue;
        }
        let (removed, mut left) = match cache.store {
            StoreKind::Files => files::prune(cache, options.dry_run, progress)?,
            StoreKind::Sled => sled_trees::prune(cache, options.dry_run, progress)?,
            // Redis drops expired keys itself and bounds its size with `maxmemory`.
            StoreKind::Redis => continue,
        };
        freed.add(removed);
        survivors.append(&mut left);
    }
    if let Some(max_bytes) = options.max_bytes {
        let mut total: u64 = survivors.iter().map(|s| s.bytes).sum();
        survivors.sort_by_key(|s| s.rank);
        for survivor in survivors {
            if total <= max_bytes {
                break;
            }
            if options.dry_run || survivor.remove()? {
                total -= survivor.bytes;
                freed.count(Removed::Evicted, survivor.bytes);
                progress(1);
            }
        }
    }
    Ok(freed)
}

/// An entry a prune kept, which a byte bound may still evict.
struct Survivor {
    /// Eviction order: lower goes first.
    rank: u64,
    bytes: u64,
    at: Location,
}

enum Location {
    File(PathBuf),
    Sled {
        folder: PathBuf,
        tree: String,
        id: super::EntryId,
    },
}

impl Survivor {
    fn remove(&self) -> Result<bool, InspectError> {
        match &self.at {
            Location::File(path) => Ok(std::fs::remove_file(path).is_ok()),
            Location::Sled { folder, tree, id } => sled_trees::remove(folder, tree, id),
        }
    }
}

#[cfg(feature = "redis")]
fn redis_entries(cache: &CacheReport, limit: usize) -> Result<Vec<EntryReport>, InspectError> {
    redis_keys::entries(cache, cache.url.as_ref().map_or("", |u| u.secret()), limit)
}

#[cfg(feature = "redis")]
fn redis_clear(cache: &CacheReport) -> Result<Freed, InspectError> {
    redis_keys::clear(cache, cache.url.as_ref().map_or("", |u| u.secret()))
}

#[cfg(not(feature = "redis"))]
fn redis_entries(_: &CacheReport, _: usize) -> Result<Vec<EntryReport>, InspectError> {
    Err(InspectError::Failed(
        "built without the `redis` feature".into(),
    ))
}

#[cfg(not(feature = "redis"))]
fn redis_clear(_: &CacheReport) -> Result<Freed, InspectError> {
    Err(InspectError::Failed(
        "built without the `redis` feature".into(),
    ))
}

fn usable(cache: &CacheReport) -> Result<(), InspectError> {
    match &cache.state {
        CacheState::Ok => Ok(()),
        CacheState::InUse => Err(InspectError::InUse(cache.path.clone())),
        CacheState::Unreadable(why) => Err(InspectError::Failed(why.clone())),
    }
}

fn check_root(root: &Path) -> Result<(), InspectError> {
    let meta = std::fs::metadata(root).map_err(|_| InspectError::NoRoot(root.to_path_buf()))?;
    if !meta.is_dir() {
        return Err(InspectError::NotADirectory(root.to_path_buf()));
    }
    private_dir::check(root).map_err(|e| InspectError::Insecure {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The sub-directories of `dir` (not following symlinks), sorted by name.
fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// Unix nanoseconds now, on the clock entries are written with.
fn now() -> u64 {
    crate::Clock::system().unix_nanos()
}

/// One stored entry as an [`EntryReport`]; `None` if it is not intact.
fn describe(stored: &[u8], bytes: u64, namespace: &str) -> Option<EntryReport> {
    let entry = super::record::decode(stored)?;
    Some(EntryReport {
        key: super::describe_key(entry.key, 120),
        bytes,
        created: entry.header.created,
        expires: (entry.header.expires != 0).then_some(entry.header.expires),
        compressed: entry.header.flags & super::record::COMPRESSED != 0,
        namespace: namespace.to_string(),
    })
}

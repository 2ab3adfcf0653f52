//! The file backend: one file per entry, safe for many processes.
//!
//! ```text
//! <entries>/.in-use                       touched on open and prune: the namespace is in use
//! <entries>/.locks/<first 2 id bytes>.lock held by the process computing a missing entry
//! <entries>/<first id byte, 2 hex>/.lock  serializes publishes of that shard
//! <entries>/<first id byte, 2 hex>/<id, 64 hex>.twc
//! ```
//!
//! A write goes to a uniquely named temporary file in the same directory and is renamed over the
//! entry: readers (in any process) see the old entry or the new one, never a partial one, and two
//! processes writing one key both leave a valid entry. Publishes and removals hold the shard's
//! lock (an advisory file lock, released by the OS if the holder dies), so that a replacement
//! publishes only an entry that is still the one it read, and a removal is never undone by one.
//! A `refresh` renewal rewrites only the entry's renewal (20 bytes of its header) in place,
//! through the descriptor it compared the entry on: a removal or a newer entry renamed over the
//! file meanwhile leaves that write in the old, unlinked file. With `durable`, the file and its
//! directory are fsynced before the rename returns; without (the default), a power loss may
//! lose recent entries, which the checksum then turns into misses. Temporary files left by
//! killed writers are removed by the next prune. A file's modification time is its last access (a hit touches
//! it), which is the order a prune evicts in.
//!
//! Reads never follow a symlink, never open a FIFO or device (a non-regular file reads as a
//! damaged entry, which the cache removes), and read no more than the entry's header declares
//! and the caller allows; an entry file not owned by the current user is never read. The
//! entries directory is checked against the directory rule once and then held open
//! (`anchor.rs`): every file is reached through it, so a name retargeted later (a link, a
//! directory removed and created again by someone else) cannot redirect the store.
//! Directories below it are checked once per process and must be real directories.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::anchor::Anchor;
use super::backend::{
    Backend, EntryId, EntryLock, EvictionOrder, LockOutcome, PruneReport, PruneRequest, Stored,
};
use super::error::StoreError;
use super::hex;
use super::private_dir;
use super::record;
use super::stale_namespaces;

pub(super) const EXTENSION: &str = "twc";
pub(super) const TEMP_EXTENSION: &str = "tmp";
pub(super) const IN_USE: &str = ".in-use";
/// Directory of the computation locks: one file per first two id bytes (65 536 at most), so
/// their number stays bounded; two keys sharing one only wait for each other now and then.
pub(super) const LOCKS: &str = ".locks";
pub(super) const LOCK: &str = ".lock";
/// A temporary file older than this belongs to a writer that died.
pub(super) const STALE_TEMP: Duration = Duration::from_secs(60);
/// A namespace directory of the same function not opened or pruned for this long belongs to an
/// edited function (or one no process runs any more) and is collected.
pub const STALE_NAMESPACE: Duration = Duration::from_secs(24 * 3600);
/// Most files of stale namespaces one prune deletes: collection happens in bounded steps.
const STALE_BUDGET: usize = 1024;

/// Where a [`FileStore`] keeps its entries.
///
/// ```
/// use twat_cache::DiskCache;
/// use twat_cache::disk::{FileLocation, FileStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let location = FileLocation {
///     folder: dir.path().to_path_buf(),
///     entries: dir.path().join("render").join("v2"),
///     durable: true,
/// };
/// let cache: DiskCache<FileStore, u64> = DiskCache::builder_at(location).build();
/// cache.insert(&7u32, &49);
/// assert_eq!(cache.get(&7u32), Some(49));
/// assert_eq!(cache.folder(), dir.path());
/// ```
#[derive(Clone, Debug)]
pub struct FileLocation {
    /// The cache's folder, as reported to the registry.
    pub folder: PathBuf,
    /// The directory of this cache's entries (`folder` or below it). When it is two levels
    /// below (`<folder>/<function>/<namespace>`), its stale siblings are collected.
    pub entries: PathBuf,
    /// Fsync every entry and its directory before publishing it.
    pub durable: bool,
}

impl FileLocation {
    /// Entries directly in `dir`, not durable.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            folder: dir.clone(),
            entries: dir,
            durable: false,
        }
    }
}

/// One file per entry under a directory; use it as [`FileCache`](crate::FileCache).
pub struct FileStore {
    location: FileLocation,
    /// The verified entries directory: every file operation goes through its path.
    dir: Anchor,
    temp_counter: AtomicU64,
    /// One bit per shard directory checked against the directory rule in this process.
    verified: [AtomicU64; 4],
    /// Whether the lock directory was checked against the directory rule in this process.
    locks_verified: AtomicBool,
}

pub(super) fn parse_id(name: &str) -> Option<EntryId> {
    let stem = name.strip_suffix(".twc")?;
    if stem.len() != 64 {
        return None;
    }
    let mut id = [0u8; 32];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(stem.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

/// Bytes that never decode: what a read returns for a file that is not a plausible entry, so
/// the cache removes it.
fn not_an_entry() -> Option<Stored> {
    Some(Stored::Owned(Vec::new()))
}

/// Opens an entry for reading without following a symlink or blocking on a FIFO.
pub(super) fn open_entry(path: &Path) -> std::io::Result<File> {
    inject_fault!(Read, path);
    super::open_no_follow(path)
}

/// An empty shard directory is removed by a prune only once it has not changed for this long.
pub const EMPTY_SHARD_GRACE: Duration = Duration::from_secs(60);

/// A hit moves an entry's modification time (its last use, for pruning) only when it is older
/// than this: one `futimens` a minute per entry instead of one per hit, for an LRU order at
/// minute resolution.
pub const TOUCH_RESOLUTION: Duration = Duration::from_secs(60);

/// Reads the entry at `path`: `None` if absent, undecodable bytes if it is not a regular file
/// whose size is what its header declares and at most `max_len`. With `touch`, an entry last
/// marked used over [`TOUCH_RESOLUTION`] ago is marked used now.
/// Writes an entry's bytes to its temporary file, or a renewal's into the entry (with the
/// `fault-injection` feature, an injected short write stores a prefix and fails).
fn write_entry(file: &mut File, dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(feature = "fault-injection")]
    if let Some((len, errno)) = crate::fault::check_write(dir, bytes.len())? {
        file.write_all(&bytes[..len])?;
        return Err(std::io::Error::from_raw_os_error(errno));
    }
    let _ = dir;
    file.write_all(bytes)
}

/// Publishes a temporary file under its entry's name.
fn renamed(temp: &Path, path: &Path) -> std::io::Result<()> {
    inject_fault!(Rename, path);
    fs::rename(temp, path)
}

pub(super) fn read_entry(
    path: &Path,
    max_len: u64,
    touch: bool,
) -> Result<Option<Stored>, StoreError> {
    read_opened(open_entry(path), path, max_len, touch)
}

/// [`read_entry`] of a file already opened (or not) as [`open_entry`] does.
fn read_opened(
    opened: std::io::Result<File>,
    path: &Path,
    max_len: u64,
    touch: bool,
) -> Result<Option<Stored>, StoreError> {
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(not_an_entry()),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    let len = meta.len();
    if !meta.is_file() || len > max_len || len < record::HEADER_LEN as u64 {
        return Ok(not_an_entry());
    }
    #[cfg(unix)]
    if std::os::unix::fs::MetadataExt::uid(&meta) != private_dir::current_user() {
        return Ok(not_an_entry()); // someone else's file: never read, whatever it holds
    }
    if touch {
        let now = SystemTime::now();
        let last = meta.modified().unwrap_or(now);
        if now.duration_since(last).unwrap_or_default() >= TOUCH_RESOLUTION {
            // Our own file (the directory rule): its owner may set its times through any fd.
            let _ = file.set_modified(now);
        }
    }
    let mut header = [0u8; record::HEADER_LEN];
    if file.read_exact(&mut header).is_err() || record::declared_len(&header) != Some(len) {
        return Ok(not_an_entry());
    }
    let Ok(len) = usize::try_from(len) else {
        return Ok(not_an_entry());
    };
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&header);
    let read = (&mut file)
        .take((len - header.len()) as u64)
        .read_to_end(&mut bytes);
    match read {
        Ok(_) if bytes.len() == len => Ok(Some(Stored::Owned(bytes))),
        Ok(_) => Ok(not_an_entry()), // shrank while reading: a torn file, never a wrong value
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Reads up to `buf.len()` bytes from the start of `file`; returns how many (fewer at its end).
fn read_prefix(file: &mut File, buf: &mut [u8]) -> usize {
    let mut read = 0;
    while read < buf.len() {
        match file.read(&mut buf[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    read
}

/// Opens an entry for a renewal in place (reading and writing), never through a symlink.
fn open_entry_for_update(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
    );
    options.open(path)
}

/// Whether a file is the current user's (an entry of anyone else is never written).
fn owned_by_me(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        meta.uid() == unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// The bytes a replacement of `expected` by `new` changes, if they all lie in the entry's
/// header (a renewal): what can be written in place.
fn header_change(expected: &[u8], new: &[u8]) -> Option<std::ops::Range<usize>> {
    let header = record::HEADER_LEN;
    if expected.len() != new.len() || expected.len() < header || expected[header..] != new[header..]
    {
        return None;
    }
    let differs = |&i: &usize| expected[i] != new[i];
    let start = (0..header).find(differs).unwrap_or(0);
    let end = (0..header).rfind(differs).map_or(start, |i| i + 1);
    Some(start..end)
}

/// Opens (creating 0600, never through a symlink) one of the store's own small files: a lock
/// or a marker.
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    options.open(path)
}

/// Most bytes a whole-store scan (`for_each`, `sample`) reads of one entry file: a larger one is
/// visited as a damaged entry, never read (a cache whose own bound is larger removes it only
/// when it clears everything anyway).
const MAX_ENTRY: u64 = crate::DEFAULT_MAX_ENTRY_BYTES;

impl FileStore {
    fn shard_dir(&self, id: &EntryId) -> PathBuf {
        self.dir.path().join(hex(&id[..1]))
    }

    /// `<entries>/<first byte in hex>/<id in hex>.twc`, built in one buffer (this runs on every
    /// hit).
    fn path(&self, id: &EntryId) -> PathBuf {
        let name = hex(id);
        let entries = self.dir.path().as_os_str();
        let mut path = std::ffi::OsString::with_capacity(entries.len() + name.len() + 8);
        path.push(entries);
        path.push(std::path::MAIN_SEPARATOR_STR);
        path.push(&name[..2]);
        path.push(std::path::MAIN_SEPARATOR_STR);
        path.push(&name);
        path.push(".");
        path.push(EXTENSION);
        PathBuf::from(path)
    }

    /// Opens `id`'s entry (at `path`) for reading, relative to the verified entries directory.
    fn open_entry_of(&self, id: &EntryId, path: &Path) -> std::io::Result<File> {
        #[cfg(unix)]
        {
            inject_fault!(Read, path);
            let _ = path;
            // `<2 hex>/<64 hex>.twc` and a NUL, built on the stack (as `path` names it).
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let mut name = [0u8; 72];
            for (i, &b) in id.iter().enumerate() {
                name[3 + 2 * i] = DIGITS[usize::from(b >> 4)];
                name[4 + 2 * i] = DIGITS[usize::from(b & 15)];
            }
            name.copy_within(3..5, 0);
            name[2] = b'/';
            name[67..71].copy_from_slice(b".twc");
            let name = std::ffi::CStr::from_bytes_with_nul(&name).expect("one NUL, at the end");
            self.dir.open_read(name)
        }
        #[cfg(not(unix))]
        {
            let _ = id;
            open_entry(path)
        }
    }

    /// Makes sure `id`'s shard directory passes the directory rule (creating it when
    /// `create`); `false` if it does not exist and was not to be created.
    fn shard_ready(&self, id: &EntryId, create: bool) -> Result<bool, StoreError> {
        let (word, bit) = ((id[0] / 64) as usize, 1u64 << (id[0] % 64));
        if self.verified[word].load(Ordering::Acquire) & bit != 0 {
            return Ok(true);
        }
        let dir = self.shard_dir(id);
        if create {
            private_dir::ensure_below(self.dir.path(), &dir)?;
        } else {
            match fs::symlink_metadata(&dir) {
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                _ => private_dir::check_here(&dir)?,
            }
        }
        self.verified[word].fetch_or(bit, Ordering::AcqRel);
        Ok(true)
    }

    /// Runs `op` (a write) in `id`'s shard directory, created if missing. A prune in any process
    /// may remove an empty shard directory: an operation that finds it gone creates it again
    /// and retries (up to three times).
    fn in_shard<T>(
        &self,
        id: &EntryId,
        op: impl Fn(&Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let dir = self.shard_dir(id);
        let mut attempts = 0;
        loop {
            // A removed entries directory shows as "not found" creating the shard, too.
            match self.shard_ready(id, true).and_then(|_| op(&dir)) {
                Err(e) if e.is_not_found() && attempts < 3 => {
                    self.forget_shard(id[0]);
                    if self.dir.reopen_if_removed()? {
                        self.forget_all_shards();
                    }
                    attempts += 1;
                }
                done => return done,
            }
        }
    }

    /// Forgets every verified directory (the entries directory was created again).
    fn forget_all_shards(&self) {
        for word in &self.verified {
            word.store(0, Ordering::Release);
        }
        self.locks_verified.store(false, Ordering::Release);
    }

    /// Forgets that shard `first_byte` was verified (it was removed).
    fn forget_shard(&self, first_byte: u8) {
        let (word, bit) = ((first_byte / 64) as usize, 1u64 << (first_byte % 64));
        self.verified[word].fetch_and(!bit, Ordering::AcqRel);
    }

    /// Removes shard directories that hold nothing but their lock file and have not changed
    /// for [`EMPTY_SHARD_GRACE`], under that lock (a writer waiting for it then finds the
    /// directory gone and recreates it; the grace keeps a directory a writer just created).
    fn remove_empty_shards(&self) -> Result<(), StoreError> {
        let now = SystemTime::now();
        for shard in self.shards()? {
            let only_lock = |dir: &Path| {
                fs::read_dir(dir).is_ok_and(|mut entries| {
                    entries.all(|e| e.is_ok_and(|e| e.file_name() == LOCK))
                })
            };
            let settled = fs::metadata(&shard)
                .and_then(|m| m.modified())
                .is_ok_and(|changed| {
                    now.duration_since(changed).unwrap_or_default() >= EMPTY_SHARD_GRACE
                });
            if !settled || !only_lock(&shard) {
                continue;
            }
            let Ok(_lock) = Self::lock(&shard) else {
                continue;
            };
            if only_lock(&shard) && fs::remove_file(shard.join(LOCK)).is_ok() {
                let _ = fs::remove_dir(&shard);
                let byte = shard
                    .file_name()
                    .and_then(|n| u8::from_str_radix(&n.to_string_lossy(), 16).ok());
                if let Some(byte) = byte {
                    self.forget_shard(byte);
                }
            }
        }
        Ok(())
    }

    /// Shard directories that pass the directory rule (others are skipped, never read).
    fn shards(&self) -> Result<Vec<PathBuf>, StoreError> {
        let dir = self.dir.path();
        let mut shards: Vec<PathBuf> = match fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.file_name().len() == 2)
                .map(|e| e.path())
                .filter(|p| private_dir::check_here(p).is_ok())
                .collect(),
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::io(dir, e)),
        };
        shards.sort();
        Ok(shards)
    }

    /// Entry files of one shard directory (ignoring what vanishes while listing).
    fn files(shard: &Path) -> Vec<(PathBuf, EntryId)> {
        let Ok(entries) = fs::read_dir(shard) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                parse_id(name.to_str()?).map(|id| (e.path(), id))
            })
            .collect()
    }

    /// Holds `dir`'s publish lock until dropped.
    fn lock(dir: &Path) -> std::io::Result<File> {
        let file = open_private(&dir.join(LOCK))?;
        file.lock()?;
        Ok(file)
    }

    fn write_temp(&self, dir: &Path, id: &EntryId, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(
            ".{}.{}.{n}.{TEMP_EXTENSION}",
            hex(&id[..8]),
            std::process::id()
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        let written = write_entry(&mut file, dir, bytes).and_then(|()| {
            if self.location.durable {
                file.sync_all()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        Ok(temp)
    }

    /// Publishes `bytes` as `id`'s entry; the caller holds the shard lock.
    fn publish(&self, dir: &Path, id: &EntryId, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(id);
        let temp = self
            .write_temp(dir, id, bytes)
            .map_err(|e| StoreError::io(dir, e))?;
        if let Err(e) = renamed(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(StoreError::io(&path, e));
        }
        if self.location.durable {
            // The rename itself is durable only once the directory is.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Renews `id`'s entry in place: writes `bytes` at `at` (its renewal) if the file is
    /// still `expected` (same header and checksum, so the same entry). The write goes through
    /// the descriptor the entry was compared on, so a removal or a newer entry renamed over the
    /// file meanwhile leaves it in the old, unlinked file: a renewal never undoes either, in
    /// this process or another. Renewals of one file wait for each other (a lock on it); a
    /// torn one (a crash mid-write) reads as a damaged entry (see `record.rs`).
    fn renew_in_place(
        &self,
        id: &EntryId,
        expected: &[u8],
        bytes: &[u8],
        at: usize,
    ) -> Result<bool, StoreError> {
        if !self.shard_ready(id, false)? {
            return Ok(false);
        }
        let path = self.path(id);
        let mut file = match open_entry_for_update(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            #[cfg(unix)]
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(false),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let renew = |file: &mut File| -> std::io::Result<bool> {
            let meta = file.metadata()?;
            let len = expected.len();
            if !meta.is_file() || meta.len() != len as u64 || !owned_by_me(&meta) {
                return Ok(false);
            }
            file.lock()?;
            let (mut header, mut sum) = ([0u8; record::HEADER_LEN], [0u8; 4]);
            file.read_exact(&mut header)?;
            file.seek(SeekFrom::Start((len - sum.len()) as u64))?;
            file.read_exact(&mut sum)?;
            if header[..] != expected[..header.len()] || sum[..] != expected[len - sum.len()..] {
                return Ok(false); // renewed, rewritten or replaced meanwhile
            }
            file.seek(SeekFrom::Start(at as u64))?;
            write_entry(file, &path, bytes)?;
            if self.location.durable {
                file.sync_data()?;
            }
            Ok(true)
        };
        renew(&mut file).map_err(|e| StoreError::io(&path, e))
    }

    /// Opens the computation lock file `path` in the lock directory `dir`, creating the
    /// directory (checked against the directory rule) the first time, and again whenever it
    /// is gone: `twat-cache clear` and `prune` remove it under running processes, which
    /// would otherwise compute every missing entry without a cross-process lock.
    fn open_lock(&self, dir: &Path, path: &Path) -> Option<File> {
        for _ in 0..2 {
            if !self.locks_verified.load(Ordering::Acquire) {
                private_dir::ensure_below(self.dir.path(), dir).ok()?;
                self.locks_verified.store(true, Ordering::Release);
            }
            match open_private(path) {
                Ok(file) => return Some(file),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    self.locks_verified.store(false, Ordering::Release);
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Marks this namespace as in use, for the collection of stale ones.
    fn mark_in_use(&self) {
        if let Ok(file) = open_private(&self.dir.path().join(IN_USE)) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Deletes up to `budget` files of sibling namespace directories (same function, another
    /// namespace) that nobody has marked in use for [`STALE_NAMESPACE`]; returns how many.
    /// Only in the `<folder>/<function>/<namespace>` layout, and only what it writes
    /// (`stale_namespaces.rs`).
    fn collect_stale_namespaces(&self, budget: usize) -> u64 {
        let entries = &self.location.entries;
        let Some(function_dir) = entries.parent() else {
            return 0;
        };
        if function_dir == self.location.folder || !function_dir.starts_with(&self.location.folder)
        {
            return 0;
        }
        let Some(ours) = entries.file_name().and_then(|n| n.to_str()) else {
            return 0;
        };
        // Siblings are ours only in the layout, and only where no link moved the entries
        // directory elsewhere (the verified directory's parent is then the function directory).
        let linked = |p: &Path| fs::symlink_metadata(p).map_or(true, |m| m.is_symlink());
        if !stale_namespaces::is_namespace(ours) || linked(entries) || linked(function_dir) {
            return 0;
        }
        stale_namespaces::collect(&self.dir.path().join(".."), ours, budget)
    }
}

impl Backend for FileStore {
    type Location = FileLocation;

    const PRUNES: bool = true;

    /// A renewal writes into the entry's file: at most once per [`TOUCH_RESOLUTION`].
    const RENEWAL_RESOLUTION: Duration = TOUCH_RESOLUTION;

    fn open(location: &FileLocation) -> Result<Self, StoreError> {
        let store = Self {
            dir: Anchor::open(&location.folder, &location.entries)?,
            location: location.clone(),
            temp_counter: AtomicU64::new(0),
            verified: Default::default(),
            locks_verified: AtomicBool::new(false),
        };
        store.mark_in_use();
        Ok(store)
    }

    fn folder(location: &FileLocation) -> &Path {
        &location.folder
    }

    fn get(&self, id: &EntryId, max_len: u64) -> Result<Option<Stored>, StoreError> {
        if !self.shard_ready(id, false)? {
            return Ok(None);
        }
        let path = self.path(id);
        read_opened(self.open_entry_of(id, &path), &path, max_len, false)
    }

    fn get_touched(&self, id: &EntryId, max_len: u64) -> Result<Option<Stored>, StoreError> {
        if !self.shard_ready(id, false)? {
            return Ok(None);
        }
        let path = self.path(id);
        read_opened(self.open_entry_of(id, &path), &path, max_len, true)
    }

    fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, StoreError> {
        self.in_shard(id, |dir| {
            let _lock = Self::lock(dir).map_err(|e| StoreError::io(dir, e))?;
            let old = fs::symlink_metadata(self.path(id)).ok().map(|m| m.len());
            self.publish(dir, id, bytes)?;
            Ok(old)
        })
    }

    fn replace(&self, id: &EntryId, expected: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        if let Some(changed) = header_change(expected, new) {
            return self.renew_in_place(id, expected, &new[changed.clone()], changed.start);
        }
        self.in_shard(id, |dir| {
            let _lock = Self::lock(dir).map_err(|e| StoreError::io(dir, e))?;
            let current = read_entry(&self.path(id), expected.len() as u64, false)?;
            if current.as_deref() != Some(expected) {
                return Ok(false);
            }
            self.publish(dir, id, new)?;
            Ok(true)
        })
    }

    fn remove(&self, id: &EntryId) -> Result<Option<u64>, StoreError> {
        // Never unlink through a directory that fails the rule (a swapped-in symlink).
        if !self.shard_ready(id, false)? {
            return Ok(None);
        }
        let path = self.path(id);
        let remove = || -> std::io::Result<Option<u64>> {
            inject_fault!(Remove, &path);
            // Under the shard's lock: a replacement that compared the entry has published
            // before, or finds it gone (a shard directory gone holds no entry either).
            let _lock = Self::lock(&self.shard_dir(id))?;
            let len = fs::symlink_metadata(&path).ok().map(|m| m.len());
            fs::remove_file(&path)?;
            Ok(len)
        };
        match remove() {
            Ok(len) => Ok(len),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError> {
        for shard in self.shards()? {
            for (path, id) in Self::files(&shard) {
                if let Some(bytes) = read_entry(&path, MAX_ENTRY, false)? {
                    visit(id, &bytes);
                }
            }
        }
        Ok(())
    }

    fn for_each_header(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError> {
        for shard in self.shards()? {
            for (path, id) in Self::files(&shard) {
                let mut header = [0u8; record::HEADER_LEN];
                let read = match open_entry(&path) {
                    Ok(mut file) if file.metadata().is_ok_and(|m| m.is_file()) => {
                        read_prefix(&mut file, &mut header)
                    }
                    Ok(_) => 0, // not a regular file: not an entry
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    #[cfg(unix)]
                    Err(e) if e.raw_os_error() == Some(libc::ELOOP) => 0,
                    Err(e) => return Err(StoreError::io(&path, e)),
                };
                visit(id, &header[..read]);
            }
        }
        Ok(())
    }

    fn sample(
        &self,
        seed: u64,
        visit: &mut dyn FnMut(EntryId, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let shards = self.shards()?;
        if shards.is_empty() {
            return Ok(());
        }
        let start = (seed % shards.len() as u64) as usize;
        for shard in shards[start..].iter().chain(&shards[..start]) {
            for (path, id) in Self::files(shard) {
                if let Some(bytes) = read_entry(&path, MAX_ENTRY, false)?
                    && !visit(id, &bytes)
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn lock_entry(&self, id: &EntryId, wait: Duration) -> LockOutcome {
        let dir = self.dir.path().join(LOCKS);
        let name = format!("{}.lock", hex(&id[..2]));
        // Claimed by the name the store was opened with (one process's stores of a directory
        // share their claims), opened through the verified directory.
        let path = self.location.entries.join(LOCKS).join(&name);
        if !EntryLock::claim(&path) {
            return LockOutcome::TimedOut; // this process computes a key of this lock already
        }
        let Some(file) = self.open_lock(&dir, &dir.join(&name)) else {
            EntryLock::unclaim(&path);
            return LockOutcome::TimedOut; // no lock to be had: compute without it
        };
        let deadline = std::time::Instant::now() + wait;
        let mut contended = false;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return LockOutcome::Acquired {
                        lock: EntryLock::file(file, path),
                        contended,
                    };
                }
                Err(std::fs::TryLockError::WouldBlock) => contended = true,
                Err(std::fs::TryLockError::Error(_)) => break,
            }
            if std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(25));
        }
        EntryLock::unclaim(&path);
        LockOutcome::TimedOut
    }

    fn touch(&self, id: &EntryId) {
        let mut options = OpenOptions::new();
        options.write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
        );
        if let Ok(file) = options.open(self.path(id)) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    fn prune(&self, request: &PruneRequest<'_>) -> Result<PruneReport, StoreError> {
        self.mark_in_use();
        let mut report = PruneReport {
            stale: self.collect_stale_namespaces(STALE_BUDGET),
            ..PruneReport::default()
        };
        // (eviction rank: lower goes first, length, path)
        let mut live: Vec<(u64, u64, PathBuf)> = Vec::new();
        let now = SystemTime::now();
        for shard in self.shards()? {
            let Ok(entries) = fs::read_dir(&shard) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                let modified = meta.modified().unwrap_or(now);
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(TEMP_EXTENSION) {
                    if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                        let _ = fs::remove_file(&path);
                    }
                    continue;
                }
                let Some(id) = parse_id(&name) else {
                    continue;
                };
                let mut prefix = [0u8; record::HEADER_LEN];
                let peeked = meta
                    .is_file()
                    .then(|| open_entry(&path))
                    .and_then(Result::ok)
                    .and_then(|mut f| f.read_exact(&mut prefix).ok())
                    .and_then(|()| (request.classify)(&prefix));
                match peeked {
                    None => {
                        let _ = fs::remove_file(&path); // not an entry: damaged, truncated, planted
                    }
                    Some(c) if c.namespace != request.namespace => {}
                    Some(c) if c.expired => {
                        if fs::remove_file(&path).is_ok() {
                            report.expired += 1;
                        }
                    }
                    Some(c) => {
                        let rank = match request.order {
                            EvictionOrder::Insertion => c.created,
                            EvictionOrder::LastAccess => modified
                                .duration_since(SystemTime::UNIX_EPOCH)
                                .map_or(0, |d| d.as_nanos() as u64),
                        };
                        (request.counted)(&id, meta.len());
                        live.push((rank, meta.len(), path));
                    }
                }
            }
        }
        report.len = live.len() as u64;
        report.bytes = live.iter().map(|(_, len, _)| len).sum();
        if report.len <= request.maxsize && report.bytes <= request.max_bytes {
            self.remove_empty_shards()?;
            return Ok(report);
        }
        // Over a bound: evict in the policy's order down to 90% of each bound, so that the next
        // misses do not each pay for a whole-store prune.
        let (low_len, low_bytes) = (low_water(request.maxsize), low_water(request.max_bytes));
        live.sort();
        for (_, len, path) in &live {
            if report.len <= low_len && report.bytes <= low_bytes {
                break;
            }
            if fs::remove_file(path).is_ok() {
                report.evicted += 1;
            }
            report.len -= 1;
            report.bytes -= len;
        }
        self.remove_empty_shards()?;
        Ok(report)
    }
}

/// 90% of a bound (a bound of `u64::MAX` stays unbounded).
fn low_water(bound: u64) -> u64 {
    if bound == u64::MAX {
        bound
    } else {
        bound - bound / 10
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hit path builds entry paths by hand: they must be `<shard dir>/<hex id>.twc`, and
    /// the scan (`parse_id`) must read the id back.
    #[test]
    fn entry_paths_are_the_shard_dir_and_the_hex_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(&FileLocation::new(dir.path().join("c"))).unwrap();
        let id: EntryId = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xa5);
        let path = store.path(&id);
        assert_eq!(path.parent().unwrap(), store.shard_dir(&id));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_id(name), Some(id));
        assert_eq!(&name[..2], "a5");
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
    }

    /// The hit path opens entries by a name relative to the verified directory: the same file
    /// as `path`.
    #[test]
    fn entries_open_relative_to_the_directory_are_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(&FileLocation::new(dir.path().join("c"))).unwrap();
        let id: EntryId = std::array::from_fn(|i| (i as u8).wrapping_mul(91) ^ 0x3c);
        store.shard_ready(&id, true).unwrap();
        fs::write(store.path(&id), b"entry").unwrap();
        let mut read = String::new();
        let mut file = store.open_entry_of(&id, &store.path(&id)).unwrap();
        file.read_to_string(&mut read).unwrap();
        assert_eq!(read, "entry");
    }
}

//! The file backend: one file per entry, safe for many processes.
//!
//! ```text
//! <entries>/<first id byte, 2 hex>/<id, 64 hex>.twc
//! ```
//!
//! A write goes to a uniquely named temporary file in the same directory and is renamed over the
//! entry: readers (in any process) see the old entry or the new one, never a partial one, and two
//! processes writing one key both leave a valid entry. With `durable`, the file and its directory
//! are fsynced before the rename returns; without (the default), a power loss may lose recent
//! entries, which the checksum then turns into misses. Temporary files left by killed writers are
//! removed by the next prune. A file's modification time is its last access (a hit touches it),
//! which is the order a prune evicts in.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::backend::{Backend, Classify, EntryId, PruneReport, Stored};
use super::record;
use super::sled_db::create_private_dir;

const EXTENSION: &str = "twc";
const TEMP_EXTENSION: &str = "tmp";
/// A temporary file older than this belongs to a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(60);

/// Where a [`FileStore`] keeps its entries.
///
/// ```
/// use twat_cache_engines::DiskCache;
/// use twat_cache_engines::disk::{FileLocation, FileStore};
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
    /// The directory of this cache's entries (under `folder`).
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
    temp_counter: AtomicU64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_id(name: &str) -> Option<EntryId> {
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

fn io(e: std::io::Error, what: &Path) -> String {
    format!("{}: {e}", what.display())
}

impl FileStore {
    fn shard_dir(&self, id: &EntryId) -> PathBuf {
        self.location.entries.join(hex(&id[..1]))
    }

    fn path(&self, id: &EntryId) -> PathBuf {
        self.shard_dir(id).join(format!("{}.{EXTENSION}", hex(id)))
    }

    fn shards(&self) -> Result<Vec<PathBuf>, String> {
        let dir = &self.location.entries;
        let mut shards: Vec<PathBuf> = match fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect(),
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e, dir)),
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

    fn read(path: &Path) -> Result<Option<Vec<u8>>, String> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e, path)),
        }
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
        let written = file.write_all(bytes).and_then(|()| {
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
}

impl Backend for FileStore {
    type Location = FileLocation;

    const PRUNES: bool = true;

    fn open(location: &FileLocation) -> Result<Self, String> {
        create_private_dir(&location.entries).map_err(|e| io(e, &location.entries))?;
        Ok(Self {
            location: location.clone(),
            temp_counter: AtomicU64::new(0),
        })
    }

    fn folder(location: &FileLocation) -> &Path {
        &location.folder
    }

    fn get(&self, id: &EntryId) -> Result<Option<Stored>, String> {
        Ok(Self::read(&self.path(id))?.map(Stored::Owned))
    }

    fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, String> {
        let dir = self.shard_dir(id);
        if !dir.is_dir() {
            create_private_dir(&dir).map_err(|e| io(e, &dir))?;
        }
        let path = self.path(id);
        let old = fs::metadata(&path).ok().map(|m| m.len());
        let temp = self.write_temp(&dir, id, bytes).map_err(|e| io(e, &dir))?;
        if let Err(e) = fs::rename(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(io(e, &path));
        }
        if self.location.durable {
            // The rename itself is durable only once the directory is.
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
        }
        Ok(old)
    }

    fn remove(&self, id: &EntryId) -> Result<Option<u64>, String> {
        let path = self.path(id);
        let len = fs::metadata(&path).ok().map(|m| m.len());
        match fs::remove_file(&path) {
            Ok(()) => Ok(len),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e, &path)),
        }
    }

    fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), String> {
        for shard in self.shards()? {
            for (path, id) in Self::files(&shard) {
                if let Some(bytes) = Self::read(&path)? {
                    visit(id, &bytes);
                }
            }
        }
        Ok(())
    }

    fn sample(
        &self,
        seed: u64,
        visit: &mut dyn FnMut(EntryId, &[u8]) -> bool,
    ) -> Result<(), String> {
        let shards = self.shards()?;
        if shards.is_empty() {
            return Ok(());
        }
        let start = (seed % shards.len() as u64) as usize;
        for shard in shards[start..].iter().chain(&shards[..start]) {
            for (path, id) in Self::files(shard) {
                if let Some(bytes) = Self::read(&path)?
                    && !visit(id, &bytes)
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn touch(&self, id: &EntryId) {
        if let Ok(file) = OpenOptions::new().write(true).open(self.path(id)) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    fn prune(
        &self,
        namespace: u64,
        classify: Classify<'_>,
        maxsize: u64,
        max_bytes: u64,
    ) -> Result<PruneReport, String> {
        let mut report = PruneReport::default();
        let mut live: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
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
                if parse_id(&name).is_none() {
                    continue;
                }
                let mut prefix = [0u8; record::HEADER_LEN];
                let peeked = File::open(&path)
                    .and_then(|mut f| f.read_exact(&mut prefix))
                    .ok()
                    .and_then(|()| classify(&prefix));
                match peeked {
                    None => {
                        let _ = fs::remove_file(&path); // not an entry: damaged or truncated
                    }
                    Some((ns, _)) if ns != namespace => {}
                    Some((_, true)) => {
                        if fs::remove_file(&path).is_ok() {
                            report.expired += 1;
                        }
                    }
                    Some((_, false)) => live.push((modified, meta.len(), path)),
                }
            }
        }
        // Oldest access first.
        live.sort();
        report.len = live.len() as u64;
        report.bytes = live.iter().map(|(_, len, _)| len).sum();
        for (_, len, path) in &live {
            if report.len <= maxsize && report.bytes <= max_bytes {
                break;
            }
            if fs::remove_file(path).is_ok() {
                report.evicted += 1;
            }
            report.len -= 1;
            report.bytes -= len;
        }
        Ok(report)
    }
}

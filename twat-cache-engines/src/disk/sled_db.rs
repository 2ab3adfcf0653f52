//! The process's open sled databases: one per cache folder, opened on first use and shared by
//! every cache in that folder (sled allows one opener per database, process-wide).
//!
//! Opening checks the folder against the directory rule (`private_dir.rs`) and holds it open
//! (`anchor.rs`): sled is given a path through the verified folder, so the files it opens
//! later (blobs) cannot be redirected either. It makes what sled creates private (0700
//! directories, 0600 files on Unix, never through a symlink), recovers from a database that is
//! *proven* corrupt (sled reports corruption, or panics reading it) by moving it aside and
//! starting empty — other failures (too many open files, no space, I/O errors, a read-only
//! disk) fall back to memory and leave the database untouched — removes moved-aside copies
//! after [`CORRUPT_GRACE`], and registers an exit hook that flushes every open database, so a
//! normal process exit loses nothing even though the handles live in statics that are never
//! dropped.
//!
//! Only an open database is remembered: a failed open (the database held by another process,
//! too many open files…) is tried again when the cache's backoff says so (`attach.rs`).
//! Processes that find one database corrupt recover it one at a time, under a lock file
//! beside it, and each looks again before moving anything: the first moves the damaged
//! database aside, the others then find its fresh one (held, or healthy), never move it.
//! Tools look at a database with [`look`]: a copy taken under the database's lock is opened,
//! never the database itself, so listing never recovers, moves, creates or keeps one (a cache
//! that finds it locked during the copy falls back and tries again after its backoff).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::{Mutex, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::anchor::Anchor;
pub use super::error::OpenError;
use super::{open_no_follow, private_dir};

/// How often sled flushes in the background. A kill -9 may lose up to this much of the most
/// recent writes (never corrupting older ones); a normal exit flushes everything.
///
/// ```
/// assert_eq!(twat_cache::disk::FLUSH_EVERY_MS, 500);
/// ```
pub const FLUSH_EVERY_MS: u64 = 500;

/// How long a database moved aside as corrupt is kept for inspection before an open of its
/// folder removes it.
pub const CORRUPT_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

const CORRUPT_PREFIX: &str = "db.corrupt-";

static OPEN: Mutex<Vec<(PathBuf, sled::Db)>> = Mutex::new(Vec::new());

/// The verified folders of the open databases: held open as long as the databases (the
/// process's life), since sled reaches its files through them.
static FOLDERS: Mutex<Vec<Anchor>> = Mutex::new(Vec::new());

/// Lock file beside the database, held by the one process recovering it (see the module docs).
const RECOVERY_LOCK: &str = ".db-recovery.lock";
/// Longest an open waits for another process recovering the same database; then it falls
/// back (and tries again later), as if the database were locked.
const RECOVERY_WAIT: Duration = Duration::from_secs(10);

/// The database in `folder`, opened once per process. A failure is not remembered: the caller
/// tries again after its backoff, so a database another process held (or too many open files)
/// is used once it can be.
pub(crate) fn open(folder: &Path) -> Result<sled::Db, OpenError> {
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, db)) = open.iter().find(|(p, _)| p == folder) {
        return Ok(db.clone());
    }
    let db = open_uncached(folder)?;
    open.push((folder.to_path_buf(), db.clone()));
    register_exit_flush();
    Ok(db)
}

/// Runs `read` on the database in `folder` without changing it, moving it or keeping it:
/// this process's open handle if it has one; else, if the database exists and no process
/// holds it, a copy of it, taken while holding its lock (so no sled process has it open
/// meanwhile) and opened instead — sled has no read-only mode, and even a plain open writes
/// (a snapshot on close, the recovery of a torn log), so the original is never opened. A
/// database another process holds is [`OpenError::Locked`], one sled refuses is
/// [`OpenError::Corrupt`] (and stays as it is).
pub(crate) fn look<R>(folder: &Path, read: impl FnOnce(&sled::Db) -> R) -> Result<R, OpenError> {
    let held = {
        let open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.iter()
            .find(|(p, _)| p == folder)
            .map(|(_, db)| db.clone())
    };
    if let Some(db) = held {
        return Ok(read(&db));
    }
    let path = folder.join("db");
    let unusable = |e: std::io::Error| OpenError::Unusable {
        path: folder.to_path_buf(),
        source: Arc::new(e),
    };
    private_dir::check(&path).map_err(|e| OpenError::Insecure {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    // sled takes this lock (`flock` on its `db` file) for as long as it has the database open.
    let lock = open_no_follow(&path.join("db")).map_err(unusable)?;
    match lock.try_lock_shared() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(OpenError::Locked(folder.to_path_buf()));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(unusable(e)),
    }
    let copy = LookCopy::create().map_err(unusable)?;
    copy_tree(&path, &copy.0).map_err(unusable)?;
    drop(lock);
    let config = sled::Config::new().path(&copy.0).flush_every_ms(None);
    match catch_unwind(AssertUnwindSafe(|| config.open())) {
        Ok(Ok(db)) => Ok(read(&db)),
        // Short or malformed files are damage, as in `try_open`; another I/O error is about
        // the copy (a full temporary directory…), not the database.
        Ok(Err(sled::Error::Io(e)))
            if !matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) =>
        {
            Err(unusable(e))
        }
        Ok(Err(e)) => Err(OpenError::Corrupt {
            path: folder.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(_) => Err(OpenError::Corrupt {
            path: folder.to_path_buf(),
            reason: "sled panicked while opening".into(),
        }),
    }
}

/// A private temporary directory (under `TMPDIR`) holding the copy [`look`] opens; removed
/// when dropped.
struct LookCopy(PathBuf);

impl LookCopy {
    fn create() -> std::io::Result<Self> {
        let base = std::env::temp_dir();
        for attempt in 0u32.. {
            let dir = base.join(format!(
                "twat-cache-look-{}-{}-{attempt}",
                std::process::id(),
                unix_nanos()
            ));
            // A fresh name, created 0700: an existing path (a planted link) is never used.
            match private_dir_builder().create(&dir) {
                Ok(()) => return Ok(Self(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {}
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }
}

impl Drop for LookCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn private_dir_builder() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// Copies the directories and regular files below `from` into `to` (links and anything else
/// are left out).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            private_dir_builder().create(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            let mut source = open_no_follow(&entry.path())?;
            let mut copy = std::fs::File::create_new(&target)?;
            std::io::copy(&mut source, &mut copy)?;
        }
    }
    Ok(())
}

/// Whether sled failed to open a database because another process holds it.
fn is_lock_error(e: &std::io::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

fn open_uncached(folder: &Path) -> Result<sled::Db, OpenError> {
    let unusable = |e: std::io::Error| OpenError::Unusable {
        path: folder.to_path_buf(),
        source: Arc::new(e),
    };
    let anchor = Anchor::open(folder, folder).map_err(|e| match e {
        super::StoreError::Io { source, .. } => unusable(source),
        other => OpenError::Insecure {
            path: folder.to_path_buf(),
            reason: other.to_string(),
        },
    })?;
    let db = open_in(anchor.path(), folder, unusable)?;
    FOLDERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(anchor);
    Ok(db)
}

/// Opens the database of `folder` (named `verified` through its verified directory).
fn open_in(
    verified: &Path,
    folder: &Path,
    unusable: impl Fn(std::io::Error) -> OpenError + Copy,
) -> Result<sled::Db, OpenError> {
    let path = verified.join("db");
    if std::fs::symlink_metadata(&path).is_ok() {
        private_dir::check_here(&path).map_err(|e| OpenError::Insecure {
            path: folder.join("db"),
            reason: e.to_string(),
        })?;
    }
    remove_old_corrupt_copies(verified);
    let db = match try_open(&path) {
        Ok(db) => db,
        Err(Failure::Locked) => return Err(OpenError::Locked(folder.to_path_buf())),
        Err(Failure::Io(e)) => return Err(unusable(e)),
        Err(Failure::Corrupt(_)) => recover(verified, folder, &path)?,
    };
    make_private(&path);
    Ok(db)
}

/// Moves the corrupt database at `path` aside and opens a fresh one — unless, looking again
/// while holding the recovery lock, it is no longer corrupt: another process recovered it
/// first (its fresh database is then held by it, or healthy), and must keep it.
fn recover(verified: &Path, folder: &Path, path: &Path) -> Result<sled::Db, OpenError> {
    let unusable = |e: std::io::Error| OpenError::Unusable {
        path: folder.to_path_buf(),
        source: Arc::new(e),
    };
    let Some(_recovering) = recovery_lock(verified).map_err(unusable)? else {
        return Err(OpenError::Locked(folder.to_path_buf()));
    };
    let db = match try_open(path) {
        Ok(db) => db,
        Err(Failure::Locked) => return Err(OpenError::Locked(folder.to_path_buf())),
        Err(Failure::Io(e)) => return Err(unusable(e)),
        Err(Failure::Corrupt(why)) => {
            // Keep the damaged files for inspection (for `CORRUPT_GRACE`) and start empty: a
            // cache can always be rebuilt, a wrong value cannot be taken back.
            let aside_name = format!("{CORRUPT_PREFIX}{}", unix_nanos());
            let aside = verified.join(&aside_name);
            tracing::warn!(folder = %folder.display(), %why,
                aside = %folder.join(&aside_name).display(),
                "cache database is corrupt; moved aside and recreated");
            let injected = || -> std::io::Result<()> {
                inject_fault!(Rename, &path);
                Ok(())
            };
            injected().map_err(unusable)?;
            std::fs::rename(path, &aside).map_err(unusable)?;
            match try_open(path) {
                Ok(db) => db,
                Err(Failure::Locked) => return Err(OpenError::Locked(folder.to_path_buf())),
                Err(Failure::Io(e)) => return Err(unusable(e)),
                Err(Failure::Corrupt(reason)) => {
                    return Err(OpenError::Corrupt {
                        path: folder.to_path_buf(),
                        reason,
                    });
                }
            }
        }
    };
    // The lock is released only now, with the fresh database held open by this process.
    Ok(db)
}

/// The recovery lock of `folder`, waiting up to [`RECOVERY_WAIT`] for another process that
/// holds it (`None`: it still does).
fn recovery_lock(folder: &Path) -> std::io::Result<Option<std::fs::File>> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let file = options.open(folder.join(RECOVERY_LOCK))?;
    let until = std::time::Instant::now() + RECOVERY_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Deletes databases moved aside as corrupt more than [`CORRUPT_GRACE`] ago.
fn remove_old_corrupt_copies(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let now = unix_nanos();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(stamp) = name
            .to_str()
            .and_then(|n| n.strip_prefix(CORRUPT_PREFIX))
            .and_then(|n| n.parse::<u128>().ok())
        else {
            continue;
        };
        if now.saturating_sub(stamp) > CORRUPT_GRACE.as_nanos() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

enum Failure {
    Locked,
    Io(std::io::Error),
    Corrupt(String),
}

fn try_open(path: &Path) -> Result<sled::Db, Failure> {
    let injected = || -> std::io::Result<()> {
        inject_fault!(Open, path);
        Ok(())
    };
    injected().map_err(Failure::Io)?;
    let config = sled::Config::new()
        .path(path)
        .flush_every_ms(Some(FLUSH_EVERY_MS));
    // sled can panic on some kinds of damage; a panic here means "corrupt", not "crash".
    let opened = catch_unwind(AssertUnwindSafe(|| config.open()));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Io(e))) if is_lock_error(&e) => Err(Failure::Locked),
        // Short or malformed files are damage; every other I/O error (EMFILE, ENOSPC, EIO,
        // EROFS, EACCES, …) says nothing about the data, which stays where it is.
        Ok(Err(sled::Error::Io(e)))
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) =>
        {
            Err(Failure::Corrupt(e.to_string()))
        }
        Ok(Err(sled::Error::Io(e))) => Err(Failure::Io(e)),
        Ok(Err(e @ (sled::Error::Corruption { .. } | sled::Error::Unsupported(_)))) => {
            Err(Failure::Corrupt(e.to_string()))
        }
        Ok(Err(e)) => Err(Failure::Io(std::io::Error::other(e.to_string()))),
        Err(_) => Err(Failure::Corrupt("sled panicked while opening".into())),
    }
}

/// Restricts what sled created to the user (0700 directories, 0600 files). Each file is
/// opened without following a symlink and changed through its descriptor: a symlink planted
/// among sled's files is left as it is, and so is its target.
fn make_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut stack = vec![path.to_path_buf()];
        while let Some(p) = stack.pop() {
            let Ok(file) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(&p)
            else {
                continue; // a symlink (ELOOP), or gone
            };
            let Ok(meta) = file.metadata() else { continue };
            let mode = if meta.is_dir() {
                0o700
            } else if meta.is_file() {
                0o600
            } else {
                continue; // not sled's: a FIFO, a device, a socket
            };
            let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
            if meta.is_dir()
                && let Ok(entries) = std::fs::read_dir(&p)
            {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The longest a process's exit waits for its databases to flush.
pub const EXIT_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Flushes every open database; run by the C runtime at normal process exit, for at most
/// [`EXIT_FLUSH_LIMIT`]: a sled flush can wait forever once the database's files are gone
/// (its cache directory deleted while the process ran), and a cache must never keep a process
/// from exiting. Unflushed entries are lost, never damaged.
extern "C" fn flush_all_at_exit() {
    // Never block exit on a poisoned or contended lock.
    let Ok(open) = OPEN.try_lock() else { return };
    let dbs: Vec<sled::Db> = open.iter().map(|(_, db)| db.clone()).collect();
    drop(open);
    if dbs.is_empty() {
        return;
    }
    let (done, finished) = std::sync::mpsc::channel();
    let flusher = std::thread::Builder::new()
        .name("twat-cache exit flush".into())
        .spawn(move || {
            for db in &dbs {
                let _ = catch_unwind(AssertUnwindSafe(|| db.flush()));
            }
            let _ = done.send(());
        });
    if flusher.is_ok() {
        let _ = finished.recv_timeout(EXIT_FLUSH_LIMIT);
    }
}

fn register_exit_flush() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: registering a plain `extern "C" fn()` with the C runtime; it touches only a
        // static mutex and sled handles, both valid for the whole process.
        unsafe {
            libc::atexit(flush_all_at_exit);
        }
    });
}

/// Flushes the database of `folder` now (if open); used by explicit APIs.
pub(crate) fn flush(folder: &Path) -> sled::Result<()> {
    let db = {
        let open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.iter()
            .find(|(p, _)| p == folder)
            .map(|(_, db)| db.clone())
    };
    match db {
        Some(db) => db.flush().map(|_| ()),
        None => Ok(()),
    }
}

//! The process's open sled databases: one per cache folder, opened on first use and shared by
//! every cache in that folder (sled allows one opener per database, process-wide).
//!
//! Opening also makes the folder private (0700 directories, 0600 files on Unix), recovers from
//! a corrupt database by moving it aside and starting empty, and registers an exit hook that
//! flushes every open database, so a normal process exit loses nothing even though the handles
//! live in statics that are never dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{SystemTime, UNIX_EPOCH};

/// How often sled flushes in the background. A kill -9 may lose up to this much of the most
/// recent writes (never corrupting older ones); a normal exit flushes everything.
///
/// ```
/// assert_eq!(twat_cache_engines::disk::FLUSH_EVERY_MS, 500);
/// ```
pub const FLUSH_EVERY_MS: u64 = 500;

/// Why a database could not be used.
///
/// ```
/// use std::path::PathBuf;
/// use twat_cache_engines::disk::OpenError;
///
/// let e = OpenError::Locked(PathBuf::from("/cache/geo"));
/// assert!(e.to_string().contains("locked by another process"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the database.
    #[error("the cache database at `{}` is locked by another process", .0.display())]
    Locked(PathBuf),
    /// The folder cannot be created or used (not a directory, read-only, no space, …).
    #[error("cannot use cache folder `{}`: {}", .0.display(), .1)]
    Unusable(PathBuf, String),
}

static OPEN: Mutex<Vec<(PathBuf, Result<sled::Db, OpenError>)>> = Mutex::new(Vec::new());

/// The database in `folder`, opened once per process; a failure is remembered too, so a locked
/// or broken folder costs one attempt, not one per call.
pub(crate) fn open(folder: &Path) -> Result<sled::Db, OpenError> {
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, db)) = open.iter().find(|(p, _)| p == folder) {
        return db.clone();
    }
    let db = open_uncached(folder);
    open.push((folder.to_path_buf(), db.clone()));
    if db.is_ok() {
        register_exit_flush();
    }
    db
}

fn open_uncached(folder: &Path) -> Result<sled::Db, OpenError> {
    let unusable =
        |e: &dyn std::fmt::Display| OpenError::Unusable(folder.to_path_buf(), e.to_string());
    create_private_dir(folder).map_err(|e| unusable(&e))?;
    let path = folder.join("db");
    let db = match try_open(&path) {
        Ok(db) => db,
        Err(Failure::Locked) => return Err(OpenError::Locked(folder.to_path_buf())),
        Err(Failure::Io(e)) => return Err(unusable(&e)),
        Err(Failure::Corrupt(why)) => {
            // Keep the damaged files for inspection and start empty: a cache can always be
            // rebuilt, a wrong value cannot be taken back.
            let aside = folder.join(format!("db.corrupt-{}", unix_nanos()));
            tracing::warn!(folder = %folder.display(), %why, aside = %aside.display(),
                "cache database is corrupt; moved aside and recreated");
            std::fs::rename(&path, &aside).map_err(|e| unusable(&e))?;
            match try_open(&path) {
                Ok(db) => db,
                Err(Failure::Locked) => return Err(OpenError::Locked(folder.to_path_buf())),
                Err(Failure::Io(e) | Failure::Corrupt(e)) => return Err(unusable(&e)),
            }
        }
    };
    make_private(&path);
    Ok(db)
}

enum Failure {
    Locked,
    Io(String),
    Corrupt(String),
}

fn try_open(path: &Path) -> Result<sled::Db, Failure> {
    let config = sled::Config::new()
        .path(path)
        .flush_every_ms(Some(FLUSH_EVERY_MS));
    // sled can panic on some kinds of damage; a panic here means "corrupt", not "crash".
    let opened = catch_unwind(AssertUnwindSafe(|| config.open()));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
            Err(Failure::Locked)
        }
        Ok(Err(sled::Error::Io(e))) => {
            if path.exists() && e.kind() != std::io::ErrorKind::PermissionDenied {
                Err(Failure::Corrupt(e.to_string()))
            } else {
                Err(Failure::Io(e.to_string()))
            }
        }
        Ok(Err(e)) => Err(Failure::Corrupt(e.to_string())),
        Err(_) => Err(Failure::Corrupt("sled panicked while opening".into())),
    }
}

/// `create_dir_all` with 0700 permissions for every directory it creates.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    if !dir.is_dir() {
        return Err(std::io::Error::other("not a directory"));
    }
    Ok(())
}

/// Restricts what sled created to the user (0700 directories, 0600 files).
fn make_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut stack = vec![path.to_path_buf()];
        while let Some(p) = stack.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let mode = if meta.is_dir() { 0o700 } else { 0o600 };
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
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

/// Flushes every open database; run by the C runtime at normal process exit.
extern "C" fn flush_all_at_exit() {
    // Never block exit on a poisoned or contended lock.
    if let Ok(open) = OPEN.try_lock() {
        for db in open.iter().filter_map(|(_, db)| db.as_ref().ok()) {
            let _ = catch_unwind(AssertUnwindSafe(|| db.flush()));
        }
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
            .and_then(|(_, db)| db.as_ref().ok().cloned())
    };
    match db {
        Some(db) => db.flush().map(|_| ()),
        None => Ok(()),
    }
}

//! A verified directory, held open for as long as a store uses it.
//!
//! The directory rule (`private_dir.rs`) is checked on a path, and a path can lead somewhere
//! else later: a temp cleaner removes `/tmp/twat-cache-<uid>` and another user creates the name
//! again, or a link on the way is retargeted. So a store checks its directory once, opens it,
//! and from then on reaches its files through the open descriptor (on Linux the path
//! `/proc/self/fd/<n>` names the opened directory itself, whatever happens to its name), never
//! through the name it was given. Where no such path exists the store uses the directory's
//! real path as verified (no symlinks on it, every directory on the way closed to everyone but
//! the user and root).
//!
//! When the directory itself is removed (`twat-cache clear`), the store re-verifies the name it
//! was given, creating the directory again, and points the same descriptor at the new one.

use std::fs::File;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::error::StoreError;
use super::private_dir;

/// A directory checked against the directory rule and held open.
pub(crate) struct Anchor {
    /// The top of what [`private_dir::ensure`] checks (a cache folder or root).
    base: PathBuf,
    /// The directory as the caller named it.
    named: PathBuf,
    /// The open directory; [`Anchor::reopen_if_removed`] swaps what it refers to in place.
    file: File,
    /// The path every operation uses (see the module doc).
    path: PathBuf,
    /// Serializes re-verifications.
    reopening: Mutex<()>,
}

impl Anchor {
    /// Creates (0700) and checks `dir` (at or below `base`, with the way to `base`), and holds
    /// it open.
    pub(crate) fn open(base: &Path, dir: &Path) -> Result<Self, StoreError> {
        private_dir::ensure(base, dir)?;
        let (file, real) = open_verified(dir)?;
        let path = path_of(&file, &real);
        Ok(Self {
            base: base.to_path_buf(),
            named: dir.to_path_buf(),
            file,
            path,
            reopening: Mutex::new(()),
        })
    }

    /// The path that reaches the verified directory (never the name it was opened by).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the entry `name` (relative to the directory, NUL-terminated) for reading, relative
    /// to the open directory (the hit path: the shortest walk there is), never following a
    /// symlink in its last component nor blocking on a FIFO.
    #[cfg(unix)]
    pub(crate) fn open_read(&self, name: &std::ffi::CStr) -> std::io::Result<File> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // SAFETY: a valid NUL-terminated name and an open directory descriptor.
        let fd = unsafe { libc::openat(self.file.as_raw_fd(), name.as_ptr(), flags) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// If the directory was removed, verifies (creating it again) the name it was opened by and
    /// holds the new directory instead; `true` if it did. Operations in flight finish in the
    /// removed directory (they fail, or their files go with it).
    pub(crate) fn reopen_if_removed(&self) -> Result<bool, StoreError> {
        let _one = self.reopening.lock();
        if !removed(&self.file) {
            return Ok(false);
        }
        private_dir::ensure(&self.base, &self.named)?;
        let (fresh, real) = open_verified(&self.named)?;
        #[cfg(target_os = "linux")]
        if self.path.starts_with("/proc/self/fd") {
            use std::os::fd::AsRawFd;
            // SAFETY: both descriptors are open and owned by us; dup3 atomically makes ours
            // refer to the fresh directory, so the path that names it stays valid throughout.
            let rc =
                unsafe { libc::dup3(fresh.as_raw_fd(), self.file.as_raw_fd(), libc::O_CLOEXEC) };
            if rc < 0 {
                return Err(StoreError::io(&self.named, std::io::Error::last_os_error()));
            }
            return Ok(true);
        }
        // Without a path through the descriptor the store keeps its verified real path, which
        // now names the directory just verified.
        if real != self.path {
            return Err(StoreError::Insecure {
                path: self.named.clone(),
                reason: format!("now leads to `{}`", real.display()),
            });
        }
        Ok(true)
    }
}

/// Opens the directory `dir` leads to, once the way there passes the rule, and makes sure
/// what was opened is what was checked.
fn open_verified(dir: &Path) -> Result<(File, PathBuf), StoreError> {
    let (real, identity) = private_dir::verify(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
    );
    let file = options.open(&real).map_err(|e| StoreError::io(&real, e))?;
    let meta = file.metadata().map_err(|e| StoreError::io(&real, e))?;
    if identity_of(&meta) != identity {
        return Err(StoreError::Insecure {
            path: dir.to_path_buf(),
            reason: "changed while it was checked".into(),
        });
    }
    Ok((file, real))
}

fn identity_of(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// `/proc/self/fd/<n>` when it names the open directory here, else its verified real path.
fn path_of(file: &File, real: &Path) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let through_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let same = match (std::fs::metadata(&through_fd), file.metadata()) {
            (Ok(a), Ok(b)) => identity_of(&a) == identity_of(&b),
            _ => false,
        };
        if same {
            return through_fd;
        }
    }
    let _ = file;
    real.to_path_buf()
}

/// Whether the open directory was removed (it has no links left).
fn removed(file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.metadata().is_ok_and(|m| m.nlink() == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_outlives_a_rename_and_follows_a_removal() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("c");
        let anchor = Anchor::open(dir.path(), &named).unwrap();
        std::fs::write(anchor.path().join("a"), b"1").unwrap();
        std::fs::rename(&named, dir.path().join("moved")).unwrap();
        std::fs::create_dir(&named).unwrap();
        assert!(
            anchor.path().join("a").exists(),
            "still the verified directory"
        );
        assert!(!anchor.reopen_if_removed().unwrap(), "renamed, not removed");

        let other = tempfile::tempdir().unwrap();
        let named = other.path().join("c");
        let anchor = Anchor::open(other.path(), &named).unwrap();
        std::fs::remove_dir(&named).unwrap();
        assert!(anchor.reopen_if_removed().unwrap());
        std::fs::write(anchor.path().join("b"), b"2").unwrap();
        assert!(
            named.join("b").exists(),
            "the directory created again is used"
        );
    }
}

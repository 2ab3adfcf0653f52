//! The directory rule: every directory a disk cache reads or writes must be owned by the
//! current user and not writable by group or others. A symlink is followed only when its target
//! passes the same check (moving a cache to another disk with a symlink is normal). Whatever
//! fails is refused, so nobody else on the machine can plant entries the cache would read.
//!
//! The way to such a directory counts too: a symlink on it is trusted only if the link itself
//! is the user's (or root's), and every directory on the way (the link's own included) is the
//! user's or root's and not writable by others, or sticky (like `/tmp`, where others may add
//! names but not replace the user's). Then nobody but the user and root can change
//! where the path leads; [`super::anchor`] holds the verified directory open so that even they
//! (a temp cleaner removing it, the name created again) cannot redirect a running cache.

use std::path::{Component, Path, PathBuf};

use super::error::StoreError;

/// Most symlinks one path may go through (as the kernel's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Creates (0700) every missing directory from `base` down to `dir` and checks each of them,
/// `base` included, with the way to `base` (see the module's rule). `dir` must be `base` or
/// below it.
pub(crate) fn ensure(base: &Path, dir: &Path) -> Result<(), StoreError> {
    create_missing(base)?;
    check(base)?;
    create_below(base, dir, check)
}

/// [`ensure`] below a directory already verified and held open (its path names it through
/// the open descriptor, so the way to it is not walked again): what is below must be real
/// directories, never symlinks.
pub(crate) fn ensure_below(base: &Path, dir: &Path) -> Result<(), StoreError> {
    check_opened(base)?;
    create_below(base, dir, check_here)
}

fn create_below(
    base: &Path,
    dir: &Path,
    check: fn(&Path) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let below = dir.strip_prefix(base).map_err(|_| StoreError::Insecure {
        path: dir.to_path_buf(),
        reason: format!("not below `{}`", base.display()),
    })?;
    let mut current = base.to_path_buf();
    for component in below.components() {
        let Component::Normal(name) = component else {
            return Err(StoreError::Insecure {
                path: dir.to_path_buf(),
                reason: "a `..` or root component".into(),
            });
        };
        current.push(name);
        create_one(&current)?;
        check(&current)?;
    }
    Ok(())
}

fn builder() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// `base` and its missing parents, 0700.
fn create_missing(base: &Path) -> Result<(), StoreError> {
    if base.is_dir() {
        return Ok(());
    }
    builder()
        .recursive(true)
        .create(base)
        .map_err(|e| StoreError::io(base, e))
}

fn create_one(dir: &Path) -> Result<(), StoreError> {
    match builder().create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

/// Checks one directory and the way to it: a symlink is followed only if the rule trusts it,
/// and the directory it leads to must be the user's and not writable by group or others.
pub fn check(dir: &Path) -> Result<(), StoreError> {
    verify(dir).map(|_| ())
}

/// [`check`], returning the directory's real path (no symlinks on it) and its identity
/// (`st_dev`, `st_ino`), to hold it open by.
pub(crate) fn verify(dir: &Path) -> Result<(PathBuf, (u64, u64)), StoreError> {
    let (real, meta) = walk(dir)?;
    strict(dir, &meta)?;
    #[cfg(unix)]
    let identity = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let identity = (0, 0);
    Ok((real, identity))
}

/// Checks one directory without following a symlink (below a verified directory).
pub(crate) fn check_here(dir: &Path) -> Result<(), StoreError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| StoreError::io(dir, e))?;
    strict(dir, &meta)
}

/// Checks a verified directory through the path that names it while it is held open.
pub(crate) fn check_opened(dir: &Path) -> Result<(), StoreError> {
    let meta = std::fs::metadata(dir).map_err(|e| StoreError::io(dir, e))?;
    strict(dir, &meta)
}

fn refuse(path: &Path, reason: String) -> StoreError {
    StoreError::Insecure {
        path: path.to_path_buf(),
        reason,
    }
}

/// The current user (the effective uid).
#[cfg(unix)]
pub(crate) fn current_user() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The rule for a directory the cache uses: a directory, the user's, not group/other-writable.
fn strict(dir: &Path, meta: &std::fs::Metadata) -> Result<(), StoreError> {
    if !meta.is_dir() {
        return Err(refuse(dir, "not a directory".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = current_user();
        if meta.uid() != me {
            return Err(refuse(
                dir,
                format!(
                    "owned by uid {}, not by the current user (uid {me})",
                    meta.uid()
                ),
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(refuse(
                dir,
                format!(
                    "writable by group or others (mode {:o})",
                    meta.mode() & 0o777
                ),
            ));
        }
    }
    Ok(())
}

/// Resolves `dir` one component at a time from `/`, checking every directory and symlink on
/// the way by the module's rule; returns the real path and the final directory's metadata.
#[cfg(unix)]
fn walk(dir: &Path) -> Result<(PathBuf, std::fs::Metadata), StoreError> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::os::unix::fs::MetadataExt;

    let me = current_user();
    let trusted_owner = |uid: u32| uid == me || uid == 0;
    let absolute = std::path::absolute(dir).map_err(|e| StoreError::io(dir, e))?;
    fn push_front(pending: &mut VecDeque<OsString>, path: &Path) {
        for c in path.components().rev() {
            match c {
                Component::Normal(n) => pending.push_front(n.to_os_string()),
                Component::ParentDir => pending.push_front("..".into()),
                _ => {}
            }
        }
    }
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_front(&mut pending, &absolute);
    let mut real = PathBuf::from("/");
    let mut meta = std::fs::symlink_metadata(&real).map_err(|e| StoreError::io(&real, e))?;
    let mut links = 0;
    let way = |path: &Path, meta: &std::fs::Metadata| -> Result<(), StoreError> {
        if !meta.is_dir() {
            return Err(refuse(path, "not a directory".into()));
        }
        if !trusted_owner(meta.uid()) {
            return Err(refuse(
                path,
                format!(
                    "on the way to the cache, owned by uid {} (neither the current user nor root)",
                    meta.uid()
                ),
            ));
        }
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o002 != 0 && !sticky {
            return Err(refuse(
                path,
                format!(
                    "on the way to the cache, writable by others and not sticky (mode {:o})",
                    meta.mode() & 0o7777
                ),
            ));
        }
        Ok(())
    };
    way(&real, &meta)?;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            // `real` holds no symlinks: its parent is the real one.
            real.pop();
            meta = std::fs::symlink_metadata(&real).map_err(|e| StoreError::io(&real, e))?;
            continue;
        }
        let next = real.join(&name);
        let next_meta = std::fs::symlink_metadata(&next).map_err(|e| StoreError::io(&next, e))?;
        if next_meta.file_type().is_symlink() {
            // The directory holding the link (`real`) passed the rule already.
            if !trusted_owner(next_meta.uid()) {
                return Err(refuse(
                    &next,
                    format!(
                        "a symlink owned by uid {} (neither the current user nor root)",
                        next_meta.uid()
                    ),
                ));
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(refuse(dir, "too many symlinks".into()));
            }
            let target = std::fs::read_link(&next).map_err(|e| StoreError::io(&next, e))?;
            if target.is_absolute() {
                real = PathBuf::from("/");
                meta = std::fs::symlink_metadata(&real).map_err(|e| StoreError::io(&real, e))?;
            }
            push_front(&mut pending, &target);
            continue;
        }
        if !pending.is_empty() {
            way(&next, &next_meta)?;
        }
        real = next;
        meta = next_meta;
    }
    Ok((real, meta))
}

#[cfg(not(unix))]
fn walk(dir: &Path) -> Result<(PathBuf, std::fs::Metadata), StoreError> {
    let meta = std::fs::metadata(dir).map_err(|e| StoreError::io(dir, e))?;
    Ok((dir.to_path_buf(), meta))
}

/// `name` as one safe path component: `[A-Za-z0-9._-]`, everything else `_`, and never empty,
/// `.`, `..` or hidden (a leading dot gets a `_` before it).
pub fn component(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("_{clean}")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_stay_inside() {
        assert_eq!(component(".."), "_..");
        assert_eq!(component("."), "_.");
        assert_eq!(component(""), "_");
        assert_eq!(component("a/b"), "a_b");
        assert_eq!(component("app.geo"), "app.geo");
    }

    #[cfg(unix)]
    #[test]
    fn group_writable_and_foreign_directories_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("root");
        ensure(&base, &base.join("a").join("b")).unwrap();
        let mode = std::fs::metadata(base.join("a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(base.join("a"), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(ensure(&base, &base.join("a").join("b")).is_err());
        std::fs::set_permissions(base.join("a"), std::fs::Permissions::from_mode(0o700)).unwrap();
        // SAFETY: plain libc calls on a path we own.
        let me = unsafe { libc::geteuid() };
        if me != 0 {
            assert!(
                std::env::var_os("TWAT_CACHE_REQUIRE_ROOT").is_none(),
                "the foreign-owner case needs root, and TWAT_CACHE_REQUIRE_ROOT is set"
            );
            eprintln!("SKIPPED: the foreign-owner case needs root (chown to 65534)");
        } else {
            let c = std::ffi::CString::new(base.join("a").as_os_str().as_encoded_bytes()).unwrap();
            assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
            assert!(matches!(
                ensure(&base, &base.join("a").join("b")),
                Err(StoreError::Insecure { .. })
            ));
        }
        assert!(ensure(&base, &base.join("..").join("x")).is_err());
    }

    /// The way to a cache directory: a link of the user's is followed (its target checked
    /// too), a directory on the way others may write is refused unless it is sticky.
    #[cfg(unix)]
    #[test]
    fn the_way_to_a_directory_is_checked() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        };
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        let target = dir.path().join("target");
        ensure(&target, &target).unwrap();
        let link = shared.join("root");
        symlink(&target, &link).unwrap();

        mode(&shared, 0o1777);
        let (real, _) = verify(&link).unwrap();
        assert_eq!(real, std::fs::canonicalize(&target).unwrap());
        mode(&shared, 0o777);
        assert!(
            matches!(check(&link), Err(StoreError::Insecure { .. })),
            "others may replace the link"
        );
        mode(&shared, 0o775);
        check(&link).unwrap();
        mode(&target, 0o770);
        assert!(
            check(&link).is_err(),
            "the target itself is checked strictly"
        );
    }
}

//! The directory rule: every directory a disk cache reads or writes must be owned by the
//! current user and not writable by group or others. A symlink is followed only when its target
//! passes the same check (moving a cache to another disk with a symlink is normal). Whatever
//! fails is refused, so nobody else on the machine can plant entries the cache would read.

use std::path::{Component, Path};

use super::error::StoreError;

/// Creates (0700) every missing directory from `base` down to `dir` and checks each of them,
/// `base` included. `dir` must be `base` or below it.
pub(crate) fn ensure(base: &Path, dir: &Path) -> Result<(), StoreError> {
    create_missing(base)?;
    check(base)?;
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

/// Checks one directory (following a symlink to its target).
pub fn check(dir: &Path) -> Result<(), StoreError> {
    let meta = std::fs::metadata(dir).map_err(|e| StoreError::io(dir, e))?;
    let refuse = |reason: String| StoreError::Insecure {
        path: dir.to_path_buf(),
        reason,
    };
    if !meta.is_dir() {
        return Err(refuse("not a directory".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(refuse(format!(
                "owned by uid {}, not by the current user (uid {me})",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(refuse(format!(
                "writable by group or others (mode {:o})",
                meta.mode() & 0o777
            )));
        }
    }
    Ok(())
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
}

//! Process-wide settings read from the environment.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Where disk caches live: `TWAT_CACHE_DIR` if set (and non-empty), else the platform cache
/// directory plus `twat-cache` (`~/.cache/twat-cache` on Linux), else — without a home
/// directory — a per-user directory in the temp dir (`/tmp/twat-cache-<uid>`), never one
/// shared by users. Whatever it is, the root must be owned by the current user and not
/// writable by group or others, or disk caches refuse it and work in memory.
///
/// ```
/// let root = twat_cache::cache_root();
/// let name = root.file_name().unwrap().to_string_lossy().into_owned();
/// assert!(name.starts_with("twat-cache") || std::env::var_os("TWAT_CACHE_DIR").is_some());
/// ```
pub fn cache_root() -> PathBuf {
    match std::env::var_os("TWAT_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => match dirs::cache_dir() {
            Some(dir) => dir.join("twat-cache"),
            None => per_user_temp_root(),
        },
    }
}

/// `<temp dir>/twat-cache-<uid>`: created 0700 by the first disk cache and checked like any
/// root, so another user who created it first is refused, not trusted.
fn per_user_temp_root() -> PathBuf {
    #[cfg(unix)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    let user = unsafe { libc::geteuid() }.to_string();
    #[cfg(not(unix))]
    let user = std::env::var("USERNAME").unwrap_or_else(|_| "user".into());
    std::env::temp_dir().join(format!("twat-cache-{user}"))
}

/// Whether `TWAT_CACHE_DISABLE` turned caching off. Read once, at first use, so flipping the
/// variable mid-run cannot make a cache half-enabled. It governs the attributes; engines built
/// with their builders ([`MemoryCache`](crate::MemoryCache), …) cache as built.
///
/// ```
/// // In a process started without TWAT_CACHE_DISABLE:
/// # if std::env::var_os("TWAT_CACHE_DISABLE").is_none() {
/// assert!(!twat_cache::caching_disabled());
/// # }
/// ```
pub fn caching_disabled() -> bool {
    static DISABLED: OnceLock<bool> = OnceLock::new();
    *DISABLED.get_or_init(|| {
        std::env::var("TWAT_CACHE_DISABLE").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    /// Without a home directory the root is this user's own, never one shared by users.
    #[cfg(unix)]
    #[test]
    fn the_temp_root_is_per_user() {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        let root = super::per_user_temp_root();
        assert_eq!(root.parent(), Some(std::env::temp_dir().as_path()));
        assert_eq!(
            root.file_name().unwrap(),
            format!("twat-cache-{uid}").as_str()
        );
    }
}

//! Process-wide settings read from the environment.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Where disk caches live: `TWAT_CACHE_DIR` if set (and non-empty), else the platform cache
/// directory plus `twat-cache` (`~/.cache/twat-cache` on Linux), else the temp dir.
///
/// ```
/// let root = twat_cache::cache_root();
/// assert!(root.ends_with("twat-cache") || std::env::var_os("TWAT_CACHE_DIR").is_some());
/// ```
pub fn cache_root() -> PathBuf {
    match std::env::var_os("TWAT_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("twat-cache"),
    }
}

/// Whether `TWAT_CACHE_DISABLE` turned caching off. Read once, at first use, so flipping the
/// variable mid-run cannot make a cache half-enabled.
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

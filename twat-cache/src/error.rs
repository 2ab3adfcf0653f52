//! Errors of the explicit APIs (clearing, the CLI). Cached functions never return these.

use std::path::PathBuf;

/// What an explicit cache operation can fail with.
///
/// ```
/// let err = twat_cache::Error::UnknownCache("nope".into());
/// assert_eq!(err.to_string(), "no cache named `nope`");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No registered cache (or cache folder) has this name.
    #[error("no cache named `{0}`")]
    UnknownCache(String),
    /// The cache root is missing or not a directory.
    #[error("cache root `{}` is not a directory", .0.display())]
    BadRoot(PathBuf),
    /// A filesystem operation failed.
    #[error("I/O error on `{}`: {source}", path.display())]
    Io {
        /// The path operated on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

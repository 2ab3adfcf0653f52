//! Why a storage operation failed. Cached functions never see these: the cache logs one
//! warning, counts an error and carries on in memory. Explicit APIs (`flush`) return them.

use std::path::PathBuf;
use std::sync::Arc;

/// A failed storage operation.
///
/// ```
/// use std::path::PathBuf;
/// use twat_cache::disk::StoreError;
///
/// let e = StoreError::Insecure { path: PathBuf::from("/srv/cache"), reason: "owned by uid 65534".into() };
/// assert_eq!(e.to_string(), "refusing cache directory `/srv/cache`: owned by uid 65534");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem call failed.
    #[error("I/O error on `{}`: {source}", path.display())]
    Io {
        /// The path operated on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// sled reported an error.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// sled panicked (turned into an error so the function keeps working).
    #[error("sled panicked")]
    SledPanicked,
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A directory fails the ownership and permission rule (see the crate's security notes).
    #[error("refusing cache directory `{}`: {reason}", path.display())]
    Insecure {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The operation is not offered by this backend.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A storage server did not answer (refused, timed out, dropped the connection): the
    /// cache stops using it and tries again with backoff.
    #[error("the cache server {server} is unavailable: {reason}")]
    Unavailable {
        /// The server's address (never its credentials).
        server: String,
        /// What happened.
        reason: String,
    },
    /// A storage server answered with an error.
    #[error("the cache server {server} failed: {reason}")]
    Redis {
        /// The server's address (never its credentials).
        server: String,
        /// What it said.
        reason: String,
    },
}

impl StoreError {
    /// Whether a path was not there (for example a directory another process removed).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Whether the storage is away (a server that does not answer), rather than one call
    /// having failed.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why a sled database could not be used.
///
/// ```
/// use std::path::PathBuf;
/// use twat_cache::disk::OpenError;
///
/// let e = OpenError::Locked(PathBuf::from("/cache/geo"));
/// assert!(e.to_string().contains("locked by another process"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process holds the database.
    #[error("the cache database at `{}` is locked by another process", .0.display())]
    Locked(PathBuf),
    /// The folder or database cannot be used (read-only, no space, too many open files, …);
    /// the database is left untouched.
    #[error("cannot use cache folder `{}`: {source}", path.display())]
    Unusable {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The folder fails the ownership and permission rule.
    #[error("refusing cache folder `{}`: {reason}", path.display())]
    Insecure {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The database is damaged and could not be recreated.
    #[error("the cache database at `{}` is corrupt: {reason}", path.display())]
    Corrupt {
        /// The folder.
        path: PathBuf,
        /// What sled reported.
        reason: String,
    },
}

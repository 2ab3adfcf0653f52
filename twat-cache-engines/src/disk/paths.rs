//! Where each function's entries live under a cache root — the one description of the on-disk
//! layout, for the runtime and for tools that inspect caches:
//!
//! ```text
//! <root>/<folder>/db/                                  #[bcache]: one sled database per folder,
//!                                                      one tree per function (its registry name)
//! <root>/<folder>/<function>/<namespace>/<2 hex>/<id>.twc   #[fcache]: one file per entry
//! ```
//!
//! `<function>` is the registry name with `::` as `.`, made one safe path component;
//! `<namespace>` is the first 16 hex digits of BLAKE3 of the namespace (a `version`, or the
//! function's fingerprint), so an edited function writes into a new directory.

use std::path::{Path, PathBuf};

use super::backend::Backend;
use super::file_store::{FileLocation, FileStore};
use super::private_dir::component;
use super::sled_store::SledStore;

/// The folder of a cache: `<root>/<folder>`.
///
/// ```
/// use std::path::Path;
/// use twat_cache::disk::paths;
///
/// assert_eq!(paths::folder(Path::new("/c"), "geo"), Path::new("/c/geo"));
/// ```
pub fn folder(root: &Path, folder: &str) -> PathBuf {
    root.join(folder)
}

/// The directory name of a function (its registry name).
///
/// ```
/// use twat_cache::disk::paths;
///
/// assert_eq!(paths::function_dir("app::geo::lookup"), "app.geo.lookup");
/// assert_eq!(paths::function_dir(".."), "_..");
/// ```
pub fn function_dir(function: &str) -> String {
    component(&function.replace("::", "."))
}

/// The directory name of a namespace.
///
/// ```
/// use twat_cache::disk::paths;
///
/// assert_eq!(paths::namespace_dir("version:2").len(), 16);
/// ```
pub fn namespace_dir(namespace: &str) -> String {
    blake3::hash(namespace.as_bytes()).to_hex()[..16].to_string()
}

/// A backend that stores one function's entries under a cache folder.
pub trait FunctionStore: Backend {
    /// The location of `function`'s entries of `namespace` in `folder` (`<root>/<folder>`).
    ///
    /// ```
    /// use std::path::PathBuf;
    /// use twat_cache::disk::paths::FunctionStore;
    /// use twat_cache::disk::{FileStore, SledStore};
    ///
    /// let files = FileStore::location_for(PathBuf::from("/c/thumbs"), "app::thumb", "version:1");
    /// assert!(files.entries.starts_with("/c/thumbs/app.thumb"));
    /// let (db, tree) = SledStore::location_for(PathBuf::from("/c/geo"), "app::geocode", "v");
    /// assert_eq!((db, tree.as_str()), (PathBuf::from("/c/geo"), "app::geocode"));
    /// ```
    fn location_for(folder: PathBuf, function: &str, namespace: &str) -> Self::Location;

    /// Where `function` keeps entries on this machine while the store is away, if not in
    /// memory (see [`DiskCacheBuilder::fallback_files`](crate::disk::DiskCacheBuilder::fallback_files)).
    fn local_fallback(folder: PathBuf, function: &str, namespace: &str) -> Option<FileLocation> {
        let _ = (folder, function, namespace);
        None
    }
}

impl FunctionStore for SledStore {
    /// The folder's database, one tree per function; namespaces share the tree (each entry
    /// records its own).
    fn location_for(folder: PathBuf, function: &str, _namespace: &str) -> Self::Location {
        (folder, function.to_string())
    }
}

impl FunctionStore for FileStore {
    /// `<folder>/<function>/<namespace>/`: editing the function leaves its old entries in a
    /// directory of their own, never read again and collected once unused.
    fn location_for(folder: PathBuf, function: &str, namespace: &str) -> Self::Location {
        FileLocation {
            entries: folder
                .join(function_dir(function))
                .join(namespace_dir(namespace)),
            folder,
            durable: false,
        }
    }
}

//! The sled backend: one tree per cache in the folder's database (see `sled_db.rs`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use super::backend::{Backend, EntryId, SharedBytes, Stored};
use super::error::StoreError;
use super::sled_db;

/// Entries in a sled tree (single-process: sled locks its database); use it as
/// [`SledCache`](crate::SledCache).
pub struct SledStore {
    tree: sled::Tree,
    folder: PathBuf,
}

/// Runs a sled operation, turning a panic inside sled into an error.
fn guarded<T>(op: impl FnOnce() -> sled::Result<T>) -> Result<T, StoreError> {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(StoreError::Sled(e)),
        Err(_) => Err(StoreError::SledPanicked),
    }
}

/// The tree key recording when a namespace was last opened. Not 32 bytes long, so it is never
/// taken for an entry id (`for_each` and `sample` skip it).
pub(super) fn in_use_key(namespace: u64) -> [u8; 15] {
    let mut key = *b"in-use:\0\0\0\0\0\0\0\0";
    key[7..].copy_from_slice(&namespace.to_le_bytes());
    key
}

/// Fails with an injected fault for `$op` on this store (a no-op without the `fault-injection`
/// feature).
macro_rules! seam {
    ($store:ident, $op:ident) => {{
        let check = || -> std::io::Result<()> {
            inject_fault!($op, &$store.folder);
            Ok(())
        };
        check().map_err(|e| StoreError::io(&$store.folder, e))
    }};
}

impl Backend for SledStore {
    /// The database folder and the tree name.
    type Location = (PathBuf, String);

    const PRUNES: bool = false;

    fn open((folder, tree): &Self::Location) -> Result<Self, StoreError> {
        let db = sled_db::open(folder)?;
        let tree = guarded(|| db.open_tree(tree))?;
        Ok(Self {
            tree,
            folder: folder.clone(),
        })
    }

    fn folder((folder, _): &Self::Location) -> &Path {
        folder
    }

    fn get(&self, id: &EntryId, max_len: u64) -> Result<Option<Stored>, StoreError> {
        seam!(self, Read)?;
        // sled hands over whole values; one over the bound (never written by a cache with
        // this bound) reads as damaged, so it is neither decoded nor decompressed.
        Ok(guarded(|| self.tree.get(id))?.map(|bytes| {
            if bytes.len() as u64 > max_len {
                Stored::Owned(Vec::new())
            } else {
                Stored::Shared(SharedBytes::from_sled(bytes))
            }
        }))
    }

    fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, StoreError> {
        seam!(self, Write)?;
        Ok(guarded(|| self.tree.insert(id, bytes))?.map(|old| old.len() as u64))
    }

    fn replace(&self, id: &EntryId, expected: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        seam!(self, Write)?;
        let swapped = guarded(|| self.tree.compare_and_swap(id, Some(expected), Some(new)))?;
        Ok(swapped.is_ok())
    }

    fn remove(&self, id: &EntryId) -> Result<Option<u64>, StoreError> {
        seam!(self, Remove)?;
        Ok(guarded(|| self.tree.remove(id))?.map(|old| old.len() as u64))
    }

    fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError> {
        guarded(|| {
            for item in self.tree.iter() {
                let (id, bytes) = item?;
                if let Ok(id) = EntryId::try_from(id.as_ref()) {
                    visit(id, &bytes);
                }
            }
            Ok(())
        })
    }

    fn sample(
        &self,
        seed: u64,
        visit: &mut dyn FnMut(EntryId, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start = seed.to_be_bytes();
        guarded(|| {
            let after = self.tree.range(start.as_slice()..);
            let before = self.tree.range(..start.as_slice());
            for item in after.chain(before) {
                let (id, bytes) = item?;
                if let Ok(id) = EntryId::try_from(id.as_ref())
                    && !visit(id, &bytes)
                {
                    break;
                }
            }
            Ok(())
        })
    }

    fn mark_in_use(&self, namespace: u64, now: u64) {
        let _ = guarded(|| self.tree.insert(in_use_key(namespace), &now.to_le_bytes()));
    }

    fn last_use(&self, namespace: u64) -> Option<u64> {
        let stamp = guarded(|| self.tree.get(in_use_key(namespace))).ok()??;
        Some(u64::from_le_bytes(stamp.as_ref().try_into().ok()?))
    }

    fn flush(&self) -> Result<(), StoreError> {
        sled_db::flush(&self.folder).map_err(StoreError::Sled)
    }
}

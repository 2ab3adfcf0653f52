//! The sled backend: one tree per cache in the folder's database (see `sled_db.rs`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use super::backend::{Backend, EntryId, Stored};
use super::sled_db;

/// Entries in a sled tree (single-process: sled locks its database); use it as
/// [`SledCache`](crate::SledCache).
pub struct SledStore {
    tree: sled::Tree,
    folder: PathBuf,
}

/// Runs a sled operation, turning a panic inside sled into an error.
fn guarded<T>(op: impl FnOnce() -> sled::Result<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("sled panicked".to_string()),
    }
}

impl Backend for SledStore {
    /// The database folder and the tree name.
    type Location = (PathBuf, String);

    const PRUNES: bool = false;

    fn open((folder, tree): &Self::Location) -> Result<Self, String> {
        let db = sled_db::open(folder).map_err(|e| e.to_string())?;
        let tree = guarded(|| db.open_tree(tree))?;
        Ok(Self {
            tree,
            folder: folder.clone(),
        })
    }

    fn folder((folder, _): &Self::Location) -> &Path {
        folder
    }

    fn get(&self, id: &EntryId) -> Result<Option<Stored>, String> {
        Ok(guarded(|| self.tree.get(id))?.map(Stored::Shared))
    }

    fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, String> {
        Ok(guarded(|| self.tree.insert(id, bytes))?.map(|old| old.len() as u64))
    }

    fn remove(&self, id: &EntryId) -> Result<Option<u64>, String> {
        Ok(guarded(|| self.tree.remove(id))?.map(|old| old.len() as u64))
    }

    fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), String> {
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
    ) -> Result<(), String> {
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

    fn flush(&self) -> Result<(), String> {
        sled_db::flush(&self.folder).map_err(|e| e.to_string())
    }
}

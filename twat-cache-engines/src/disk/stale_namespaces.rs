//! Collecting a file store's stale namespaces: what removing them may touch.
//!
//! A function directory holds one directory per namespace (`paths::namespace_dir`: 16 hex
//! digits), each holding shard directories (2 hex digits) of entry files, temporary files and
//! a `.lock`, plus the store's `.in-use` marker and `.locks/<4 hex>.lock` files. Collection
//! removes exactly those names and nothing else: a user's file among them stays (and keeps its
//! directory), a symlink is never followed (nor is anything else removed through one), and
//! nothing outside the function directory is ever touched.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use super::file_store::{
    EXTENSION, IN_USE, LOCK, LOCKS, STALE_NAMESPACE, TEMP_EXTENSION, parse_id,
};
use super::private_dir;

/// Whether `name` is one the layout gives a namespace directory.
pub(crate) fn is_namespace(name: &str) -> bool {
    is_lower_hex(name, 16)
}

fn is_lower_hex(name: &str, len: usize) -> bool {
    name.len() == len && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Deletes up to `budget` files of the namespace directories in `function_dir` other than
/// `ours` that nobody marked in use for [`STALE_NAMESPACE`]; returns how many entry files went.
/// `function_dir` must name the verified directory's real parent.
pub(super) fn collect(function_dir: &Path, ours: &str, mut budget: usize) -> u64 {
    if private_dir::check_here(function_dir).is_err() {
        return 0;
    }
    let Ok(siblings) = fs::read_dir(function_dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for sibling in siblings.flatten() {
        let name = sibling.file_name();
        let Some(name) = name.to_str() else { continue };
        // `file_type` does not follow a symlink: a link is not a directory here.
        let is_dir = sibling.file_type().is_ok_and(|t| t.is_dir());
        if budget == 0 || name == ours || !is_namespace(name) || !is_dir {
            continue;
        }
        let dir = sibling.path();
        if private_dir::check_here(&dir).is_err() {
            continue;
        }
        let marker = fs::symlink_metadata(dir.join(IN_USE))
            .ok()
            .filter(|m| m.is_file());
        let last_use = marker
            .map_or_else(|| fs::symlink_metadata(&dir), Ok)
            .and_then(|m| m.modified())
            .unwrap_or(now);
        if now.duration_since(last_use).unwrap_or_default() < STALE_NAMESPACE {
            continue;
        }
        removed += remove_namespace(&dir, &mut budget);
    }
    removed
}

/// Removes the store's files of one namespace directory (at most `budget` of them) and the
/// directories left empty; the `.in-use` marker goes last, so that a collection cut short by
/// its budget finds the namespace stale again next time. Returns how many entry files went.
pub(crate) fn remove_namespace(dir: &Path, budget: &mut usize) -> u64 {
    let mut removed = 0;
    let Ok(children) = fs::read_dir(dir) else {
        return 0;
    };
    for child in children.flatten() {
        let name = child.file_name();
        let Some(name) = name.to_str() else { continue };
        if !child.file_type().is_ok_and(|t| t.is_dir()) {
            continue; // `.in-use` (last), or not the store's
        }
        let ours: fn(&str) -> bool = if is_lower_hex(name, 2) {
            |file| parse_id(file).is_some() || file == LOCK || is_temp(file)
        } else if name == LOCKS {
            |file| {
                file.strip_suffix(".lock")
                    .is_some_and(|id| is_lower_hex(id, 4))
            }
        } else {
            continue;
        };
        let path = child.path();
        if let Ok(files) = fs::read_dir(&path) {
            for file in files.flatten() {
                if *budget == 0 {
                    return removed;
                }
                let file_name = file.file_name();
                let Some(file_name) = file_name.to_str() else {
                    continue;
                };
                // Unlinking never follows a symlink; a directory is not the store's.
                let is_dir = file.file_type().map_or(true, |t| t.is_dir());
                if ours(file_name) && !is_dir && fs::remove_file(file.path()).is_ok() {
                    *budget -= 1;
                    removed += u64::from(file_name.ends_with(EXTENSION));
                }
            }
        }
        let _ = fs::remove_dir(&path); // fails, and keeps it, if anything else is left
    }
    if *budget > 0 {
        let marker = dir.join(IN_USE);
        if fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file())
            && fs::remove_file(&marker).is_ok()
        {
            *budget -= 1;
        }
        let _ = fs::remove_dir(dir);
    }
    removed
}

/// A writer's temporary file: `.<16 hex>.<pid>.<n>.tmp`.
fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(&format!(".{TEMP_EXTENSION}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_what_the_layout_writes() {
        assert!(is_namespace(&crate::disk::paths::namespace_dir(
            "version:2"
        )));
        assert!(!is_namespace("notes"));
        assert!(!is_namespace("0123456789ABCDEF"));
        assert!(!is_namespace("0123456789abcde"));
        assert!(is_temp(".0011223344556677.42.0.tmp"));
        assert!(!is_temp("thesis.tmp"));
    }
}

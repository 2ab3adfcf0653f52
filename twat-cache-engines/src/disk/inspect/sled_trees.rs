//! Inspecting and changing sled caches: one tree per function in `<folder>/db`.

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    CacheReport, CacheState, EntryReport, Freed, InspectError, Location, NamespaceReport, Removed,
    StoreKind, Survivor, now,
};
use crate::disk::EntryId;
use crate::disk::record;
use crate::disk::sled_db::{self, OpenError};
use crate::disk::sled_store::in_use_key;

/// The trees of the database in `folder` (one cache each), or one report saying why they
/// cannot be read.
pub(super) fn scan(folder_name: &str, folder: &Path) -> Vec<CacheReport> {
    let unread = |state: CacheState| {
        vec![CacheReport {
            folder: folder_name.to_string(),
            name: String::new(),
            store: StoreKind::Sled,
            path: folder.join("db"),
            state,
            namespaces: Vec::new(),
            url: None,
        }]
    };
    // A look, never an open that could recover (move aside) the database or keep it.
    let scanned = sled_db::look(folder, |db| {
        let now = now();
        let mut caches = Vec::new();
        for name in db.tree_names() {
            if name.as_ref() == b"__sled__default" {
                continue;
            }
            let Ok(tree) = db.open_tree(&name) else {
                continue;
            };
            caches.push(CacheReport {
                folder: folder_name.to_string(),
                name: String::from_utf8_lossy(&name).into_owned(),
                store: StoreKind::Sled,
                path: folder.join("db"),
                state: CacheState::Ok,
                namespaces: scan_tree(&tree, now),
                url: None,
            });
        }
        caches
    });
    match scanned {
        Ok(caches) => caches,
        Err(OpenError::Locked(_)) => unread(CacheState::InUse),
        Err(e) => unread(CacheState::Unreadable(e.to_string())),
    }
}

fn scan_tree(tree: &sled::Tree, now: u64) -> Vec<NamespaceReport> {
    let mut by_tag: BTreeMap<u64, NamespaceReport> = BTreeMap::new();
    let mut damaged = 0;
    for (id, stored) in tree.iter().flatten() {
        if id.len() != 32 {
            continue; // in-use stamps
        }
        let Some(header) = record::peek(&stored) else {
            damaged += 1;
            continue;
        };
        let report = by_tag
            .entry(header.namespace)
            .or_insert_with(|| NamespaceReport {
                id: format!("{:016x}", header.namespace),
                ..NamespaceReport::default()
            });
        report.count(&header, stored.len() as u64, now);
    }
    // The namespace stamped in use last is current, even with no entries yet.
    let current = by_tag
        .keys()
        .copied()
        .chain(stamped_namespaces(tree))
        .max_by_key(|tag| last_use(tree, *tag));
    if let Some(tag) = current {
        let report = by_tag.entry(tag).or_insert_with(|| NamespaceReport {
            id: format!("{tag:016x}"),
            ..NamespaceReport::default()
        });
        report.current = true;
    }
    let mut namespaces: Vec<NamespaceReport> = by_tag.into_values().collect();
    namespaces.sort_by_key(|n| !n.current);
    if let Some(first) = namespaces.first_mut() {
        first.damaged += damaged;
    }
    namespaces
}

/// The namespaces with an in-use stamp.
fn stamped_namespaces(tree: &sled::Tree) -> Vec<u64> {
    let prefix = &in_use_key(0)[..7];
    tree.scan_prefix(prefix)
        .flatten()
        .filter_map(|(key, _)| Some(u64::from_le_bytes(key.get(7..15)?.try_into().ok()?)))
        .collect()
}

fn last_use(tree: &sled::Tree, tag: u64) -> u64 {
    tree.get(in_use_key(tag))
        .ok()
        .flatten()
        .and_then(|v| Some(u64::from_le_bytes(v.as_ref().try_into().ok()?)))
        .unwrap_or(0)
}

fn open_tree(cache: &CacheReport) -> Result<(sled::Db, sled::Tree), InspectError> {
    let folder = cache.path.parent().unwrap_or(&cache.path);
    let db = sled_db::open(folder).map_err(|e| match e {
        OpenError::Locked(_) => InspectError::InUse(cache.path.clone()),
        other => InspectError::Failed(other.to_string()),
    })?;
    let tree = db
        .open_tree(&cache.name)
        .map_err(|e| InspectError::Failed(e.to_string()))?;
    Ok((db, tree))
}

pub(super) fn entries(cache: &CacheReport, limit: usize) -> Result<Vec<EntryReport>, InspectError> {
    let folder = cache.path.parent().unwrap_or(&cache.path);
    sled_db::look(folder, |db| {
        let tree = db
            .open_tree(&cache.name)
            .map_err(|e| InspectError::Failed(e.to_string()))?;
        Ok(tree_entries(cache, &tree, limit))
    })
    .map_err(|e| match e {
        OpenError::Locked(_) => InspectError::InUse(cache.path.clone()),
        other => InspectError::Failed(other.to_string()),
    })?
}

/// Up to `limit` entries of `tree`, those of the current namespace first.
fn tree_entries(cache: &CacheReport, tree: &sled::Tree, limit: usize) -> Vec<EntryReport> {
    let current: Vec<&str> = cache
        .namespaces
        .iter()
        .filter(|n| n.current)
        .map(|n| n.id.as_str())
        .collect();
    let mut shown: Vec<EntryReport> = tree
        .iter()
        .flatten()
        .filter(|(id, _)| id.len() == 32)
        .filter_map(|(_, stored)| {
            let header = record::peek(&stored)?;
            let (len, namespace) = (stored.len() as u64, format!("{:016x}", header.namespace));
            if len > super::INSPECT_MAX_ENTRY_BYTES {
                return Some(super::oversized(&header, len, &namespace));
            }
            super::describe(&stored, len, &namespace)
        })
        .take(limit.saturating_mul(4).max(limit))
        .collect();
    shown.sort_by_key(|e| !current.contains(&e.namespace.as_str()));
    shown.truncate(limit);
    shown
}

/// Removes the tree's entries but keeps the tree (and its in-use stamps), so `list` still
/// shows the cleared cache, with 0 entries: dropping the tree made it vanish from the listing
/// until its function next wrote, which read as a cache that never existed.
pub(super) fn clear(cache: &CacheReport) -> Result<Freed, InspectError> {
    let (db, tree) = open_tree(cache)?;
    let freed = Freed::everything_of(cache);
    for id in tree.iter().keys().flatten() {
        if id.len() == 32 {
            tree.remove(id)
                .map_err(|e| InspectError::Failed(e.to_string()))?;
        }
    }
    db.flush()
        .map_err(|e| InspectError::Failed(e.to_string()))?;
    Ok(freed)
}

pub(super) fn prune(
    cache: &CacheReport,
    dry_run: bool,
    progress: &dyn Fn(u64),
) -> Result<(Freed, Vec<Survivor>), InspectError> {
    let (db, tree) = open_tree(cache)?;
    let current: Option<u64> = cache
        .namespaces
        .iter()
        .find(|n| n.current)
        .and_then(|n| u64::from_str_radix(&n.id, 16).ok());
    let now = now();
    let mut freed = Freed::default();
    let mut left = Vec::new();
    for (id, stored) in tree.iter().flatten() {
        let Ok(id) = EntryId::try_from(id.as_ref()) else {
            continue;
        };
        let bytes = stored.len() as u64;
        progress(1);
        let remove = || dry_run || tree.remove(id).is_ok();
        match record::peek(&stored) {
            None => {
                if remove() {
                    freed.count(Removed::Damaged, bytes);
                }
            }
            Some(header) if Some(header.namespace) != current => {
                if remove() {
                    freed.count(Removed::Stale, bytes);
                }
            }
            Some(header) if record::expired(header.renewed, header.expires, now, 0) => {
                if remove() {
                    freed.count(Removed::Expired, bytes);
                }
            }
            Some(header) => left.push(Survivor {
                rank: header.created,
                bytes,
                at: Location::Sled {
                    folder: cache.path.parent().unwrap_or(&cache.path).to_path_buf(),
                    tree: cache.name.clone(),
                    id,
                },
            }),
        }
    }
    db.flush()
        .map_err(|e| InspectError::Failed(e.to_string()))?;
    Ok((freed, left))
}

/// Removes one entry (a byte bound's eviction).
pub(super) fn remove(folder: &Path, tree: &str, id: &EntryId) -> Result<bool, InspectError> {
    let db = sled_db::open(folder).map_err(|e| InspectError::Failed(e.to_string()))?;
    let tree = db
        .open_tree(tree)
        .map_err(|e| InspectError::Failed(e.to_string()))?;
    let removed = tree
        .remove(id)
        .map_err(|e| InspectError::Failed(e.to_string()))?
        .is_some();
    Ok(removed)
}

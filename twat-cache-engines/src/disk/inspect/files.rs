//! Inspecting and changing file stores: `<folder>/<function>/<namespace>/<shard>/<id>.twc`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    CacheReport, CacheState, EntryReport, Freed, InspectError, Location, NamespaceReport, Removed,
    StoreKind, Survivor, now, sorted_dirs,
};
use crate::disk::file_store::{
    EXTENSION, IN_USE, STALE_TEMP, TEMP_EXTENSION, open_entry, parse_id,
};
use crate::disk::record;

/// The file store of one function (`dir` = `<folder>/<function>`).
pub(super) fn scan(folder: &str, dir: &Path) -> CacheReport {
    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let mut report = CacheReport {
        folder: folder.to_string(),
        name: dir_name.replace('.', "::"),
        store: StoreKind::Files,
        path: dir.to_path_buf(),
        state: CacheState::Ok,
        namespaces: Vec::new(),
        url: None,
    };
    if let Err(e) = crate::disk::private_dir::check(dir) {
        report.state = CacheState::Unreadable(e.to_string());
        return report;
    }
    let now = now();
    // Only what the layout names a namespace: anything else in the directory is not ours.
    let mut namespaces: Vec<(SystemTime, NamespaceReport)> = sorted_dirs(dir)
        .iter()
        .filter(|ns| {
            ns.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(crate::disk::stale_namespaces::is_namespace)
        })
        .map(|ns| (last_use(ns), scan_namespace(ns, now)))
        .collect();
    // The namespace opened last is current; list it first.
    namespaces.sort_by_key(|(last_use, _)| std::cmp::Reverse(*last_use));
    if let Some((_, first)) = namespaces.first_mut() {
        first.current = true;
    }
    report.namespaces = namespaces.into_iter().map(|(_, n)| n).collect();
    report
}

/// When a process last opened (or pruned) the namespace in `dir`.
fn last_use(dir: &Path) -> SystemTime {
    fs::metadata(dir.join(IN_USE))
        .and_then(|m| m.modified())
        .unwrap_or(UNIX_EPOCH)
}

fn scan_namespace(dir: &Path, now: u64) -> NamespaceReport {
    let mut report = NamespaceReport {
        id: dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string(),
        ..NamespaceReport::default()
    };
    for file in namespace_files(dir) {
        match file {
            NamespaceFile::Entry { header, bytes, .. } => report.count(&header, bytes, now),
            NamespaceFile::Damaged { .. } => report.damaged += 1,
            NamespaceFile::DeadTemp { .. } => report.dead_temp_files += 1,
        }
    }
    report
}

/// A file of a namespace directory, as a prune sees it (temporary files of live writers and
/// lock files are not listed).
enum NamespaceFile {
    Entry {
        path: PathBuf,
        header: record::Peek,
        bytes: u64,
        modified: SystemTime,
    },
    Damaged {
        path: PathBuf,
        bytes: u64,
    },
    DeadTemp {
        path: PathBuf,
        bytes: u64,
    },
}

fn namespace_files(dir: &Path) -> Vec<NamespaceFile> {
    let mut found = Vec::new();
    for shard in sorted_dirs(dir) {
        if shard
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue; // `.locks`
        }
        let Ok(files) = fs::read_dir(&shard) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            let path = file.path();
            let Ok(meta) = file.metadata() else { continue };
            let bytes = meta.len();
            let modified = meta.modified().unwrap_or(UNIX_EPOCH);
            if name.ends_with(&format!(".{TEMP_EXTENSION}")) {
                if writer_is_dead(&name, modified) {
                    found.push(NamespaceFile::DeadTemp { path, bytes });
                }
                continue;
            }
            if !name.ends_with(&format!(".{EXTENSION}")) {
                continue;
            }
            if parse_id(&name).is_none() || !meta.is_file() {
                found.push(NamespaceFile::Damaged { path, bytes });
                continue;
            }
            match read_header(&path) {
                Some(header) => found.push(NamespaceFile::Entry {
                    path,
                    header,
                    bytes,
                    modified,
                }),
                None => found.push(NamespaceFile::Damaged { path, bytes }),
            }
        }
    }
    found
}

fn read_header(path: &Path) -> Option<record::Peek> {
    let mut prefix = [0u8; record::HEADER_LEN];
    open_entry(path).ok()?.read_exact(&mut prefix).ok()?;
    record::peek(&prefix)
}

/// A temporary file (`.<id>.<pid>.<n>.tmp`) whose writer is gone: its process no longer runs,
/// or it is older than any write takes.
fn writer_is_dead(name: &str, modified: SystemTime) -> bool {
    let old = SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age > STALE_TEMP);
    let pid = name.split('.').nth(2).and_then(|p| p.parse::<i32>().ok());
    old || pid.is_some_and(|pid| !process_runs(pid))
}

fn process_runs(pid: i32) -> bool {
    #[cfg(unix)]
    {
        // Signal 0 checks existence only; EPERM means it exists under another user.
        // SAFETY: kill with signal 0 sends nothing.
        let status = unsafe { libc::kill(pid, 0) };
        status == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

pub(super) fn entries(cache: &CacheReport, limit: usize) -> Vec<EntryReport> {
    let mut shown = Vec::new();
    for namespace in &cache.namespaces {
        for file in namespace_files(&cache.path.join(&namespace.id)) {
            if shown.len() >= limit {
                return shown;
            }
            let NamespaceFile::Entry { path, bytes, .. } = file else {
                continue;
            };
            let Ok(stored) = fs::read(&path) else {
                continue;
            };
            if let Some(entry) = super::describe(&stored, bytes, &namespace.id) {
                shown.push(entry);
            }
        }
    }
    shown
}

pub(super) fn clear(cache: &CacheReport) -> Result<Freed, InspectError> {
    let freed = Freed::everything_of(cache);
    fs::remove_dir_all(&cache.path).map_err(|e| {
        InspectError::Failed(format!("cannot remove `{}`: {e}", cache.path.display()))
    })?;
    Ok(freed)
}

/// Removes stale namespaces, expired and damaged entries and dead writers' temporary files;
/// returns what it freed and the entries left (for a byte bound).
pub(super) fn prune(
    cache: &CacheReport,
    dry_run: bool,
    progress: &dyn Fn(u64),
) -> Result<(Freed, Vec<Survivor>), InspectError> {
    let now = now();
    let mut freed = Freed::default();
    let mut left = Vec::new();
    let remove = |path: &Path| dry_run || fs::remove_file(path).is_ok();
    for namespace in &cache.namespaces {
        let dir = cache.path.join(&namespace.id);
        for file in namespace_files(&dir) {
            progress(1);
            match file {
                NamespaceFile::Entry { path, bytes, .. } if !namespace.current => {
                    if remove(&path) {
                        freed.count(Removed::Stale, bytes);
                    }
                }
                NamespaceFile::Entry {
                    path,
                    header,
                    bytes,
                    modified,
                } => {
                    if record::expired(header.renewed, header.expires, now, 0) {
                        if remove(&path) {
                            freed.count(Removed::Expired, bytes);
                        }
                    } else {
                        let rank = modified
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_nanos() as u64);
                        left.push(Survivor {
                            rank,
                            bytes,
                            at: Location::File(path),
                        });
                    }
                }
                NamespaceFile::Damaged { path, bytes } => {
                    if remove(&path) {
                        freed.count(Removed::Damaged, bytes);
                    }
                }
                NamespaceFile::DeadTemp { path, bytes } => {
                    if remove(&path) {
                        freed.count(Removed::TempFile, bytes);
                    }
                }
            }
        }
        if !namespace.current && !dry_run {
            // Its marks, locks and now-empty shards go with it (what is not the store's stays).
            let mut unbounded = usize::MAX;
            crate::disk::stale_namespaces::remove_namespace(&dir, &mut unbounded);
        }
    }
    Ok((freed, left))
}

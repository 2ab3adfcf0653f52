//! Review (issue 23), security items: a symlinked cache root another user controls, entry files
//! owned by someone else, stale-namespace collection that leaves the layout (or the root), and
//! `make_private` following a planted symlink.
#![cfg(unix)]

use std::ffi::CString;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use twat_cache::disk::{FileLocation, FileStore, paths};
use twat_cache::{DiskCache, FileCache, SledCache};
use twat_cache_tests::{can_chown, chown_to_nobody, entry_files};

/// Gives the symlink itself (not its target) to uid/gid 65534.
fn lchown_to_nobody(path: &Path) {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; lchown has no other preconditions.
    let rc = unsafe { libc::lchown(c.as_ptr(), 65534, 65534) };
    assert_eq!(rc, 0, "lchown {}", path.display());
}

/// Gives `dir` and everything below it to 65534.
fn chown_tree_to_nobody(dir: &Path) {
    chown_to_nobody(dir);
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            chown_tree_to_nobody(&path);
        } else {
            chown_to_nobody(&path);
        }
    }
}

/// Copies the files of a (two-level) cache directory into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A valid entry `key → value` of a default `FileCache<u64>`, built in a scratch directory
/// and copied to `dir` (as anyone could build one: the format is public).
fn forge_entry(scratch: &Path, dir: &Path, key: &str, value: u64) {
    let forge: FileCache<u64> = FileCache::builder(scratch).build();
    forge.insert(key, &value);
    drop(forge);
    copy_tree(scratch, dir);
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn two_days_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(2 * 24 * 3600)
}

/// Sets the modification time of a file or directory (not following a final symlink is not
/// needed here: every path given is a real file or directory).
fn age(path: &Path, when: SystemTime) {
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

// Item 1 ---------------------------------------------------------------------------------------

/// The documented `/tmp/twat-cache-<uid>` situation: the root is a name in a sticky,
/// world-writable directory, and here that name is a symlink another user owns. It points at
/// the user's own directory today; its owner retargets it later.
#[test]
fn a_root_symlink_owned_by_another_user_cannot_plant_values() {
    if !can_chown("a symlinked root owned by 65534") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("S");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o1777);
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    set_mode(&mine, 0o700);
    let root = shared.join("root");
    symlink(&mine, &root).unwrap();
    lchown_to_nobody(&root);

    let cache: FileCache<u64> = FileCache::builder(&root).build();
    cache.insert("apple", &1);

    // 65534 builds a valid `apple → 666` at the same relative path in a directory of theirs…
    let theirs = dir.path().join("theirs");
    forge_entry(&dir.path().join("forge"), &theirs, "apple", 666);
    chown_tree_to_nobody(&theirs);
    // …and renames a new link of theirs over `S/root`.
    let new_link = shared.join("root.new");
    symlink(&theirs, &new_link).unwrap();
    lchown_to_nobody(&new_link);
    std::fs::rename(&new_link, &root).unwrap();

    assert_ne!(
        cache.get("apple"),
        Some(666),
        "a value planted by the link's owner was returned"
    );
    assert!(
        cache.is_fallback(),
        "a root reached through another user's symlink is refused (memory fallback)"
    );
}

/// A root that passed every check when the cache opened is replaced afterwards (a temp
/// cleaner removed it; another user created the name again): the running cache keeps using
/// the directory it verified and never writes into the new one — where its owner could keep
/// a copy of an entry and put it back after an invalidation.
#[test]
fn a_root_replaced_after_the_cache_opened_is_not_used() {
    if !can_chown("a root replaced by a 65534-owned directory") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("S");
    std::fs::create_dir(&shared).unwrap();
    set_mode(&shared, 0o1777);
    let root = shared.join("root");
    std::fs::create_dir(&root).unwrap();
    set_mode(&root, 0o700);

    let cache: FileCache<u64> = FileCache::builder(&root).build();
    assert!(!cache.is_fallback());
    cache.insert("apple", &1);

    std::fs::rename(&root, shared.join("cleaned-away")).unwrap();
    std::fs::create_dir(&root).unwrap();
    set_mode(&root, 0o777);
    chown_to_nobody(&root);

    cache.insert("pear", &2);
    assert!(cache.remove("apple"));
    assert_eq!(cache.get("apple"), None);
    assert_eq!(
        entry_files(&root),
        Vec::<PathBuf>::new(),
        "the cache wrote into a directory another user owns"
    );
    assert_eq!(
        cache.get("pear"),
        Some(2),
        "the verified directory is still used"
    );
}

/// An entry file owned by someone else is never read, whatever directory it is in.
#[test]
fn an_entry_file_owned_by_another_user_is_never_read() {
    if !can_chown("an entry file owned by 65534") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine");
    let cache: FileCache<u64> = FileCache::builder(&mine).build();
    cache.insert("apple", &1);
    drop(cache);
    let [ours] = entry_files(&mine).try_into().unwrap();

    let forged_dir = dir.path().join("forged");
    forge_entry(&dir.path().join("forge"), &forged_dir, "apple", 666);
    let [forged] = entry_files(&forged_dir).try_into().unwrap();
    std::fs::copy(&forged, &ours).unwrap();
    chown_to_nobody(&ours);

    let cache: FileCache<u64> = FileCache::builder(&mine).build();
    assert_ne!(
        cache.get("apple"),
        Some(666),
        "an entry file owned by 65534 was read"
    );
}

// Item 7 ---------------------------------------------------------------------------------------

/// A cache whose entries directory sits among the user's own files: opening it (and its
/// stale-namespace collection) deletes nothing that is not a cache entry, and never follows a
/// symlink out of the cache root.
#[test]
fn opening_a_cache_deletes_nothing_that_is_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let app = home.join(".cache/app");
    let notes = app.join("notes");
    let documents = home.join("Documents");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::create_dir_all(&documents).unwrap();
    let todo = notes.join("todo.txt");
    let thesis = documents.join("thesis.tex");
    std::fs::write(&todo, "buy milk").unwrap();
    std::fs::write(&thesis, "\\chapter{One}").unwrap();
    symlink(&documents, app.join("docs-link")).unwrap();
    for path in [&todo, &thesis, &notes, &documents] {
        age(path, two_days_ago());
    }

    let cache: FileCache<u64> = FileCache::builder(app.join("blobs"))
        .folder(home.join(".cache"))
        .build();
    cache.insert("k", &1);
    drop(cache);

    assert!(
        todo.exists(),
        "a file beside the cache's directory was deleted"
    );
    assert!(
        thesis.exists(),
        "a file reached through a symlink out of the cache root was deleted"
    );
}

/// What the layout writes is still collected: a namespace directory of the same function
/// that nobody marked in use for two days goes, a link named like one is only unlinked, and
/// files that are not the store's stay.
#[test]
fn a_stale_namespace_of_the_layout_is_still_collected() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("thumbs");
    let location = |ns: &str| FileStore::location_for(folder.clone(), "app::thumb", ns);
    use twat_cache::disk::paths::FunctionStore;
    let old: DiskCache<FileStore, u64> = DiskCache::builder_at(location("v1"))
        .namespace("v1")
        .build();
    for k in 0..20u64 {
        old.insert(&k, &k);
    }
    drop(old);
    let function = folder.join(paths::function_dir("app::thumb"));
    let stale = function.join(paths::namespace_dir("v1"));
    assert_eq!(entry_files(&stale).len(), 20);
    // A namespace-named link to a directory outside, and a user file inside the stale one.
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep.twc"), "not ours").unwrap();
    age(&outside, two_days_ago());
    let link = function.join(paths::namespace_dir("v0"));
    symlink(&outside, &link).unwrap();
    for path in [stale.join(".in-use"), stale.clone()] {
        age(&path, two_days_ago());
    }

    let current: DiskCache<FileStore, u64> = DiskCache::builder_at(location("v2"))
        .namespace("v2")
        .build();
    current.insert(&1u64, &1);

    assert!(!stale.exists(), "the stale namespace was collected");
    assert!(
        outside.join("keep.twc").exists(),
        "the link was not followed"
    );
    let _ = FileLocation::new(&folder); // the public type the layout returns
}

// Suspected: make_private follows symlinks ------------------------------------------------------

/// `make_private` restricts what sled created (0700/0600); a symlink planted in the database
/// directory must not get its target's permissions changed.
#[test]
fn making_the_sled_database_private_never_follows_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("geo");
    let db = folder.join("db");
    std::fs::create_dir_all(&db).unwrap();
    set_mode(&folder, 0o700);
    set_mode(&db, 0o700);
    let outside = dir.path().join("shared.txt");
    std::fs::write(&outside, "world-readable").unwrap();
    set_mode(&outside, 0o644);
    let outside_dir = dir.path().join("shared-dir");
    std::fs::create_dir(&outside_dir).unwrap();
    set_mode(&outside_dir, 0o755);
    symlink(&outside, db.join("planted")).unwrap();
    symlink(&outside_dir, db.join("planted-dir")).unwrap();

    let cache: SledCache<u64> = SledCache::builder(&folder, "app::geo").build();
    cache.insert("k", &1);
    assert!(!cache.is_fallback());

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&outside), 0o644, "chmod followed a symlink to a file");
    assert_eq!(
        mode(&outside_dir),
        0o755,
        "chmod followed a symlink to a directory"
    );
}

/// `twat-cache prune` (the inspection API under it) collects stale namespaces the same way:
/// a directory of the user's beside the namespaces is not one, and stays.
#[test]
fn pruning_from_the_cli_deletes_nothing_that_is_not_the_stores() {
    use twat_cache::disk::inspect;
    use twat_cache::disk::paths::FunctionStore;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let folder = root.join("thumbs");
    let cache: DiskCache<FileStore, u64> =
        DiskCache::builder_at(FileStore::location_for(folder.clone(), "app::thumb", "v1"))
            .trusted_root(&root)
            .namespace("v1")
            .build();
    cache.insert(&1u64, &1);
    drop(cache);
    let notes = folder.join(paths::function_dir("app::thumb")).join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("todo.txt"), "buy milk").unwrap();
    age(&notes.join("todo.txt"), two_days_ago());
    age(&notes, two_days_ago());

    let caches = inspect::scan_root(&root).unwrap();
    let selected: Vec<_> = caches.iter().collect();
    inspect::prune(&selected, inspect::PruneOptions::default(), &|_| {}).unwrap();
    assert!(
        notes.join("todo.txt").exists(),
        "prune deleted a user's directory beside the namespaces"
    );
}

/// Holding the verified directory open must not cost what worked before: a cache whose
/// directory is removed while it runs (`twat-cache clear`) creates it again, checks it and
/// keeps caching on disk there.
#[test]
fn a_cache_whose_directory_was_removed_creates_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dir.path().join("c");
    let cache: FileCache<u64> = FileCache::builder(&entries).build();
    cache.insert("apple", &1);
    std::fs::remove_dir_all(&entries).unwrap();
    cache.insert("pear", &2);
    assert!(!cache.is_fallback());
    assert_eq!(
        entry_files(&entries).len(),
        1,
        "written to the directory made again"
    );
    let other: FileCache<u64> = FileCache::builder(&entries).build();
    assert_eq!(other.get("pear"), Some(2));
    assert_eq!(cache.get("apple"), None);
}

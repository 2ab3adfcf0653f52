//! Faults a root-run test cannot make with permissions (ENOSPC, EIO, EROFS), injected through
//! the `fault-injection` seam, each scoped to its own temporary directory.

use std::sync::Mutex;

use twat_cache::fault::{self, Op};
use twat_cache::{FileCache, SledCache};

/// Faults are process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const ENOSPC: i32 = 28;
const EIO: i32 = 5;
const EROFS: i32 = 30;

/// Item 4: a write that fails (disk full) must not leave the older entry readable: the newer
/// value is what every later read returns, in this process and in the next one.
#[test]
fn a_failed_write_never_leaves_the_older_value_readable() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let files: FileCache<String> = FileCache::builder(dir.path().join("files")).build();
    let sled: SledCache<String> = SledCache::builder(dir.path().join("sled"), "t").build();
    files.insert("k", &"v1".to_string());
    sled.insert("k", &"v1".to_string());
    fault::inject(Op::Write, dir.path(), ENOSPC, u32::MAX);
    files.insert("k", &"v2".to_string());
    sled.insert("k", &"v2".to_string());
    fault::clear();
    assert_eq!(files.get("k").as_deref(), Some("v2"));
    assert_eq!(sled.get("k").as_deref(), Some("v2"));
    assert!(files.stats().errors >= 1 && sled.stats().errors >= 1);
    // The disk no longer holds v1: another reader of the folder (a new process) misses.
    let other: FileCache<String> = FileCache::builder(dir.path().join("files")).build();
    assert_eq!(other.get("k"), None, "the stale v1 was removed from disk");
    // Once the disk works again, new writes go to disk and win over the memory copy.
    files.insert("k", &"v3".to_string());
    assert_eq!(files.get("k").as_deref(), Some("v3"));
    assert_eq!(other.get("k").as_deref(), Some("v3"));
}

/// Item 4: if even removing the older entry fails, the cache stops reading the disk rather
/// than risk returning it.
#[test]
fn when_the_old_entry_cannot_be_removed_the_disk_is_not_read() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let files: FileCache<String> = FileCache::builder(dir.path()).maxsize(1).build();
    files.insert("k", &"v1".to_string());
    fault::inject(Op::Write, dir.path(), EIO, u32::MAX);
    fault::inject(Op::Remove, dir.path(), EIO, u32::MAX);
    files.insert("k", &"v2".to_string());
    files.insert("other", &"x".to_string()); // evicts "k" from the 1-entry memory fallback
    fault::clear();
    assert_ne!(
        files.get("k").as_deref(),
        Some("v1"),
        "the stale v1 came back"
    );
    assert!(files.is_fallback());
}

/// Item 9: opening a database that fails for reasons other than corruption leaves it where
/// it is (nothing moved aside) and works from memory; the next open uses it again.
#[test]
fn open_errors_that_are_not_corruption_leave_the_database_alone() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (errno, folder) in [(ENOSPC, "enospc"), (EIO, "eio"), (EROFS, "erofs")] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(folder);
        // A database with an entry, written by a child (sled allows one opener per process,
        // and this process will keep its failed open).
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_cache_helper"))
            .args(["square", "6"])
            .env("TWAT_CACHE_DIR", dir.path())
            .output()
            .unwrap();
        assert!(status.status.success());
        std::fs::rename(dir.path().join("math"), &db).unwrap();
        fault::inject(Op::Open, &db, errno, 1);
        let cache: SledCache<u64> = SledCache::builder(&db, "x").build();
        fault::clear();
        assert!(cache.is_fallback(), "errno {errno}: memory fallback");
        assert_eq!(cache.get_or_insert_with(&1u8, || 1), 1);
        let aside: Vec<_> = std::fs::read_dir(&db)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("db.corrupt"))
            .collect();
        assert!(
            aside.is_empty(),
            "errno {errno}: the database was moved aside as corrupt"
        );
        assert!(
            db.join("db").is_dir(),
            "errno {errno}: the database is where it was"
        );
    }
}

/// A storage that had to be given up is used again after the backoff; a removal and a clear
/// made while it was away are applied to it first, so neither stale entry comes back.
#[test]
fn removals_and_clears_made_while_the_disk_was_away_are_applied_on_return() {
    use std::time::Duration;
    use twat_cache::Clock;

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let files: FileCache<String> = FileCache::builder(dir.path().join("files"))
        .clock(clock.clone())
        .build();
    let reader = || FileCache::<String>::builder(dir.path().join("files")).build();
    for k in ["a", "b", "c"] {
        files.insert(k, &format!("{k}1"));
    }
    // A write that fails, and whose stale entry cannot be removed either: the disk goes away.
    fault::inject(Op::Write, dir.path(), EIO, u32::MAX);
    fault::inject(Op::Remove, dir.path(), EIO, u32::MAX);
    files.insert("a", &"a2".to_string());
    fault::clear();
    assert!(files.is_fallback());
    assert_eq!(files.get("a").as_deref(), Some("a2"), "served from memory");
    // While away: "b" is removed. The disk still holds b1 (and a1).
    assert!(!files.remove("b") || files.get("b").is_none());
    assert_eq!(
        reader().get("b").as_deref(),
        Some("b1"),
        "the disk missed the removal"
    );

    // After the backoff the disk is used again, with what it missed applied first.
    clock.advance(Duration::from_secs(2));
    files.insert("d", &"d1".to_string());
    assert_eq!(
        reader().get("d").as_deref(),
        Some("d1"),
        "written to disk again"
    );
    assert_eq!(files.get("b"), None, "the removal reached the disk");
    assert_eq!(reader().get("b"), None);
    assert_eq!(
        reader().get("a"),
        None,
        "a1 (overwritten while away) is gone too"
    );
    assert_eq!(
        files.get("a"),
        None,
        "a2 went with the memory fallback, emptied on return (the disk is the truth again)"
    );

    // A clear while away empties the disk when it returns.
    fault::inject(Op::Write, dir.path(), EIO, u32::MAX);
    fault::inject(Op::Remove, dir.path(), EIO, u32::MAX);
    files.insert("c", &"c2".to_string());
    fault::clear();
    files.core().clear();
    assert_eq!(
        reader().get("d").as_deref(),
        Some("d1"),
        "the disk missed the clear"
    );
    clock.advance(Duration::from_secs(10));
    files.insert("e", &"e1".to_string());
    assert_eq!(reader().get("d"), None, "the clear reached the disk");
    assert_eq!(reader().get("c"), None);
    assert_eq!(reader().get("e").as_deref(), Some("e1"));
}

/// Found by the reliability suite: an invalidation whose removal fails (or whose check of the
/// stored entry cannot read it) must not leave the old value readable — the storage is left
/// until the removal is applied, for sled and files alike.
#[test]
fn an_invalidation_whose_removal_fails_never_lets_the_old_value_back() {
    use std::time::Duration;
    use twat_cache::Clock;

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for op in [Op::Remove, Op::Read] {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual();
        let files: FileCache<String> = FileCache::builder(dir.path().join("files"))
            .clock(clock.clone())
            .build();
        let sled: SledCache<String> = SledCache::builder(dir.path().join("sled"), "t")
            .clock(clock.clone())
            .build();
        files.insert("k", &"old".to_string());
        sled.insert("k", &"old".to_string());
        fault::inject(op, dir.path(), EIO, 2);
        files.remove("k");
        sled.remove("k");
        fault::clear();
        assert_eq!(
            files.get("k"),
            None,
            "{op:?}: the old value came back (files)"
        );
        assert_eq!(
            sled.get("k"),
            None,
            "{op:?}: the old value came back (sled)"
        );
        // After the backoff the removal reaches the storage, and it is used again.
        clock.advance(Duration::from_secs(2));
        assert_eq!(files.get("k"), None);
        assert_eq!(sled.get("k"), None);
        assert!(!files.is_fallback() && !sled.is_fallback(), "{op:?}");
        let other: FileCache<String> = FileCache::builder(dir.path().join("files")).build();
        assert_eq!(other.get("k"), None, "{op:?}: removed from the disk too");
    }
}

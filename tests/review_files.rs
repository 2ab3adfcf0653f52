//! Regression tests for the file store's review (issue 23): a removal always wins over a
//! concurrent `refresh` renewal (item 2), the computation locks' directory comes back after
//! `twat-cache clear` removed it (item 15), a renewal never rewrites the payload (item 19), and
//! `clear()` reads entry headers, not whole entries.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use twat_cache::disk::{Backend, EntryId, FileLocation, FileStore, LockOutcome};
use twat_cache::fault::{self, Fault, Op};
use twat_cache::{Clock, FileCache};
use twat_cache_tests::entry_files;

/// Tests that arm faults or count them run one at a time (`fault::clear` and `fault::fired`
/// are process-wide).
static FAULTS: Mutex<()> = Mutex::new(());

fn faults() -> std::sync::MutexGuard<'static, ()> {
    FAULTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// This thread's I/O counters (`rchar`, `wchar`: bytes passed to read/write calls), so that a
/// test counts only its own reads and writes while other tests run.
fn thread_io() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/io").expect("Linux per-thread I/O");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().parse::<u64>().unwrap())
            .unwrap()
    };
    (field("rchar:"), field("wchar:"))
}

fn sliding_cache<V: serde::Serialize + serde::de::DeserializeOwned + 'static>(
    dir: &Path,
    clock: &Clock,
) -> FileCache<V> {
    FileCache::builder(dir)
        .ttl(Duration::from_secs(60))
        .refresh(true)
        .clock(clock.clone())
        .build()
}

#[cfg(unix)]
fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

// Item 2 ---------------------------------------------------------------------------------------

/// A removal that lands while a hit is renewing the entry is not undone by the renewal: the
/// renewal's write is held up for 400 ms (the next rename and the next write under the cache,
/// whichever the renewal does), the removal happens meanwhile and reports the entry, and the
/// entry stays gone.
#[test]
fn a_removal_during_a_refresh_renewal_stays_removed() {
    let _serial = faults();
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache = Arc::new(sliding_cache::<u64>(dir.path(), &clock));
    cache.insert("k", &7);
    clock.advance(Duration::from_secs(10)); // a hit now renews the entry
    let fired = fault::fired();
    let delay = Fault::Delay(Duration::from_millis(400));
    fault::inject_fault(Op::Rename, dir.path(), delay, 1);
    fault::inject_fault(Op::Write, dir.path(), delay, 1);
    let reader = {
        let cache = Arc::clone(&cache);
        std::thread::spawn(move || cache.get("k"))
    };
    // Wait until the renewal is inside its delayed write (its compare is done), at most 10 s.
    let start = std::time::Instant::now();
    while fault::fired() == fired && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(fault::fired() > fired, "the renewal never wrote");
    std::thread::sleep(Duration::from_millis(150 - 1));
    assert!(cache.remove("k"), "the entry was there to remove");
    assert_eq!(reader.join().unwrap(), Some(7), "the reader's hit");
    fault::clear();
    assert_eq!(cache.get("k"), None, "the renewal undid the removal");
    assert!(entry_files(dir.path()).is_empty());
}

/// The same race without injected faults, many times: a removal concurrent with a renewing hit
/// always wins.
#[test]
fn removals_racing_renewals_are_never_undone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache = Arc::new(sliding_cache::<Vec<u64>>(dir.path(), &clock));
    let value: Vec<u64> = (0..4096).collect();
    let rounds = 300;
    let mut resurrected = 0;
    for round in 0..rounds {
        cache.insert(&round, &value);
        clock.advance(Duration::from_secs(10));
        let barrier = Arc::new(Barrier::new(2));
        let reader = {
            let (cache, barrier) = (Arc::clone(&cache), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                cache.get(&round).is_some()
            })
        };
        barrier.wait();
        // Give the reader a head start of a few reads, so the removal lands at varied points
        // of its hit.
        for _ in 0..(round % 8) {
            std::hint::black_box(std::fs::metadata(dir.path()).ok());
        }
        assert!(cache.remove(&round), "round {round}: the entry was there");
        reader.join().unwrap();
        if cache.get(&round).is_some() {
            resurrected += 1;
        }
    }
    assert_eq!(
        resurrected, 0,
        "{resurrected} of {rounds} removals were undone by a concurrent renewal"
    );
}

// Item 19 --------------------------------------------------------------------------------------

/// 20 renewing hits of a 16 MiB entry write a few bytes each, never the payload: the entry
/// keeps its file (no new file renamed over it) and its deadline still slides (the hits span
/// 100 s of a 60 s TTL).
#[test]
fn refresh_hits_renew_without_rewriting_a_large_entry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache = sliding_cache::<Vec<u8>>(dir.path(), &clock);
    let value = vec![0xa5u8; 16 << 20];
    cache.insert("big", &value);
    let file = entry_files(dir.path()).pop().unwrap();
    let before = inode(&file);
    let (_, written) = thread_io();
    for hit in 0..20 {
        clock.advance(Duration::from_secs(5)); // each hit renews: 100 s in all
        assert_eq!(cache.get("big").as_ref(), Some(&value), "hit {hit}");
    }
    let written = thread_io().1 - written;
    assert!(
        written < 64 << 10,
        "20 renewing hits wrote {written} bytes (the entry is 16 MiB)"
    );
    assert_eq!(inode(&file), before, "the entry file was rewritten");
    clock.advance(Duration::from_secs(61));
    assert_eq!(cache.get("big"), None, "idle past the TTL");
}

/// Hits closer together than the renewal resolution write nothing at all.
#[test]
fn frequent_refresh_hits_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache = sliding_cache::<Vec<u8>>(dir.path(), &clock);
    cache.insert("k", &vec![1u8; 1 << 20]);
    let (_, written) = thread_io();
    for _ in 0..100 {
        clock.advance(Duration::from_millis(10));
        assert!(cache.get("k").is_some());
    }
    assert_eq!(
        thread_io().1 - written,
        0,
        "bytes written by 100 hits in 1 s"
    );
}

/// A renewal cut short (a torn write of its few bytes, as a crash would leave it) reads as a
/// miss, or as the entry before or after the renewal: never with a deadline nobody wrote.
#[test]
fn a_torn_renewal_reads_as_the_old_deadline_or_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache = sliding_cache::<u64>(dir.path(), &clock);
    cache.insert("k", &41);
    let file = entry_files(dir.path()).pop().unwrap();
    let written = std::fs::read(&file).unwrap();
    clock.advance(Duration::from_secs(10));
    assert_eq!(cache.get("k"), Some(41)); // renewed in place
    let renewed = std::fs::read(&file).unwrap();
    assert_eq!(renewed.len(), written.len());
    let changed: Vec<usize> = (0..written.len())
        .filter(|&i| written[i] != renewed[i])
        .collect();
    assert!(!changed.is_empty() && changed.len() <= 20, "{changed:?}");
    // A fresh view of the cache whose clock reads `after` past the renewal.
    let view_at = |after: Duration| -> FileCache<u64> {
        let at = Clock::manual();
        at.advance(Duration::from_nanos(clock.unix_nanos() - at.unix_nanos()) + after);
        sliding_cache(dir.path(), &at)
    };
    // Every prefix of the renewal's bytes, as a torn write leaves them.
    for cut in 0..=changed.len() {
        let mut torn = written.clone();
        for &i in &changed[..cut] {
            torn[i] = renewed[i];
        }
        std::fs::write(&file, &torn).unwrap();
        // 55 s after the renewal, 65 s after the write: alive only if the renewal counts.
        let seen = view_at(Duration::from_secs(55)).get("k");
        assert!(matches!(seen, None | Some(41)), "cut at {cut}: {seen:?}");
        if cut == changed.len() {
            assert_eq!(seen, Some(41), "the whole renewal counts");
        }
        std::fs::write(&file, &torn).unwrap();
        // Past the renewal's deadline too: nothing may keep it alive.
        let late = view_at(Duration::from_secs(61)).get("k");
        assert_eq!(late, None, "cut at {cut}: alive past every deadline");
    }
}

/// A renewal whose write fails half-way (an injected short write: a full disk, a crash) leaves
/// a torn renewal, which the next read treats as damage: a miss, the file removed, and the
/// value computed again; never a wrong value or deadline.
#[test]
fn a_renewal_cut_short_by_a_failed_write_is_a_miss() {
    let _serial = faults();
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache = sliding_cache::<u64>(dir.path(), &clock);
    cache.insert("k", &5);
    clock.advance(Duration::from_secs(10));
    const ENOSPC: i32 = 28;
    fault::inject_fault(Op::Write, dir.path(), Fault::ShortWrite(ENOSPC), 1);
    assert_eq!(cache.get("k"), Some(5), "the hit itself");
    fault::clear();
    assert!(cache.stats().errors >= 1, "the failed renewal is counted");
    assert_eq!(cache.get("k"), None, "a torn renewal is damage");
    assert!(
        entry_files(dir.path()).is_empty(),
        "and the damaged entry is removed"
    );
    assert_eq!(cache.get_or_insert_with("k", || 6), 6);
    assert_eq!(cache.get("k"), Some(6));
}

// Item 15 --------------------------------------------------------------------------------------

fn lock_file(entries: &Path, id: &EntryId) -> PathBuf {
    let hex: String = id[..2].iter().map(|b| format!("{b:02x}")).collect();
    entries.join(".locks").join(format!("{hex}.lock"))
}

/// After `twat-cache clear` (or `prune`) removed the computation locks' directory under a
/// running process, that process takes real cross-process locks again: the lock file exists
/// and is held (another open file description, as another process has, cannot lock it).
#[test]
fn computation_locks_come_back_after_their_directory_was_removed() {
    let dir = tempfile::tempdir().unwrap();
    let entries = dir.path().join("fn").join("0123456789abcdef");
    let store = FileStore::open(&FileLocation {
        folder: dir.path().to_path_buf(),
        entries: entries.clone(),
        durable: false,
    })
    .unwrap();
    let id: EntryId = [7; 32];
    let held = |store: &FileStore| match store.lock_entry(&id, Duration::ZERO) {
        LockOutcome::Acquired { lock, .. } => Some(lock),
        LockOutcome::TimedOut => None,
    };
    let lock = held(&store).expect("the first lock");
    drop(lock);
    std::fs::remove_dir_all(entries.join(".locks")).unwrap();
    let lock = held(&store).expect("a lock after `.locks` was removed");
    let path = lock_file(&entries, &id);
    assert!(path.exists(), "{} was not recreated", path.display());
    let other = std::fs::File::open(&path).unwrap();
    assert!(
        matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        "the lock file is not locked"
    );
    drop(lock);
    assert!(other.try_lock().is_ok(), "released on drop");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(entries.join(".locks"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "recreated private");
    }
}

/// Every directory named `name` below `dir`.
fn dirs_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() && !p.is_symlink() {
            if p.file_name().is_some_and(|n| n == name) {
                found.push(p.clone());
            }
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
    found
}

/// The same across real processes: two processes that are running when the lock directory is
/// removed (as `twat-cache clear` does) then miss one key at once, and compute it once.
#[test]
fn processes_still_compute_a_key_once_after_the_lock_directory_was_removed() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let root = tempfile::tempdir().unwrap();
    let trigger = root.path().join("go");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_cache_helper"))
                .args(["fslow_after", trigger.to_str().unwrap(), "31", "32"])
                .env("TWAT_CACHE_DIR", root.path())
                .env_remove("TWAT_CACHE_DISABLE")
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let ready = ready_tx.clone();
            let reader = std::thread::spawn(move || {
                let mut lines = Vec::new();
                for line in BufReader::new(stdout).lines() {
                    let line = line.unwrap();
                    if line == "ready" {
                        let _ = ready.send(());
                    }
                    lines.push(line);
                }
                lines
            });
            (child, reader)
        })
        .collect();
    for _ in 0..2 {
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("both helpers ready");
    }
    // Both processes hold an open store whose lock directory they created; remove it.
    let locks = dirs_named(root.path(), ".locks");
    assert!(!locks.is_empty(), "no lock directory was created");
    for dir in &locks {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::write(&trigger, b"").unwrap();
    let mut runs = 0;
    for (mut child, reader) in children {
        assert!(child.wait().unwrap().success());
        let report = twat_cache_tests::Report::parse(reader.join().unwrap());
        assert_eq!(report.wrong, 0);
        runs += report.runs;
    }
    assert_eq!(
        runs, 2,
        "key 31 once before the removal, key 32 once after it, across both processes"
    );
}

// Suspected: clear() reads every entry whole -----------------------------------------------------

/// `clear()` tells this namespace's entries by their headers: it does not read a 32 MiB entry.
#[test]
fn clear_reads_headers_not_whole_entries() {
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<Vec<u8>> = FileCache::builder(dir.path()).build();
    cache.insert("big", &vec![3u8; 32 << 20]);
    for k in 0..20u32 {
        cache.insert(&k, &vec![1u8; 100]);
    }
    let (read, _) = thread_io();
    cache.clear();
    let read = thread_io().0 - read;
    assert!(read < 1 << 20, "clear() read {read} bytes");
    assert!(entry_files(dir.path()).is_empty());
    assert_eq!(cache.get("big"), None);
    assert_eq!(cache.len(), 0);
}

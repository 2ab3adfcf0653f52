//! Regression tests, in one process, for the disk-cache review: generic key types, invalidation
//! during a computation, zero-argument functions, stale namespaces and bounds, single-flight
//! inside rayon and for uncacheable results, hostile entry files and directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use twat_cache::disk::{Backend, EntryId, FileLocation, FileStore, SledStore, StoreError};
use twat_cache::{FileCache, bcache, fcache, mcache};
use twat_cache_tests::{Calls, entry_files, isolated_cache_root};

/// Runs `f` on another thread; fails the test if it does not finish in 20 s (a hang).
fn within_20s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).ok());
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not finish: it hangs"))
}

// Item 3 ---------------------------------------------------------------------------------------

#[fcache(folder = "review-generic", key = n)]
fn type_of<T: serde::Serialize + Copy + Send + Sync + 'static>(n: T) -> String {
    let _ = n;
    std::any::type_name::<T>().to_string()
}

#[bcache(folder = "review-bgeneric", key = n)]
fn btype_of<T: serde::Serialize + Copy + Send + Sync + 'static>(n: T) -> String {
    let _ = n;
    std::any::type_name::<T>().to_string()
}

#[test]
fn generic_instantiations_with_equal_bytes_never_share_entries() {
    isolated_cache_root();
    assert_eq!(type_of(5u8), "u8");
    assert_eq!(type_of(5u32), "u32", "5u8 and 5u32 are different keys");
    assert_eq!(type_of(5i64), "i64");
    assert_eq!(btype_of(5u8), "u8");
    assert_eq!(btype_of(5u32), "u32");
    assert_eq!(type_of(5u8), "u8", "and each is still a hit");
}

// Item 5 ---------------------------------------------------------------------------------------

static SOURCE: AtomicU64 = AtomicU64::new(1);
static GATE: Mutex<()> = Mutex::new(());

/// Set once a computation has read `SOURCE` (so the test changes it only afterwards, however
/// late the leader thread gets scheduled).
static SOURCE_READ: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn read_source_slowly() -> u64 {
    let seen = SOURCE.load(Ordering::SeqCst);
    SOURCE_READ.store(true, Ordering::SeqCst);
    drop(GATE.lock().unwrap()); // blocks while the test holds the gate
    seen
}

#[bcache(folder = "review-inval")]
fn b_source(k: u64) -> u64 {
    read_source_slowly() + k
}

#[fcache(folder = "review-finval")]
fn f_source(k: u64) -> u64 {
    read_source_slowly() + k
}

#[mcache]
fn m_source(k: u64) -> u64 {
    read_source_slowly() + k
}

static INVALIDATION_TEST: Mutex<()> = Mutex::new(());

fn check_invalidation_wins(call: fn(u64) -> u64, invalidate: fn(u64) -> bool) {
    let _serial = INVALIDATION_TEST.lock().unwrap();
    SOURCE.store(1, Ordering::SeqCst);
    let gate = GATE.lock().unwrap();
    SOURCE_READ.store(false, Ordering::SeqCst);
    let leader = std::thread::spawn(move || call(0));
    let waited = std::time::Instant::now();
    while !SOURCE_READ.load(Ordering::SeqCst) {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the leader never read SOURCE"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    SOURCE.store(2, Ordering::SeqCst);
    invalidate(0); // the source changed: whatever is being computed is stale
    drop(gate);
    assert_eq!(
        leader.join().unwrap(),
        1,
        "the leader returns what it computed"
    );
    assert_eq!(
        call(0),
        2,
        "the stale result was not stored over the invalidation"
    );
}

#[test]
fn an_invalidation_during_a_computation_wins() {
    isolated_cache_root();
    check_invalidation_wins(b_source, b_source_invalidate);
    check_invalidation_wins(f_source, f_source_invalidate);
    check_invalidation_wins(m_source, m_source_invalidate);
}

// Item 7 ---------------------------------------------------------------------------------------

static CONFIG_CALLS: Calls = Calls::new();

#[bcache(folder = "review-config")]
fn load_config() -> Vec<String> {
    CONFIG_CALLS.hit();
    vec!["a = 1".into()]
}

#[fcache(folder = "review-fconfig")]
fn fload_config() -> Vec<String> {
    CONFIG_CALLS.hit();
    vec!["a = 1".into()]
}

#[test]
fn zero_argument_functions_have_one_entry() {
    isolated_cache_root();
    for _ in 0..3 {
        load_config();
        fload_config();
    }
    assert_eq!(CONFIG_CALLS.get(), 2);
    assert_eq!(
        (load_config_cache().len(), fload_config_cache().len()),
        (1, 1)
    );
    assert!(fload_config_invalidate());
    fload_config();
    assert_eq!(CONFIG_CALLS.get(), 3);
}

// Item 10 --------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn stale_file_namespaces_are_collected_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let function = dir.path().join("app.f");
    let location = |ns: &str| FileLocation {
        folder: dir.path().to_path_buf(),
        // Named as the layout names namespace directories: only those are ever collected.
        entries: function.join(twat_cache::disk::paths::namespace_dir(ns)),
        durable: false,
    };
    let old: twat_cache::DiskCache<FileStore, u64> =
        twat_cache::DiskCache::builder_at(location("old"))
            .namespace("old")
            .build();
    let recent: twat_cache::DiskCache<FileStore, u64> =
        twat_cache::DiskCache::builder_at(location("recent"))
            .namespace("recent")
            .build();
    for k in 0..20u64 {
        old.insert(&k, &k);
        recent.insert(&k, &k);
    }
    // Nobody has used "old" for two days.
    let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    let ns = |ns: &str| function.join(twat_cache::disk::paths::namespace_dir(ns));
    for path in [ns("old").join(".in-use"), ns("old")] {
        if let Ok(file) = std::fs::File::open(&path) {
            file.set_modified(two_days_ago).unwrap();
        }
    }
    let current: twat_cache::DiskCache<FileStore, u64> =
        twat_cache::DiskCache::builder_at(location("current"))
            .namespace("current")
            .build();
    current.insert(&1u64, &1);
    assert!(!ns("old").exists(), "the stale namespace was deleted");
    assert_eq!(entry_files(&ns("recent")).len(), 20, "a live one is kept");
}

#[test]
fn a_bounded_file_cache_prunes_below_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<u64> = FileCache::builder(dir.path()).maxsize(20).build();
    for k in 0..21u64 {
        cache.insert(&k, &k);
    }
    let left = entry_files(dir.path()).len();
    assert!(
        left <= 18,
        "pruned to a low-water mark (90%), not to exactly 20: {left} left"
    );
}

#[test]
fn the_memory_fallback_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let cache: FileCache<u64> = FileCache::builder(file.join("entries")).build();
    assert!(cache.is_fallback());
    for k in 0..30_000u64 {
        cache.insert(&k, &k);
    }
    assert!(
        cache.len() <= 10_000,
        "an unbounded cache's fallback still has a bound"
    );
}

// Item 11 --------------------------------------------------------------------------------------

/// Inner parallel work: while a leader waits for it, rayon lets the leader's thread steal
/// other tasks, among them calls of the very key it leads.
fn inner_par_sum(k: u64) -> u64 {
    use rayon::prelude::*;
    (0..16u64)
        .into_par_iter()
        .map(|i| {
            std::thread::sleep(Duration::from_millis(1)); // long enough to be stolen
            (i * k) % 7
        })
        .sum()
}

#[fcache(folder = "review-rayon")]
fn f_nested(k: u64) -> Option<u64> {
    let _ = inner_par_sum(k);
    None // never stored: every call is a miss with a flight, many chances to steal
}

#[mcache]
fn m_nested(k: u64) -> Option<u64> {
    let _ = inner_par_sum(k);
    None
}

#[bcache(folder = "review-brayon")]
fn b_nested(k: u64) -> u64 {
    inner_par_sum(k)
}

#[test]
fn nested_par_iter_over_one_key_does_not_deadlock() {
    isolated_cache_root();
    let total = within_20s("nested par_iter", || {
        use rayon::prelude::*;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        pool.install(|| {
            (0..600u64)
                .into_par_iter()
                .map(|i| {
                    let k = i % 3;
                    assert_eq!(f_nested(k), None);
                    assert_eq!(m_nested(k), None);
                    b_nested(k + i % 40)
                })
                .count()
        })
    });
    assert_eq!(total, 600);
}

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn slow_nothing() -> Option<u64> {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    None
}

#[fcache(folder = "review-none")]
fn f_lookup_missing(k: u64) -> Option<u64> {
    let _ = k;
    slow_nothing()
}

#[test]
fn waiters_of_an_uncacheable_result_run_at_once() {
    isolated_cache_root();
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                barrier.wait();
                assert_eq!(f_lookup_missing(9), None);
            });
        }
    });
    // The leader runs alone; after its `None`, the three waiters run together, not in a queue.
    assert!(
        PEAK.load(Ordering::SeqCst) >= 2,
        "waiters ran one by one (peak concurrency {})",
        PEAK.load(Ordering::SeqCst)
    );
}

// Item 12 --------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn a_shard_directory_owned_by_someone_else_is_never_read_or_written() {
    if !twat_cache_tests::can_chown("the foreign shard directory case") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<String> = FileCache::builder(dir.path().join("c")).build();
    cache.insert("k", &"mine".to_string());
    let entry = entry_files(dir.path()).pop().unwrap();
    let shard = entry.parent().unwrap().to_path_buf();
    // Someone else's directory, holding a valid-looking entry, swapped in as the shard.
    let planted = tempfile::tempdir().unwrap();
    std::fs::copy(&entry, planted.path().join(entry.file_name().unwrap())).unwrap();
    twat_cache_tests::chown_to_nobody(planted.path());
    std::fs::remove_dir_all(&shard).unwrap();
    std::os::unix::fs::symlink(planted.path(), &shard).unwrap();
    let fresh: FileCache<String> = FileCache::builder(dir.path().join("c")).build();
    assert_eq!(
        fresh.get("k"),
        None,
        "an entry in a foreign directory is not read"
    );
    assert!(fresh.stats().errors >= 1);
    fresh.insert("k", &"new".to_string());
    assert_eq!(
        fresh.get("k").as_deref(),
        Some("new"),
        "kept in memory instead"
    );
    assert_eq!(
        std::fs::read_dir(planted.path()).unwrap().count(),
        1,
        "nothing written there"
    );
}

#[fcache(folder = "review-dots", name = "..")]
fn dotted(x: u64) -> u64 {
    x
}

#[test]
fn names_cannot_escape_the_folder() {
    isolated_cache_root();
    dotted(1);
    let folder = twat_cache::cache_root().join("review-dots");
    let files = entry_files(&folder);
    assert_eq!(files.len(), 1, "the entry is inside the folder");
    let first = files[0].strip_prefix(&folder).unwrap().components().next();
    assert_eq!(
        first.map(|c| c.as_os_str().to_owned()),
        Some("_..".into()),
        "`..` became a plain directory name"
    );
}

// Item 13 --------------------------------------------------------------------------------------

fn cache_with_one_entry(dir: &Path) -> (FileCache<Vec<u8>>, PathBuf) {
    let cache: FileCache<Vec<u8>> = FileCache::builder(dir.join("c")).build();
    cache.insert("k", &vec![1, 2, 3]);
    let entry = entry_files(dir).pop().unwrap();
    (cache, entry)
}

#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_an_entry_is_a_miss_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, entry) = cache_with_one_entry(dir.path());
    std::fs::remove_file(&entry).unwrap();
    let c = std::ffi::CString::new(entry.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid path; mkfifo has no other preconditions.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let got = within_20s("a read of a FIFO", move || cache.get("k"));
    assert_eq!(got, None);
    assert!(!entry.exists(), "the FIFO was removed");
}

#[cfg(unix)]
#[test]
fn symlinks_and_huge_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, entry) = cache_with_one_entry(dir.path());
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &entry).unwrap();
    let cache = within_20s("a read of a symlink to /dev/zero", move || {
        assert_eq!(cache.get("k"), None);
        cache
    });
    // A sparse 64 GiB file with a valid-looking start: the declared length does not match.
    let _ = std::fs::remove_file(&entry);
    let huge = std::fs::File::create(&entry).unwrap();
    huge.set_len(64 << 30).unwrap();
    drop(huge);
    let got = within_20s("a read of a 64 GiB file", move || cache.get("k"));
    assert_eq!(got, None);
}

// Item 4 (refresh) and item 14 -----------------------------------------------------------------

/// The bytes of a real entry holding `value` for key "k".
fn record_bytes(value: u8) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<u8> = FileCache::builder(dir.path()).build();
    cache.insert("k", &value);
    std::fs::read(entry_files(dir.path()).pop().unwrap()).unwrap()
}

/// A renewal replaces the entry only if it is still the one that was read: a newer write
/// in between is never overwritten.
#[test]
fn a_renewal_never_overwrites_a_newer_write() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let id: EntryId = [7; 32];
    let (first, newer, renewed) = (record_bytes(1), record_bytes(2), record_bytes(3));
    let files = FileStore::open(&FileLocation::new(dir.path().join("files")))?;
    let sled = SledStore::open(&(dir.path().join("sled"), "t".to_string()))?;
    let backends: [&dyn DynStore; 2] = [&files, &sled];
    for store in backends {
        store.put_bytes(&id, &first)?;
        store.put_bytes(&id, &newer)?;
        assert!(
            !store.replace_bytes(&id, &first, &renewed)?,
            "the entry changed since"
        );
        assert_eq!(store.get_bytes(&id)?, newer, "the newer write survives");
        assert!(
            store.replace_bytes(&id, &newer, &renewed)?,
            "unchanged: renewed"
        );
        assert_eq!(store.get_bytes(&id)?, renewed);
    }
    // Item 14: explicit APIs return typed errors.
    let cache: FileCache<u8> = FileCache::builder(dir.path().join("typed")).build();
    let flushed: Result<(), StoreError> = cache.flush();
    flushed
}

/// The backend calls the renewal test uses, object-safe.
trait DynStore {
    fn put_bytes(&self, id: &EntryId, bytes: &[u8]) -> Result<(), StoreError>;
    fn replace_bytes(&self, id: &EntryId, old: &[u8], new: &[u8]) -> Result<bool, StoreError>;
    fn get_bytes(&self, id: &EntryId) -> Result<Vec<u8>, StoreError>;
}

impl<B: Backend> DynStore for B {
    fn put_bytes(&self, id: &EntryId, bytes: &[u8]) -> Result<(), StoreError> {
        self.put(id, bytes).map(|_| ())
    }
    fn replace_bytes(&self, id: &EntryId, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        self.replace(id, old, new)
    }
    fn get_bytes(&self, id: &EntryId) -> Result<Vec<u8>, StoreError> {
        Ok(self
            .get(id, 1 << 20)?
            .map(|b| b.to_vec())
            .unwrap_or_default())
    }
}

// Item 9 ---------------------------------------------------------------------------------------

/// Databases moved aside as corrupt are deleted once older than the grace period.
#[test]
fn moved_aside_databases_are_removed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let grace = twat_cache::disk::CORRUPT_GRACE.as_nanos();
    let old = dir
        .path()
        .join(format!("db.corrupt-{}", now - grace - 1_000_000_000));
    let recent = dir
        .path()
        .join(format!("db.corrupt-{}", now - 1_000_000_000));
    for aside in [&old, &recent] {
        std::fs::create_dir_all(aside.join("blobs")).unwrap();
        std::fs::write(aside.join("conf"), b"damaged").unwrap();
    }
    let cache: twat_cache::SledCache<u8> = twat_cache::SledCache::builder(dir.path(), "t").build();
    assert!(!cache.is_fallback());
    assert!(!old.exists(), "older than the grace period: removed");
    assert!(
        recent.exists(),
        "kept for inspection during the grace period"
    );
}

// Cross-process single-flight must not make a cached recursive function wait on itself -------

#[fcache(folder = "review-ffib")]
fn ffib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        ffib(n - 1).wrapping_add(ffib(n - 2))
    }
}

#[test]
fn a_recursive_file_cached_function_never_waits_on_itself() {
    isolated_cache_root();
    // 3000 keys held at once in one call chain share entry-lock files (one per first two id
    // bytes: a shared one is all but certain), which this process already holds for an outer
    // call; such calls compute without the lock instead of waiting on themselves.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || tx.send(ffib(3000)).ok())
        .unwrap();
    let value = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a recursive #[fcache] fib waited on itself");
    assert_eq!(value, ffib_uncached_iterative(3000));
}

fn ffib_uncached_iterative(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    a
}

/// Found by the reliability suite's decompression bombs: an entry's declared decompressed size
/// bounds what reading it allocates, so it must be within the cache's `max_bytes` — larger is
/// refused before decompressing, and such a value is not stored compressed in the first place.
#[test]
fn compressed_entries_never_expand_beyond_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 4 << 20]; // compresses to a few hundred bytes
    let bounded: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("bounded"))
        .compress(true)
        .max_bytes(1 << 20)
        .build();
    bounded.insert("zeros", &zeros);
    assert_eq!(
        bounded.get("zeros"),
        None,
        "4 MiB uncompressed exceeds the 1 MiB bound"
    );
    assert_eq!(bounded.len(), 0);
    // Written by a cache with a larger bound, read by one with a smaller: refused.
    let roomy: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("shared"))
        .compress(true)
        .max_bytes(64 << 20)
        .build();
    roomy.insert("zeros", &zeros);
    assert_eq!(roomy.get("zeros").map(|v| v.len()), Some(4 << 20));
    let small: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("shared"))
        .compress(true)
        .max_bytes(1 << 20)
        .build();
    assert_eq!(small.get("zeros"), None, "declares 4 MiB: not decompressed");
}

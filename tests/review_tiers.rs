//! Issue 23, the disk cache's tiers and fallbacks: a renewal on the memory fallback must not
//! undo an invalidation (item 3); a `#[ucache]` memory copy with `refresh` never outlives its
//! disk entry (item 4); a sled cache gets its database back once another process lets it go
//! (item 14); recovering a corrupt sled database and listing the root never move, create or
//! keep another process's database.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};
use twat_cache::{Clock, FileCache, SledCache};
use twat_cache_tests::{can_chown, chown_to_nobody};

/// Set while a test wants [`Slow`]'s decoding to stop in the middle.
static HOLD_DECODING: AtomicBool = AtomicBool::new(false);
/// Set by a [`Slow`] decoding that has stopped.
static DECODING: AtomicBool = AtomicBool::new(false);

/// A value whose decoding, while [`HOLD_DECODING`] is set, says so ([`DECODING`]) and waits
/// until it is cleared (at most 10 s): a reader caught between reading an entry and renewing it.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Slow(u64);

impl<'de> Deserialize<'de> for Slow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        if HOLD_DECODING.load(Ordering::SeqCst) {
            DECODING.store(true, Ordering::SeqCst);
            let until = Instant::now() + Duration::from_secs(10);
            while HOLD_DECODING.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(Slow(value))
    }
}

fn wait_for(flag: &AtomicBool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !flag.load(Ordering::SeqCst) {
        assert!(Instant::now() < until, "the reader never started decoding");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Item 3: on the memory fallback (a root owned by someone else), a `refresh` hit that was
/// decoding while the key was removed must not put the entry back.
#[test]
fn a_refresh_on_the_memory_fallback_never_undoes_a_removal() {
    if !can_chown("a_refresh_on_the_memory_fallback_never_undoes_a_removal") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    chown_to_nobody(&root);
    let cache: FileCache<Slow> = FileCache::builder(root.join("files"))
        .trusted_root(&root)
        .ttl(Duration::from_secs(60))
        .refresh(true)
        .build();
    assert!(cache.is_fallback(), "a root owned by 65534 is refused");
    cache.insert("k", &Slow(1));
    assert_eq!(cache.get("k"), Some(Slow(1)), "the fallback caches");
    HOLD_DECODING.store(true, Ordering::SeqCst);
    std::thread::scope(|s| {
        let reader = s.spawn(|| cache.get("k"));
        wait_for(&DECODING);
        assert!(cache.remove("k"), "the entry was there");
        HOLD_DECODING.store(false, Ordering::SeqCst);
        assert_eq!(
            reader.join().unwrap(),
            Some(Slow(1)),
            "read before the removal"
        );
    });
    assert_eq!(cache.get("k"), None, "the removal wins over the renewal");
}

fn start_holder(root: &Path) -> std::process::Child {
    let mut holder = Command::new(env!("CARGO_BIN_EXE_cache_helper"))
        .args(["hold", "120"])
        .env("TWAT_CACHE_DIR", root)
        .env_remove("TWAT_CACHE_DISABLE")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    holder
}

/// Item 14: a sled cache that found its database held by another process tries it again
/// with the file tier's backoff (1 s, doubling), and uses it once that process is gone.
#[test]
fn a_sled_cache_takes_its_database_back_once_another_process_lets_it_go() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("math");
    let mut holder = start_holder(root.path());
    let clock = Clock::manual();
    let cache: SledCache<u64> = SledCache::builder(&folder, "reattach")
        .clock(clock.clone())
        .build();
    assert!(cache.is_fallback(), "the child holds the database");
    cache.insert("before", &1);
    assert_eq!(cache.get("before"), Some(1), "cached in memory meanwhile");
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Four seconds of calls on the cache's clock, one every 250 ms.
    for _ in 0..16 {
        clock.advance(Duration::from_millis(250));
        let _ = cache.get("probe");
    }
    assert!(
        !cache.is_fallback(),
        "after 4 s of calls the cache uses its database again"
    );
    cache.insert("after", &2);
    cache.flush().unwrap();
    // A second cache of the same tree reads the database (not the first one's memory).
    let other: SledCache<u64> = SledCache::builder(&folder, "reattach").build();
    assert!(!other.is_fallback());
    assert_eq!(other.get("after"), Some(2), "written to the sled database");
}

/// Item 4: with `refresh`, memory hits of a hot key (one every 20 ms) never keep its memory
/// copy past the disk entry, and a newer value another process writes reaches this one
/// within a TTL. On a manual clock: the machine's load does not matter.
#[test]
fn a_refreshed_memory_copy_never_outlives_its_disk_entry() {
    use twat_cache::{MemoryCache, Tiered};
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let ttl = Duration::from_millis(600);
    let tiered = Tiered::new(
        MemoryCache::<String, u64>::builder()
            .ttl(ttl)
            .refresh(true)
            .clock(clock.clone())
            .build(),
        FileCache::<u64>::builder(dir.path())
            .ttl(ttl)
            .refresh(true)
            .clock(clock.clone())
            .build(),
    );
    // Another process's view of the same files; without `refresh`, looking renews nothing.
    let other: FileCache<u64> = FileCache::builder(dir.path())
        .ttl(ttl)
        .clock(clock.clone())
        .build();
    assert_eq!(tiered.get_or_insert_with("k", || 1), 1);
    let mut newest = 1;
    for step in 1..=300u64 {
        clock.advance(Duration::from_millis(20));
        let through_memory = tiered.get_or_insert_with("k", || newest);
        if other.get("k").is_none() {
            assert_eq!(
                tiered.get("k"),
                None,
                "step {step}: the disk entry is gone, the memory copy must be too"
            );
        }
        if step == 100 {
            newest = 2;
            other.insert("k", &2);
        }
        if step >= 100 + 30 + 5 {
            assert_eq!(
                through_memory, 2,
                "step {step}: another process's newer value is seen within a TTL"
            );
        }
    }
    assert!(
        tiered.l2_hits() <= 300 / 10,
        "memory hits stay memory hits: {}",
        tiered.l2_hits()
    );
}

/// Writes `square(n)` for `numbers` into `<root>/math/db` from a child process (which exits).
fn child_squares(root: &Path, numbers: &[&str]) -> twat_cache_tests::Report {
    let mut args = vec!["square"];
    args.extend_from_slice(numbers);
    twat_cache_tests::run_helper(env!("CARGO_BIN_EXE_cache_helper"), root, &args, &[])
}

/// Makes the database in `folder` one sled refuses as corrupt (a garbage configuration).
fn corrupt(folder: &Path) {
    std::fs::write(
        folder.join("db").join("conf"),
        b"this is not a sled configuration at all\n",
    )
    .unwrap();
}

fn moved_aside(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("db.corrupt-"))
        .collect();
    names.sort();
    names
}

/// Suspected (a): two processes that both found a database corrupt. The first to move it
/// aside starts a fresh one; the second must not move that fresh one aside too.
#[test]
fn two_processes_recovering_one_corrupt_database_move_it_aside_once() {
    use twat_cache::fault::{self, Fault, Op};
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("math");
    child_squares(root.path(), &["1"]);
    corrupt(&folder);
    // This process finds the database corrupt and stops just before moving it aside…
    let fired = fault::fired();
    fault::inject_fault(Op::Rename, &folder, Fault::Delay(Duration::from_secs(3)), 1);
    let opening = {
        let folder = folder.clone();
        std::thread::spawn(move || SledCache::<u64>::builder(&folder, "t").build())
    };
    let until = Instant::now() + Duration::from_secs(60);
    while fault::fired() == fired {
        assert!(Instant::now() < until, "the open never reached the move");
        std::thread::sleep(Duration::from_millis(2));
    }
    // …while another process finds it corrupt too, recovers it, writes and exits.
    child_squares(root.path(), &["5"]);
    let cache = opening.join().unwrap();
    assert_eq!(
        moved_aside(&folder).len(),
        1,
        "one corrupt database, moved aside once: {:?}",
        moved_aside(&folder)
    );
    if !cache.is_fallback() {
        cache.insert("mine", &7);
        cache.flush().unwrap();
        let again: SledCache<u64> = SledCache::builder(&folder, "t").build();
        assert_eq!(again.get("mine"), Some(7));
    }
}

/// Every path below `dir` (names only: what was moved, created or deleted).
fn tree(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
        found.push(p);
    }
    found.sort();
    found
}

/// Suspected (b): listing a root never changes a sled database — no corrupt one moved aside
/// (or recreated), no old moved-aside copy deleted — and does not keep one open: a process
/// can use it right after, and one a running process holds is reported in use.
#[test]
fn listing_the_root_never_moves_creates_or_keeps_a_sled_database() {
    use twat_cache::disk::inspect::{self, CacheState};
    let root = tempfile::tempdir().unwrap();
    let math = root.path().join("math");
    child_squares(root.path(), &["3"]);
    let old_copy = math.join("db.corrupt-1000");
    std::fs::create_dir(&old_copy).unwrap();
    let other = tempfile::tempdir().unwrap();
    child_squares(other.path(), &["4"]);
    let broken = root.path().join("broken");
    std::fs::rename(other.path().join("math"), &broken).unwrap();
    corrupt(&broken);
    let broken_conf = std::fs::read(broken.join("db").join("conf")).unwrap();
    let before = tree(root.path());

    let caches = inspect::scan_root(root.path()).unwrap();
    let state_of = |caches: &[inspect::CacheReport], folder: &str| {
        caches
            .iter()
            .filter(|c| c.folder == folder)
            .map(|c| c.state.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        matches!(state_of(&caches, "broken")[..], [CacheState::Unreadable(_)]),
        "the corrupt database is reported unreadable, as it is: {:?}",
        state_of(&caches, "broken")
    );
    assert!(state_of(&caches, "math").contains(&CacheState::Ok));
    assert_eq!(
        tree(root.path()),
        before,
        "listing moved, created or deleted something"
    );
    assert_eq!(
        std::fs::read(broken.join("db").join("conf")).unwrap(),
        broken_conf
    );
    // Nothing is kept open: another process uses the database at once.
    let next = child_squares(root.path(), &["3"]);
    assert_eq!((next.runs, next.errors), (0, 0), "a hit from the database");
    // A database a running process holds is reported in use.
    let mut holder = start_holder(root.path());
    let caches = inspect::scan_root(root.path()).unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(state_of(&caches, "math"), [CacheState::InUse]);
}

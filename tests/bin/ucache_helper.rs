//! A child process for the `#[ucache]` tests: runs cached functions as told on the command line
//! and reports what happened, one `name value…` line at a time.
//!
//! `ucache_helper [advance SECS] COMMAND ARGS…`, with `TWAT_CACHE_DIR` set by the test:
//! - `get N…`: `profile(n)` for each n (memory tier of 2 entries).
//! - `exchange MINE THEIRS DIR`: `profile(MINE)`, then creates `DIR/done-MINE`, waits for
//!   `DIR/done-THEIRS` (another process doing the same) and calls `profile(THEIRS)`.
//! - `slow N`: a body that takes 300 ms (for cross-process single-flight).
//! - `ttl_walk N SECS`: `hourly(n)` (one-hour TTL), moves the clock SECS forward, calls again.
//! - `restore FLAG N`: `profile(N)` with the disk tier unusable; prints `fallback E` (errors);
//!   waits for the file FLAG; then calls `profile(N + k)` for k = 1, 2, … every 100 ms until
//!   an entry file exists (at most 20 s) and prints `disk_len L` (entry files) and `last K`
//!   (the last id computed, which is on disk).
//!
//! Every command ends with `tier memory H L`, `tier disk H L` (hits and entries of each tier),
//! `runs R` (body executions), `wrong W` (values that were not what the body computes) and
//! `stats hits misses errors len bytes` of the cache used.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use twat_cache::{CacheHandle, Clock, Tier, ucache};

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn ran() {
    RUNS.fetch_add(1, Ordering::SeqCst);
}

#[ucache(folder = "users", maxsize = 2, version = "1")]
fn profile(id: u64) -> String {
    ran();
    format!("profile of {id}")
}

#[ucache(folder = "slow", version = "1")]
fn slow(n: u64) -> u64 {
    ran();
    std::thread::sleep(Duration::from_millis(300));
    n * 2
}

#[ucache(folder = "hourly", ttl = "1h", version = "1")]
fn hourly(n: u64) -> u64 {
    ran();
    n + 1000
}

fn wait_for(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let args = twat_cache_tests::helper_args();
    let command = args.first().cloned().unwrap_or_default();
    let number = |i: usize| -> u64 { args[i].parse().expect("a number") };
    let mut wrong = 0;
    let mut out = std::io::stdout().lock();
    let mut check = |ok: bool| wrong += usize::from(!ok);
    let handle: &CacheHandle = match command.as_str() {
        "get" => {
            for n in args[1..].iter().map(|a| a.parse::<u64>().unwrap()) {
                check(profile(n) == format!("profile of {n}"));
            }
            profile_cache()
        }
        "exchange" => {
            let (mine, theirs, dir) = (number(1), number(2), Path::new(&args[3]));
            check(profile(mine) == format!("profile of {mine}"));
            std::fs::write(dir.join(format!("done-{mine}")), b"").unwrap();
            wait_for(&dir.join(format!("done-{theirs}")), Duration::from_secs(30));
            check(profile(theirs) == format!("profile of {theirs}"));
            profile_cache()
        }
        "slow" => {
            check(slow(number(1)) == number(1) * 2);
            slow_cache()
        }
        "ttl_walk" => {
            let n = number(1);
            check(hourly(n) == n + 1000);
            Clock::advance_system(Duration::from_secs(number(2)));
            check(hourly(n) == n + 1000);
            hourly_cache()
        }
        "restore" => {
            let n = number(2);
            check(profile(n) == format!("profile of {n}"));
            check(profile(n) == format!("profile of {n}"));
            writeln!(out, "fallback {}", profile_cache().stats().errors).unwrap();
            out.flush().unwrap();
            wait_for(Path::new(&args[1]), Duration::from_secs(30));
            let start = Instant::now();
            let mut k = 1;
            let root = twat_cache::cache_root();
            while twat_cache_tests::entry_files(&root).is_empty()
                && start.elapsed() < Duration::from_secs(20)
            {
                check(profile(n + k) == format!("profile of {}", n + k));
                k += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            let on_disk = twat_cache_tests::entry_files(&root).len();
            writeln!(out, "disk_len {on_disk}").unwrap();
            writeln!(out, "last {}", n + k - 1).unwrap();
            profile_cache()
        }
        other => panic!("unknown command {other:?}"),
    };
    for tier in handle.tiers() {
        let name = match tier.tier {
            Tier::Memory => "memory",
            Tier::Disk => "disk",
        };
        writeln!(out, "tier {name} {} {}", tier.stats.hits, tier.stats.len).unwrap();
    }
    let s = handle.stats();
    writeln!(out, "runs {}", RUNS.load(Ordering::SeqCst)).unwrap();
    writeln!(out, "wrong {wrong}").unwrap();
    writeln!(
        out,
        "stats {} {} {} {} {}",
        s.hits, s.misses, s.errors, s.len, s.bytes
    )
    .unwrap();
}

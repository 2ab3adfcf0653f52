//! A child process for the Redis tier tests: runs `#[ucache(backend = "redis")]` functions as
//! told and reports, one `name value…` line at a time. `TWAT_CACHE_REDIS_URL` and
//! `TWAT_CACHE_DIR` are set by the test.
//!
//! - `get N…`: `weather(n)` for each n (memory tier of 2 entries, so Redis serves the rest).
//! - `slow N`: a body that takes 300 ms (for single-flight across processes).
//! - `hot MILLIS`: 2 threads call `hot()` (1 s TTL, `early_refresh`, a 10 ms body) for that
//!   long; also prints `expirations E` (both tiers) and `calls C`.
//!
//! Every command ends with `runs R` (body executions), `wrong W` (values that were not what the
//! body computes), `tier memory H L`, `tier disk H L` and `stats hits misses errors len`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use twat_cache::{CacheHandle, Tier, ucache};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[ucache(folder = "redis-tests", maxsize = 2, version = "1", backend = "redis")]
fn weather(city: u64) -> String {
    RUNS.fetch_add(1, Ordering::SeqCst);
    format!("forecast for {city}")
}

#[ucache(folder = "redis-tests", version = "1", backend = "redis")]
fn slow(n: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    n * 2
}

#[ucache(
    folder = "redis-tests",
    ttl = "1s",
    early_refresh = true,
    backend = "redis"
)]
fn hot() -> (u32, usize) {
    let run = RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    std::thread::sleep(Duration::from_millis(10));
    (std::process::id(), run)
}

/// `hot MILLIS` (see the module docs).
fn hammer_hot(millis: u64) {
    let deadline = std::time::Instant::now() + Duration::from_millis(millis);
    let calls = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while std::time::Instant::now() < deadline {
                    hot();
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let cache = hot_cache();
    let expirations: u64 = [Tier::Memory, Tier::Disk]
        .into_iter()
        .map(|t| cache.tier(t).unwrap_or_default().expirations)
        .sum();
    println!("expirations {expirations}");
    println!("calls {}", calls.load(Ordering::Relaxed));
    report(cache, 0);
}

fn report(cache: &'static CacheHandle, wrong: usize) {
    println!("runs {}", RUNS.load(Ordering::SeqCst));
    println!("wrong {wrong}");
    for (name, tier) in [("memory", Tier::Memory), ("disk", Tier::Disk)] {
        let t = cache.tier(tier).unwrap_or_default();
        println!("tier {name} {} {}", t.hits, t.len);
    }
    let s = cache.stats();
    println!("stats {} {} {} {}", s.hits, s.misses, s.errors, s.len);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers = || {
        args[1..]
            .iter()
            .map(|a| a.parse::<u64>().expect("a number"))
    };
    match args.first().map(String::as_str) {
        Some("get") => {
            let wrong = numbers()
                .filter(|&n| weather(n) != format!("forecast for {n}"))
                .count();
            report(weather_cache(), wrong);
        }
        Some("slow") => {
            let wrong = numbers().filter(|&n| slow(n) != n * 2).count();
            report(slow_cache(), wrong);
        }
        Some("hot") => hammer_hot(numbers().next().expect("milliseconds")),
        other => panic!("unknown command {other:?}"),
    }
}

//! Fault injection: every storage call of an engine (writes, publishes, reads, removals, opens,
//! Redis commands) fails at random — `ENOSPC`, `EIO`, `EACCES`, `EMFILE`, short writes, slow
//! calls — while threads call, invalidate and clear. Every call must return the right value
//! (after an invalidation, the recomputed one: a stale value is wrong), the cache must count the
//! errors, and once the faults clear it must use its storage again.
//!
//! Each thread owns its keys and keeps a version per key: the true value of key `k` is
//! `value(k, version)`, and an invalidation bumps the version, so an old entry read back after
//! its invalidation shows as a wrong value.

use std::path::Path;
use std::time::{Duration, Instant};

use twat_cache::fault::{self, Fault, Op};
use twat_cache::{Clock, Engine, FileCache, Found, MemoryCache, SledCache, Tiered, Vacancy};

use crate::figures::{Figures, Tally};
use crate::rng::Rng;

const THREADS: u64 = 2;
const KEYS_PER_THREAD: u64 = 32;

/// The true value of key `k` at `version`.
fn value(k: u64, version: u32) -> String {
    format!("{k}:{version}:").repeat((k % 5 + 1) as usize)
}

/// The faults armed on every operation under `under`, each firing with probability `p`.
fn arm(under: &Path, p: f64, seed: u64) {
    const ENOSPC: i32 = 28;
    const EIO: i32 = 5;
    const EACCES: i32 = 13;
    const EMFILE: i32 = 24;
    let faults = [
        Fault::Error(ENOSPC),
        Fault::Error(EIO),
        Fault::Error(EACCES),
        Fault::Error(EMFILE),
        Fault::ShortWrite(EIO),
        Fault::Delay(Duration::from_millis(2)),
    ];
    let mut rng = Rng::new(seed);
    for op in [
        Op::Write,
        Op::Rename,
        Op::Read,
        Op::Remove,
        Op::Open,
        Op::Redis,
    ] {
        let fault = faults[rng.below(faults.len() as u64) as usize];
        fault::inject_random(op, under, fault, p, rng.next_u64());
    }
}

/// A cache under test, as the suite drives it.
trait Subject: Sync {
    fn call(&self, k: u64, make: &dyn Fn() -> String) -> String;
    fn invalidate(&self, k: u64);
    fn clear(&self);
    fn errors(&self) -> u64;
    /// Whether it works from its fallback rather than its storage.
    fn is_fallback(&self) -> bool;
}

fn call_engine<E: Engine<u64, Value = String>>(
    engine: &E,
    k: u64,
    make: &dyn Fn() -> String,
) -> String {
    match engine.lookup(&k) {
        Found::Hit(v) => v,
        Found::Vacant(vacancy) => {
            let v = make();
            vacancy.fill(&v);
            v
        }
    }
}

macro_rules! disk_subject {
    ($ty:ty) => {
        impl Subject for $ty {
            fn call(&self, k: u64, make: &dyn Fn() -> String) -> String {
                call_engine(self, k, make)
            }
            fn invalidate(&self, k: u64) {
                self.remove(&k);
            }
            fn clear(&self) {
                <$ty>::clear(self);
            }
            fn errors(&self) -> u64 {
                self.stats().errors
            }
            fn is_fallback(&self) -> bool {
                <$ty>::is_fallback(self)
            }
        }
    };
}

disk_subject!(SledCache<String>);
disk_subject!(FileCache<String>);
disk_subject!(twat_cache::RedisCache<String>);

impl Subject for Tiered<MemoryCache<u64, String>, FileCache<String>> {
    fn call(&self, k: u64, make: &dyn Fn() -> String) -> String {
        call_engine(self, k, make)
    }
    fn invalidate(&self, k: u64) {
        self.remove(&k);
    }
    fn clear(&self) {
        Tiered::clear(self);
    }
    fn errors(&self) -> u64 {
        self.stats().errors
    }
    fn is_fallback(&self) -> bool {
        self.l2().is_fallback()
    }
}

/// `ops` operations per thread with faults armed under `under`, then recovery.
fn drive(
    name: &'static str,
    subject: &dyn Subject,
    under: &Path,
    clock: &Clock,
    ops: u64,
    seed: u64,
) -> Figures {
    let start = Instant::now();
    let mut figures = Figures::new("fault injection", name);
    let tally = Tally::default();
    let fired_before = fault::fired();
    arm(under, 0.05, seed);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let tally = &tally;
            let clock = clock.clone();
            s.spawn(move || {
                let mut rng = Rng::new(seed ^ (t + 1));
                let mut versions = [0u32; KEYS_PER_THREAD as usize];
                for _ in 0..ops {
                    let i = rng.below(KEYS_PER_THREAD) as usize;
                    let k = t * KEYS_PER_THREAD + i as u64;
                    // Past the longest backoff now and then, so a cache that left its storage
                    // tries it again (and meets more faults) instead of staying in memory.
                    if rng.chance(0.005) {
                        clock.advance(Duration::from_secs(61));
                    }
                    match rng.below(100) {
                        0..75 => {
                            let truth = value(k, versions[i]);
                            let got = subject.call(k, &|| truth.clone());
                            tally.check(&got, &truth, name);
                        }
                        75..97 => {
                            versions[i] += 1;
                            subject.invalidate(k);
                            tally.op();
                        }
                        // A clear empties other threads' keys too: their values are recomputed
                        // equal, so versions stay.
                        _ => {
                            subject.clear();
                            tally.op();
                        }
                    }
                }
            });
        }
    });
    fault::clear();
    figures.faults = fault::fired() - fired_before;
    figures.errors_counted = subject.errors();
    if figures.faults > 0 && figures.errors_counted == 0 {
        figures.fail(format!(
            "{} faults injected, no error counted",
            figures.faults
        ));
    }
    // Faults gone: past the longest backoff the storage must be in use again.
    clock.advance(Duration::from_secs(120));
    twat_cache::Clock::advance_system(Duration::from_secs(120));
    // (The threads are done, so which version a key holds is not known here: only whether
    // the storage is back is checked.)
    let recovered = (0..200u64).any(|i| {
        subject.call(i % KEYS_PER_THREAD, &|| value(i, u32::MAX));
        tally.op();
        !subject.is_fallback()
    });
    if !recovered {
        figures.fail("still on its fallback after the faults cleared".into());
    }
    figures.notes = format!(
        "5% of every storage call failed or stalled; {} threads; recovered: {recovered}",
        THREADS
    );
    figures = tally.into_figures(figures);
    figures.elapsed = start.elapsed();
    figures
}

/// The fault-injection suite over sled, files, memory + files and (if a server can be started)
/// Redis; `ops` operations per thread and engine.
pub fn run(ops: u64, seed: u64) -> Vec<Figures> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut all = Vec::new();
    {
        let clock = Clock::manual();
        let cache: SledCache<String> = SledCache::builder(dir.path().join("sled"), "faults")
            .clock(clock.clone())
            .build();
        all.push(drive("sled", &cache, dir.path(), &clock, ops, seed));
    }
    {
        let clock = Clock::manual();
        let cache: FileCache<String> = FileCache::builder(dir.path().join("files"))
            .clock(clock.clone())
            .build();
        all.push(drive("files", &cache, dir.path(), &clock, ops, seed));
    }
    {
        let clock = Clock::manual();
        let tiered = Tiered::new(
            MemoryCache::builder()
                .maxsize(16)
                .clock(clock.clone())
                .build(),
            FileCache::builder(dir.path().join("tiered"))
                .clock(clock.clone())
                .build(),
        );
        all.push(drive(
            "memory + files",
            &tiered,
            dir.path(),
            &clock,
            ops,
            seed,
        ));
    }
    match twat_cache_tests::RedisServer::start("reliability faults") {
        Some(server) => {
            let clock = Clock::manual();
            let cache: twat_cache::RedisCache<String> =
                twat_cache::RedisCache::builder(&server.url(), "twat-cache:reliability:faults")
                    .clock(clock.clone())
                    .build();
            let under = cache.folder().to_path_buf();
            all.push(drive("Redis", &cache, &under, &clock, ops, seed));
        }
        None => eprintln!("fault injection: Redis SKIPPED (no redis-server)"),
    }
    all
}

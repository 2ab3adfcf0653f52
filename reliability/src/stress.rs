//! Concurrency stress: threads hammering few keys of caches with tiny bounds and short TTLs
//! through the attributes, every returned value checked against the true function.
//!
//! Phase 1 (calls only) also checks single-flight: a body never runs twice at once for one key
//! (each body holds a per-key "running" mark for 200 µs). Phase 2 adds invalidations and clears
//! (an invalidated computation's waiters rightly compute their own, so only values are checked).
//! The async part runs thousands of tasks on a two-worker tokio runtime.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use twat_cache::{bcache, fcache, mcache, ucache};

use crate::figures::{Figures, Tally};
use crate::rng::Rng;

const THREADS: u64 = 4;
const KEYS: u64 = 24;

fn value(k: u64) -> String {
    format!("value of {k} ").repeat((k % 4 + 1) as usize)
}

/// Per key: bodies running now; and how often two ran at once.
static RUNNING: [AtomicUsize; KEYS as usize] = [const { AtomicUsize::new(0) }; KEYS as usize];
static OVERLAPS: AtomicU64 = AtomicU64::new(0);
static BODIES: AtomicU64 = AtomicU64::new(0);

fn body(k: u64) -> String {
    BODIES.fetch_add(1, Ordering::Relaxed);
    let slot = &RUNNING[(k % KEYS) as usize];
    if slot.fetch_add(1, Ordering::SeqCst) > 0 {
        OVERLAPS.fetch_add(1, Ordering::Relaxed);
    }
    std::thread::sleep(Duration::from_micros(200));
    slot.fetch_sub(1, Ordering::SeqCst);
    value(k)
}

#[mcache(maxsize = 8, ttl = "3ms")]
fn memory(k: u64) -> String {
    body(k)
}

#[bcache(folder = "stress", maxsize = 8, ttl = "3ms")]
fn sled(k: u64) -> String {
    body(k)
}

#[fcache(folder = "stress", maxsize = 8, ttl = "3ms")]
fn files(k: u64) -> String {
    body(k)
}

#[ucache(folder = "stress", maxsize = 4, disk_max_bytes = 4096, ttl = "3ms")]
fn tiered(k: u64) -> String {
    body(k)
}

#[mcache(maxsize = 8, ttl = "3ms")]
async fn memory_async(k: u64) -> String {
    async_body(k).await
}

#[ucache(folder = "stress-async", maxsize = 4, ttl = "3ms")]
async fn tiered_async(k: u64) -> String {
    async_body(k).await
}

async fn async_body(k: u64) -> String {
    BODIES.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_micros(200)).await;
    value(k)
}

struct Attribute {
    name: &'static str,
    call: fn(u64) -> String,
    invalidate: fn(u64) -> bool,
    clear: fn(),
    handle: fn() -> &'static twat_cache::CacheHandle,
}

fn attributes() -> [Attribute; 4] {
    [
        Attribute {
            name: "#[mcache] maxsize 8, ttl 3 ms",
            call: memory,
            invalidate: memory_invalidate,
            clear: || memory_cache().clear(),
            handle: memory_cache,
        },
        Attribute {
            name: "#[bcache] maxsize 8, ttl 3 ms",
            call: sled,
            invalidate: sled_invalidate,
            clear: || sled_cache().clear(),
            handle: sled_cache,
        },
        Attribute {
            name: "#[fcache] maxsize 8, ttl 3 ms",
            call: files,
            invalidate: files_invalidate,
            clear: || files_cache().clear(),
            handle: files_cache,
        },
        Attribute {
            name: "#[ucache] maxsize 4 + 4 KiB disk, ttl 3 ms",
            call: tiered,
            invalidate: tiered_invalidate,
            clear: || tiered_cache().clear(),
            handle: tiered_cache,
        },
    ]
}

fn hammer(attribute: &Attribute, ops: u64, seed: u64, tally: &Tally, with_removals: bool) {
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let mut rng = Rng::new(seed ^ (t + 1));
                for _ in 0..ops {
                    // Skewed: half the calls go to 4 hot keys.
                    let k = if rng.chance(0.5) {
                        rng.below(4)
                    } else {
                        rng.below(KEYS)
                    };
                    match rng.below(100) {
                        0..5 if with_removals => {
                            (attribute.invalidate)(k);
                            tally.op();
                        }
                        5 if with_removals => {
                            (attribute.clear)();
                            tally.op();
                        }
                        _ => tally.check(&(attribute.call)(k), &value(k), attribute.name),
                    }
                }
            });
        }
    });
}

/// The stress suite: `ops` calls per thread and attribute, then `tasks` async tasks.
pub fn run(ops: u64, tasks: u64, seed: u64) -> Vec<Figures> {
    let mut all = Vec::new();
    for attribute in attributes() {
        let start = Instant::now();
        let mut figures = Figures::new("concurrency", attribute.name);
        let tally = Tally::default();
        let (overlaps, bodies) = (
            OVERLAPS.load(Ordering::Relaxed),
            BODIES.load(Ordering::Relaxed),
        );
        hammer(&attribute, ops / 2, seed, &tally, false);
        let overlapped = OVERLAPS.load(Ordering::Relaxed) - overlaps;
        if overlapped > 0 {
            figures.fail(format!(
                "a body ran twice at once for one key {overlapped} times"
            ));
        }
        hammer(&attribute, ops / 2, seed ^ 0xABCD, &tally, true);
        let stats = (attribute.handle)().stats();
        figures.errors_counted = stats.errors;
        figures.notes = format!(
            "{THREADS} threads, {KEYS} keys; {} bodies run, {} hits; single-flight overlaps: {overlapped}",
            BODIES.load(Ordering::Relaxed) - bodies,
            stats.hits
        );
        figures = tally.into_figures(figures);
        figures.elapsed = start.elapsed();
        all.push(figures);
    }
    all.push(run_async(tasks, seed));
    all
}

fn run_async(tasks: u64, seed: u64) -> Figures {
    let start = Instant::now();
    let mut figures = Figures::new("concurrency", "async #[mcache] + #[ucache], tokio");
    let tally = std::sync::Arc::new(Tally::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let mut handles = Vec::new();
        for t in 0..tasks {
            let tally = tally.clone();
            handles.push(tokio::spawn(async move {
                let mut rng = Rng::new(seed ^ t);
                for _ in 0..20 {
                    let k = rng.below(KEYS);
                    let got = if rng.chance(0.5) {
                        memory_async(k).await
                    } else {
                        tiered_async(k).await
                    };
                    tally.check(&got, &value(k), "async");
                }
            }));
        }
        for handle in handles {
            handle.await.expect("a task");
        }
    });
    let tally = std::sync::Arc::into_inner(tally).expect("the tasks are done");
    figures.notes = format!("{tasks} tasks × 20 calls on 2 workers");
    figures = tally.into_figures(figures);
    figures.elapsed = start.elapsed();
    figures
}

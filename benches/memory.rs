//! Cost of a cache hit: `#[mcache]` against a bare `HashMap::get` (the floor), `cached`'s
//! `#[cached]`, `moka::sync::Cache` and `quick_cache::sync::Cache`, on 1 and 2 threads, for
//! `fn(u64) -> u64` and `fn(&str) -> Arc<String>`.
//!
//! Every contender holds the same 10k entries and is read in the same shuffled order. In the
//! 2-thread groups one iteration is one hit on each of two threads at once, so lower is more
//! throughput. Run: `cargo bench --bench memory`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cached::macros::cached;
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use twat_cache::mcache;

const ENTRIES: u64 = 10_000;
const ORDER: usize = 4096;

fn shuffled_keys() -> Vec<u64> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..ORDER)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % ENTRIES
        })
        .collect()
}

#[mcache(maxsize = 100_000)]
fn mcache_u64(x: u64) -> u64 {
    x.wrapping_mul(3)
}

#[cached(max_size = 100_000)]
fn cached_u64(x: u64) -> u64 {
    x.wrapping_mul(3)
}

#[mcache(maxsize = 100_000)]
fn mcache_str(s: &str) -> Arc<String> {
    Arc::new(s.to_uppercase())
}

#[cached(max_size = 100_000, key = "String", convert = { s.to_string() })]
fn cached_str(s: &str) -> Arc<String> {
    Arc::new(s.to_uppercase())
}

/// Times `per_thread` on two threads started together; one iteration = one call on each. The
/// threads start half-way apart in the key order, so they do not walk the same keys in lockstep.
fn two_threads(iters: u64, per_thread: impl Fn(u64, usize) + Sync) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let run = |offset: usize| {
            let barrier = &barrier;
            let per_thread = &per_thread;
            move || {
                barrier.wait();
                let start = Instant::now();
                per_thread(iters, offset);
                start.elapsed()
            }
        };
        let a = s.spawn(run(0));
        let b = s.spawn(run(ORDER / 2));
        a.join().unwrap().max(b.join().unwrap())
    })
}

fn configure<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group
}

fn hit_u64(c: &mut Criterion) {
    let keys = shuffled_keys();
    let map: HashMap<u64, u64> = (0..ENTRIES).map(|k| (k, k * 3)).collect();
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(100_000);
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(100_000);
    let engine: twat_cache::MemoryCache<u64, u64> =
        twat_cache::MemoryCache::builder().maxsize(100_000).build();
    for k in 0..ENTRIES {
        engine.insert(k, k * 3);
        mcache_u64(k);
        cached_u64(k);
        moka.insert(k, k * 3);
        quick.insert(k, k * 3);
    }

    for threads in [1, 2] {
        let mut group = configure(c, &format!("hit u64 {threads} thread(s)"));
        let mut bench = |name: &str, get: &(dyn Fn(u64) -> u64 + Sync)| {
            group.bench_function(name, |b| {
                if threads == 1 {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % ORDER;
                        black_box(get(black_box(keys[i])))
                    })
                } else {
                    b.iter_custom(|iters| {
                        two_threads(iters, |n, offset| {
                            for i in offset..offset + n as usize {
                                black_box(get(black_box(keys[i % ORDER])));
                            }
                        })
                    })
                }
            });
        };
        bench("HashMap::get (floor)", &|k| *map.get(&k).unwrap());
        bench("twat_cache #[mcache]", &mcache_u64);
        bench("twat_cache MemoryCache::get", &|k| engine.get(&k).unwrap());
        bench("cached #[cached]", &cached_u64);
        bench("moka::sync::Cache", &|k| moka.get(&k).unwrap());
        bench("quick_cache::sync::Cache", &|k| quick.get(&k).unwrap());
        group.finish();
    }
}

fn hit_str(c: &mut Criterion) {
    let names: Vec<String> = (0..ENTRIES).map(|i| format!("user-{i:08}")).collect();
    let order: Vec<&str> = shuffled_keys()
        .iter()
        .map(|&k| names[k as usize].as_str())
        .collect();
    let map: HashMap<String, Arc<String>> = names
        .iter()
        .map(|n| (n.clone(), Arc::new(n.to_uppercase())))
        .collect();
    let moka: moka::sync::Cache<String, Arc<String>> = moka::sync::Cache::new(100_000);
    let quick: quick_cache::sync::Cache<String, Arc<String>> =
        quick_cache::sync::Cache::new(100_000);
    let engine: twat_cache::MemoryCache<String, Arc<String>> =
        twat_cache::MemoryCache::builder().maxsize(100_000).build();
    for n in &names {
        engine.insert(n.clone(), Arc::new(n.to_uppercase()));
        mcache_str(n);
        cached_str(n);
        moka.insert(n.clone(), Arc::new(n.to_uppercase()));
        quick.insert(n.clone(), Arc::new(n.to_uppercase()));
    }

    for threads in [1, 2] {
        let mut group = configure(c, &format!("hit &str {threads} thread(s)"));
        let mut bench = |name: &str, get: &(dyn Fn(&str) -> Arc<String> + Sync)| {
            group.bench_function(name, |b| {
                if threads == 1 {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % ORDER;
                        black_box(get(black_box(order[i])))
                    })
                } else {
                    b.iter_custom(|iters| {
                        two_threads(iters, |n, offset| {
                            for i in offset..offset + n as usize {
                                black_box(get(black_box(order[i % ORDER])));
                            }
                        })
                    })
                }
            });
        };
        bench("HashMap::get (floor)", &|k| map.get(k).unwrap().clone());
        bench("twat_cache #[mcache]", &mcache_str);
        bench("twat_cache MemoryCache::get", &|k| engine.get(k).unwrap());
        bench("cached #[cached]", &cached_str);
        bench("moka::sync::Cache", &|k| moka.get(k).unwrap());
        bench("quick_cache::sync::Cache", &|k| quick.get(k).unwrap());
        group.finish();
    }
}

#[mcache(maxsize = 100_000, ttl = "1h")]
fn mcache_ttl(x: u64) -> u64 {
    x.wrapping_mul(3)
}

#[mcache(maxsize = 100_000, ttl = "1h", early_refresh = true)]
fn mcache_early(x: u64) -> u64 {
    x.wrapping_mul(3)
}

/// What `early_refresh` costs a hit far from its expiry (the common case: no draw), against
/// the same TTL cache without it, and moka with a TTL.
fn hit_ttl(c: &mut Criterion) {
    let keys = shuffled_keys();
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(Duration::from_secs(3600))
        .build();
    for k in 0..ENTRIES {
        mcache_ttl(k);
        mcache_early(k);
        moka.insert(k, k * 3);
    }
    let mut group = configure(c, "hit u64 ttl 1 thread(s)");
    let mut bench = |name: &str, get: &dyn Fn(u64) -> u64| {
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % ORDER;
                black_box(get(black_box(keys[i])))
            })
        });
    };
    bench("twat_cache #[mcache(ttl)]", &mcache_ttl);
    bench("twat_cache #[mcache(ttl, early_refresh)]", &mcache_early);
    bench("moka::sync::Cache (ttl)", &|k| moka.get(&k).unwrap());
    group.finish();
}

criterion_group!(benches, hit_u64, hit_str, hit_ttl);
criterion_main!(benches);

//! Memory caches: hit latency (`u64` and `&str` keys, 1 and 2 threads), a 2-thread mix of hits
//! and inserts, and the cost of a miss that inserts.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cached::macros::cached;
use twat_cache::{MemoryCache, mcache};

use crate::figure::Bars;
use crate::timing::{Contender, ns_per_op, two_threads};
use twat_cache_bench_report::traces::Rng;

const ENTRIES: u64 = 10_000;
const ORDER: usize = 4096;

/// Keys in a shuffled order every contender reads the same way.
fn shuffled(seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    (0..ORDER).map(|_| rng.next_u64() % ENTRIES).collect()
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

/// A contender reading `get(key)` for `n` keys of `order` (1 thread), or `n` on each of two
/// threads starting half-way apart (2 threads).
fn reader<'a, K: Copy + Sync, R>(
    name: &str,
    threads: usize,
    order: &'a [K],
    get: &'a (dyn Fn(K) -> R + Sync),
) -> Contender<'a> {
    let mut i = 0usize;
    Contender::new(name, move |n| {
        if threads == 1 {
            for _ in 0..n {
                i = (i + 1) % order.len();
                black_box(get(black_box(order[i])));
            }
        } else {
            two_threads(n, &|n, thread| {
                let offset = thread * order.len() / 2;
                for j in offset..offset + n as usize {
                    black_box(get(black_box(order[j % order.len()])));
                }
            });
        }
    })
}

pub fn hit_u64() -> Vec<Bars> {
    let keys = shuffled(1);
    let map: HashMap<u64, u64> = (0..ENTRIES).map(|k| (k, k * 3)).collect();
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(100_000);
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(100_000);
    let engine: MemoryCache<u64, u64> = MemoryCache::builder().maxsize(100_000).build();
    for k in 0..ENTRIES {
        engine.insert(k, k * 3);
        mcache_u64(k);
        cached_u64(k);
        moka.insert(k, k * 3);
        quick.insert(k, k * 3);
    }
    let floor = |k: u64| *map.get(&k).unwrap();
    let ours_engine = |k: u64| engine.get(&k).unwrap();
    let moka_get = |k: u64| moka.get(&k).unwrap();
    let quick_get = |k: u64| quick.get(&k).unwrap();
    [1, 2]
        .into_iter()
        .map(|threads| {
            let mut contenders = vec![
                reader("HashMap::get (floor)", threads, &keys, &floor),
                reader("twat_cache #[mcache]", threads, &keys, &mcache_u64),
                reader("twat_cache MemoryCache::get", threads, &keys, &ours_engine),
                reader("cached #[cached]", threads, &keys, &cached_u64),
                reader("moka::sync::Cache", threads, &keys, &moka_get),
                reader("quick_cache::sync::Cache", threads, &keys, &quick_get),
            ];
            Bars {
                id: if threads == 1 {
                    "hit_u64_1t"
                } else {
                    "hit_u64_2t"
                },
                title: format!("u64 hit, 10k entries, {threads} thread(s)"),
                unit: "ns",
                lower_is_better: true,
                rows: ns_per_op(&mut contenders, 200_000),
                how: format!(
                    "10k `u64 → u64` entries prefilled, read in one shuffled order{}.",
                    if threads == 2 {
                        "; one operation = one hit on each of two threads at once"
                    } else {
                        ""
                    }
                ),
            }
        })
        .collect()
}

pub fn hit_str() -> Vec<Bars> {
    // Keys of 32–64 bytes.
    let names: Vec<String> = (0..ENTRIES)
        .map(|i| {
            let mut s = format!("user-{i:08}-");
            let len = 32 + (i as usize * 7) % 33;
            while s.len() < len {
                s.push((b'a' + (s.len() % 26) as u8) as char);
            }
            s
        })
        .collect();
    let order: Vec<&str> = shuffled(2)
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
    let engine: MemoryCache<String, Arc<String>> = MemoryCache::builder().maxsize(100_000).build();
    // One contender at a time, so that each one's keys and values lie together in memory as
    // in a process with one cache (interleaved fills spread every key set over five times the
    // pages, and made the figures depend on allocation order).
    names
        .iter()
        .for_each(|n| engine.insert(n.clone(), Arc::new(n.to_uppercase())));
    names.iter().for_each(|n| drop(mcache_str(n)));
    names.iter().for_each(|n| drop(cached_str(n)));
    names
        .iter()
        .for_each(|n| moka.insert(n.clone(), Arc::new(n.to_uppercase())));
    names
        .iter()
        .for_each(|n| quick.insert(n.clone(), Arc::new(n.to_uppercase())));
    let floor = |k: &str| map.get(k).unwrap().clone();
    let ours_engine = |k: &str| engine.get(k).unwrap();
    let moka_get = |k: &str| moka.get(k).unwrap();
    let quick_get = |k: &str| quick.get(k).unwrap();
    [1, 2]
        .into_iter()
        .map(|threads| {
            let mut contenders = vec![
                reader("HashMap::get (floor)", threads, &order, &floor),
                reader("twat_cache #[mcache]", threads, &order, &mcache_str),
                reader("twat_cache MemoryCache::get", threads, &order, &ours_engine),
                reader("cached #[cached]", threads, &order, &cached_str),
                reader("moka::sync::Cache", threads, &order, &moka_get),
                reader("quick_cache::sync::Cache", threads, &order, &quick_get),
            ];
            Bars {
                id: if threads == 1 {
                    "hit_str_1t"
                } else {
                    "hit_str_2t"
                },
                title: format!("&str hit, 10k keys of 32–64 B, {threads} thread(s)"),
                unit: "ns",
                lower_is_better: true,
                rows: ns_per_op(&mut contenders, 100_000),
                how: "10k `&str → Arc<String>` entries (keys of 32–64 bytes) prefilled, read \
                      in one shuffled order; `cached` converts each key to a `String`."
                    .into(),
            }
        })
        .collect()
}

/// The operations of the 2-thread mix: `get(k)` for a hit, `insert(k)` for a new key.
trait Mixed: Sync {
    fn get(&self, k: u64) -> bool;
    fn insert(&self, k: u64);
}

impl Mixed for MemoryCache<u64, u64> {
    fn get(&self, k: u64) -> bool {
        MemoryCache::get(self, &k).is_some()
    }
    fn insert(&self, k: u64) {
        MemoryCache::insert(self, k, k);
    }
}

impl Mixed for moka::sync::Cache<u64, u64> {
    fn get(&self, k: u64) -> bool {
        moka::sync::Cache::get(self, &k).is_some()
    }
    fn insert(&self, k: u64) {
        moka::sync::Cache::insert(self, k, k);
    }
}

impl Mixed for quick_cache::sync::Cache<u64, u64> {
    fn get(&self, k: u64) -> bool {
        quick_cache::sync::Cache::get(self, &k).is_some()
    }
    fn insert(&self, k: u64) {
        quick_cache::sync::Cache::insert(self, k, k);
    }
}

/// Two threads, 90% lookups of 16k hot keys and 10% inserts of new keys, 20k bound: Mops/s.
pub fn mixed() -> Bars {
    const BOUND: usize = 20_000;
    const HOT: u64 = 16_000;
    let engine: MemoryCache<u64, u64> = MemoryCache::builder().maxsize(BOUND).build();
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(BOUND as u64);
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(BOUND);
    let caches: [(&str, &dyn Mixed); 3] = [
        ("twat_cache MemoryCache", &engine),
        ("moka::sync::Cache", &moka),
        ("quick_cache::sync::Cache", &quick),
    ];
    let fresh = AtomicU64::new(1 << 40);
    let mut contenders: Vec<Contender> = caches
        .iter()
        .map(|&(name, cache)| {
            for k in 0..HOT {
                cache.insert(k);
            }
            let fresh = &fresh;
            Contender::new(name, move |n| {
                two_threads(n, &|n, thread| {
                    let mut rng = Rng(thread as u64 + 7);
                    for _ in 0..n {
                        let r = rng.next_u64();
                        if r.is_multiple_of(10) {
                            cache.insert(fresh.fetch_add(1, Ordering::Relaxed));
                        } else {
                            let k = (r >> 8) % HOT;
                            if !cache.get(k) {
                                cache.insert(k);
                            }
                        }
                    }
                });
            })
        })
        .collect();
    let rows = ns_per_op(&mut contenders, 100_000)
        .into_iter()
        .map(|(name, ns)| (name, 2_000.0 / ns)) // two operations per "op", in Mops/s
        .collect();
    Bars {
        id: "mixed_2t",
        title: "2 threads, 90% hits / 10% inserts, 20k bound".into(),
        unit: "Mops/s",
        lower_is_better: false,
        rows,
        how: "two threads; 90% lookups of 16k hot keys (inserted again on a miss), 10% \
              inserts of new keys; bound 20k; throughput of both threads together."
            .into(),
    }
}

/// A miss that stores: a new key inserted into a full cache of 10k (an eviction each time).
pub fn miss_insert() -> Bars {
    let engine: MemoryCache<u64, u64> = MemoryCache::builder().maxsize(10_000).build();
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(10_000);
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(10_000);
    let mut next = [0u64; 5];
    let [a, b, c, d, e] = &mut next;
    let mut contenders = vec![
        Contender::new("twat_cache #[mcache] miss", move |n| {
            for _ in 0..n {
                *a += 1;
                black_box(mcache_miss(*a));
            }
        }),
        Contender::new("twat_cache MemoryCache::insert", move |n| {
            for _ in 0..n {
                *b += 1;
                engine.insert(*b, *b);
            }
        }),
        Contender::new("cached #[cached] miss", move |n| {
            for _ in 0..n {
                *c += 1;
                black_box(cached_miss(*c));
            }
        }),
        Contender::new("moka::sync::Cache insert", move |n| {
            for _ in 0..n {
                *d += 1;
                moka.insert(*d, *d);
            }
        }),
        Contender::new("quick_cache::sync::Cache insert", move |n| {
            for _ in 0..n {
                *e += 1;
                quick.insert(*e, *e);
            }
        }),
    ];
    Bars {
        id: "miss_insert",
        title: "miss + insert into a full cache of 10k".into(),
        unit: "ns",
        lower_is_better: true,
        rows: ns_per_op(&mut contenders, 50_000),
        how: "every operation stores a new `u64` key in a cache bounded at 10k (so each one \
              also evicts); for the attributes, a call with a new argument."
            .into(),
    }
}

#[mcache(maxsize = 10_000)]
fn mcache_miss(x: u64) -> u64 {
    x ^ 1
}

#[cached(max_size = 10_000)]
fn cached_miss(x: u64) -> u64 {
    x ^ 1
}

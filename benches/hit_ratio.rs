//! Hit ratios of every policy and of the peers on seeded synthetic traces, at equal capacity.
//!
//! `cargo bench --bench hit_ratio` prints a table. Traces (10k capacity):
//! - `zipf`: 2M requests, Zipf(s = 0.99) over 1M keys;
//! - `zipf+scans`: the same, with a 20k-key one-off sequential scan after every 100k requests;
//! - `loop`: keys 0..12k requested in order, over and over (1.2M requests) — LRU's worst case.
//!
//! Every cache sees `get`, then `insert` on a miss. The traces are seeded, so runs are
//! comparable; only the sharded engines' hash seeds vary, by a fraction of a point.

use std::time::Instant;

use twat_cache::{MemoryCache, Policy};
use twat_cache_bench_report::traces;

const CAPACITY: usize = 10_000;

/// One cache under test: `access` returns whether the request hit.
struct Contender {
    name: &'static str,
    access: Box<dyn FnMut(u64) -> bool>,
}

fn ours(name: &'static str, policy: Policy, shards: Option<usize>) -> Contender {
    let mut builder = MemoryCache::builder().maxsize(CAPACITY).policy(policy);
    if let Some(s) = shards {
        builder = builder.shards(s);
    }
    let cache: MemoryCache<u64, u64> = builder.build();
    Contender {
        name,
        access: Box::new(move |k| {
            if cache.get(&k).is_some() {
                true
            } else {
                cache.insert(k, k);
                false
            }
        }),
    }
}

fn contenders() -> Vec<Contender> {
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(CAPACITY as u64);
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(CAPACITY);
    vec![
        ours("twat tinylfu (default)", Policy::TinyLfu, None),
        ours("twat tinylfu, 1 shard", Policy::TinyLfu, Some(1)),
        ours("twat lru", Policy::Lru, None),
        ours("twat fifo", Policy::Fifo, None),
        ours("twat lfu", Policy::Lfu, None),
        ours("exact LRU (1 shard)", Policy::Lru, Some(1)),
        Contender {
            name: "moka 0.12",
            access: Box::new(move |k| {
                if moka.get(&k).is_some() {
                    true
                } else {
                    moka.insert(k, k);
                    false
                }
            }),
        },
        Contender {
            name: "quick_cache 0.7",
            access: Box::new(move |k| {
                if quick.get(&k).is_some() {
                    true
                } else {
                    quick.insert(k, k);
                    false
                }
            }),
        },
    ]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument, if any, selects contenders by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let traces: Vec<(&str, Vec<u64>)> = vec![
        ("zipf", traces::zipf(42, false)),
        ("zipf+scans", traces::zipf(42, true)),
        ("loop 1.2x", traces::looping(CAPACITY)),
    ];
    println!("hit ratio (%) at capacity {CAPACITY}");
    print!("{:<26}", "cache");
    for (name, _) in &traces {
        print!("{name:>12}");
    }
    println!();
    for index in 0..contenders().len() {
        let name = contenders()[index].name;
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        print!("{name:<26}");
        let started = Instant::now();
        for (_, trace) in &traces {
            let mut contender = contenders().swap_remove(index);
            let hits = trace.iter().filter(|&&k| (contender.access)(k)).count();
            print!("{:>12.2}", 100.0 * hits as f64 / trace.len() as f64);
        }
        println!("   ({:.1}s)", started.elapsed().as_secs_f64());
    }
}

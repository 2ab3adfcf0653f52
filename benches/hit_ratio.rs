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

const CAPACITY: usize = 10_000;

/// splitmix64: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples ranks 0..n with probability ∝ 1/(rank+1)^s, by binary search in the CDF.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 1..=n {
            total += 1.0 / (rank as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Self { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.next_f64();
        self.cdf.partition_point(|&c| c < u) as u64
    }
}

/// Scatters ranks over the key space so that popular keys are not numerically adjacent.
fn scatter(rank: u64) -> u64 {
    rank.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8
}

fn zipf_trace(seed: u64, scans: bool) -> Vec<u64> {
    let zipf = Zipf::new(1_000_000, 0.99);
    let mut rng = Rng(seed);
    let mut trace = Vec::with_capacity(2_500_000);
    let mut scan_base = 1u64 << 60;
    for i in 0..2_000_000u64 {
        trace.push(scatter(zipf.sample(&mut rng)));
        if scans && i % 100_000 == 99_999 {
            trace.extend(scan_base..scan_base + 20_000);
            scan_base += 20_000;
        }
    }
    trace
}

fn loop_trace() -> Vec<u64> {
    let n = (CAPACITY as u64) * 12 / 10;
    (0..100).flat_map(|_| 0..n).collect()
}

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
        ("zipf", zipf_trace(42, false)),
        ("zipf+scans", zipf_trace(42, true)),
        ("loop 1.2x", loop_trace()),
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

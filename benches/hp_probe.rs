//! Instruction-count probe for the hit path (run under `valgrind --tool=callgrind`):
//! `hp_probe m|e|q` does 2M hits through `#[mcache]`, `MemoryCache::get` or quick_cache.
use std::hint::black_box;
use twat_cache::mcache;

#[mcache(maxsize = 100_000)]
fn mcache_u64(x: u64) -> u64 {
    x.wrapping_mul(3)
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let rounds: u64 = std::env::args()
        .nth(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(100_000);
    let engine: twat_cache::MemoryCache<u64, u64> =
        twat_cache::MemoryCache::builder().maxsize(100_000).build();
    for k in 0..10_000u64 {
        match which.as_str() {
            "q" => quick.insert(k, k * 3),
            "e" => engine.insert(k, k * 3),
            _ => {
                mcache_u64(k);
            }
        }
    }
    let mut sum = 0u64;
    for r in 0..rounds {
        for k in 0..10_000u64 {
            let k = black_box((k * 7919 + r) % 10_000);
            sum = sum.wrapping_add(match which.as_str() {
                "q" => quick.get(&k).unwrap(),
                "e" => engine.get(&k).unwrap(),
                _ => mcache_u64(k),
            });
        }
    }
    println!("{sum}");
}

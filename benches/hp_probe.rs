use std::hint::black_box;
use twat_cache::mcache;
#[mcache(maxsize = 100_000)]
fn mcache_u64(x: u64) -> u64 {
    x.wrapping_mul(3)
}
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(100_000);
    for k in 0..10_000u64 {
        mcache_u64(k);
        quick.insert(k, k * 3);
    }
    let mut s = 0u64;
    for r in 0..200u64 {
        for k in 0..10_000u64 {
            let k = (k * 7919 + r) % 10_000;
            s = s.wrapping_add(if which == "q" {
                quick.get(&black_box(k)).unwrap()
            } else {
                mcache_u64(black_box(k))
            });
        }
    }
    println!("{s}");
}

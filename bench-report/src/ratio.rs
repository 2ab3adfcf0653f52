//! Hit ratio over capacity (1k … 100k) on three traces, at equal capacity for every cache.

use twat_cache::{MemoryCache, Policy};
use twat_cache_bench_report::traces;

use crate::figure::Curves;

const CAPACITIES: [usize; 7] = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];

/// A fresh cache of `capacity`: `access(k)` says whether `k` hit (a miss inserts it).
type Access = Box<dyn FnMut(u64) -> bool>;

/// A contender: its name and how to make one of a given capacity.
type Make = (&'static str, fn(usize) -> Access);

fn contenders() -> Vec<Make> {
    fn ours(capacity: usize, policy: Policy) -> Access {
        let cache: MemoryCache<u64, u64> = MemoryCache::builder()
            .maxsize(capacity)
            .policy(policy)
            .build();
        Box::new(move |k| cache.get(&k).is_some() || (cache.insert(k, k), false).1)
    }
    vec![
        ("twat_cache (default: W-TinyLFU)", |c| {
            ours(c, Policy::TinyLfu)
        }),
        ("twat_cache policy = \"lru\"", |c| ours(c, Policy::Lru)),
        ("moka", |c| {
            let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(c as u64);
            Box::new(move |k| cache.get(&k).is_some() || (cache.insert(k, k), false).1)
        }),
        ("quick_cache", |c| {
            let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(c);
            Box::new(move |k| cache.get(&k).is_some() || (cache.insert(k, k), false).1)
        }),
        ("cached LruCache", |c| {
            use cached::Cached;
            let mut cache = cached::LruCache::<u64, u64>::new(c);
            Box::new(move |k| cache.cache_get(&k).is_some() || (cache.cache_set(k, k), false).1)
        }),
    ]
}

fn hit_ratio(mut access: Access, trace: &[u64]) -> f64 {
    let hits = trace.iter().filter(|&&k| access(k)).count();
    100.0 * hits as f64 / trace.len() as f64
}

pub fn curves() -> Vec<Curves> {
    let zipf = traces::zipf(42, false);
    let scans = traces::zipf(42, true);
    let mut out = Vec::new();
    for (id, title, how) in [
        (
            "hit_ratio_zipf",
            "Hit ratio, Zipf(0.99)",
            "2M requests, Zipf(s = 0.99) over 1M keys.",
        ),
        (
            "hit_ratio_zipf_scans",
            "Hit ratio, Zipf(0.99) + scans",
            "The Zipf trace with a one-off 20k-key sequential scan after every 100k requests.",
        ),
        (
            "hit_ratio_loop",
            "Hit ratio, loop over 1.2 × capacity",
            "Keys 0..1.2 × capacity in order, over and over (≥ 1.2M requests): LRU's worst case.",
        ),
    ] {
        let series = contenders()
            .into_iter()
            .map(|(name, make)| {
                let points = CAPACITIES
                    .iter()
                    .map(|&capacity| {
                        let looped;
                        let trace: &[u64] = match id {
                            "hit_ratio_zipf" => &zipf,
                            "hit_ratio_zipf_scans" => &scans,
                            _ => {
                                looped = traces::looping(capacity);
                                &looped
                            }
                        };
                        (capacity as f64, hit_ratio(make(capacity), trace))
                    })
                    .collect();
                (name.to_string(), points)
            })
            .collect();
        out.push(Curves {
            id,
            title: title.into(),
            x_label: "capacity (entries)",
            y_label: "hit ratio (%)",
            series,
            how: how.into(),
        });
    }
    out
}

//! `twat-cache-bench-report probe NAME OPS`: `OPS` `u64` hits of one contender (`ours`,
//! `mcache`, `quick`, `hashmap`; `ours-insert`, `quick-insert`: inserts of new keys into a full cache of 10k; `files`: hits of
//! 100-byte values in a `FileCache`; `fs-read`: its floor; `ours-str`, `mcache-str`,
//! `quick-str`: hits of the `&str` figure's keys; `bcache`, `sled-cache`: 32-byte `#[bcache]`
//! and `SledCache` hits) over the hit figure's 10k entries, in a function callgrind can
//! count alone: `valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no
//! --toggle-collect='*probe::hits*' target/release/twat-cache-bench-report probe ours 100000`
//! — instruction and cache-miss counts are stable on a noisy machine, unlike times.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use twat_cache::{FileCache, MemoryCache, SledCache, bcache, mcache};
use twat_cache_bench_report::traces::Rng;

#[mcache(maxsize = 100_000)]
fn probe_mcache(x: u64) -> u64 {
    x.wrapping_mul(3)
}

#[mcache(maxsize = 100_000)]
fn probe_mcache_str(s: &str) -> Arc<String> {
    Arc::new(s.to_uppercase())
}

#[bcache(maxsize = 100_000, folder = "probe-bcache")]
fn probe_bcache(n: u64) -> [u8; 32] {
    [n as u8; 32]
}

/// 10k keys of 32–64 bytes, as the `&str` hit figure.
fn names() -> Vec<String> {
    (0..10_000)
        .map(|i| {
            format!(
                "user-{i:08}-{}",
                "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq"
            )
            .chars()
            .take(32 + (i * 7) % 33)
            .collect()
        })
        .collect()
}

#[inline(never)]
fn hits_str(names: &[String], keys: &[u64], ops: u64, get: &dyn Fn(&str) -> Arc<String>) {
    for i in 0..ops as usize {
        black_box(get(black_box(&names[keys[i & (keys.len() - 1)] as usize])));
    }
}

#[inline(never)]
fn hits(keys: &[u64], ops: u64, get: &dyn Fn(u64) -> u64) {
    for i in 0..ops as usize {
        black_box(get(black_box(keys[i & (keys.len() - 1)])));
    }
}

/// `ops` inserts of new keys into a full cache.
#[inline(never)]
fn hits_inserts(ops: u64, insert: &dyn Fn(u64)) {
    for k in 0..ops {
        insert(black_box(1_000_000 + k));
    }
}

fn inserts(ops: u64, insert: &dyn Fn(u64)) {
    hits_inserts(ops, insert);
}

pub fn run(name: &str, ops: u64) {
    let mut rng = Rng(1);
    let keys: Vec<u64> = (0..4096).map(|_| rng.next_u64() % 10_000).collect();
    match name {
        "ours" => {
            let cache: MemoryCache<u64, u64> = MemoryCache::builder().maxsize(100_000).build();
            (0..10_000).for_each(|k| cache.insert(k, k * 3));
            hits(&keys, ops, &|k| cache.get(&k).unwrap());
        }
        "mcache" => {
            (0..10_000).for_each(|k| {
                probe_mcache(k);
            });
            hits(&keys, ops, &probe_mcache);
        }
        "quick" => {
            let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(100_000);
            (0..10_000).for_each(|k| cache.insert(k, k * 3));
            hits(&keys, ops, &|k| cache.get(&k).unwrap());
        }
        "hashmap" => {
            let map: HashMap<u64, u64> = (0..10_000).map(|k| (k, k * 3)).collect();
            hits(&keys, ops, &|k| map[&k]);
        }
        "ours-insert" => {
            let cache: MemoryCache<u64, u64> = MemoryCache::builder().maxsize(10_000).build();
            (0..20_000).for_each(|k| cache.insert(k, k));
            inserts(ops, &|k| cache.insert(k, k));
        }
        "quick-insert" => {
            let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(10_000);
            (0..20_000).for_each(|k| cache.insert(k, k));
            inserts(ops, &|k| cache.insert(k, k));
        }
        "files" => {
            // 100-byte values in a `FileCache` (as the disk-hit figure): for `strace -c`.
            let dir = tempfile::tempdir().unwrap();
            let cache: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("f")).build();
            (0..1_000u64).for_each(|k| cache.insert(&k, &vec![7u8; 100]));
            hits(&keys, ops, &|k| {
                cache.get(&(k % 1_000)).unwrap().len() as u64
            });
        }
        "ours-str" => {
            let names = names();
            let cache: MemoryCache<String, Arc<String>> =
                MemoryCache::builder().maxsize(100_000).build();
            names
                .iter()
                .for_each(|n| cache.insert(n.clone(), Arc::new(n.to_uppercase())));
            hits_str(&names, &keys, ops, &|k| cache.get(k).unwrap());
        }
        "mcache-str" => {
            let names = names();
            names.iter().for_each(|n| {
                probe_mcache_str(n);
            });
            hits_str(&names, &keys, ops, &probe_mcache_str);
        }
        "quick-str" => {
            let names = names();
            let cache: quick_cache::sync::Cache<String, Arc<String>> =
                quick_cache::sync::Cache::new(100_000);
            names
                .iter()
                .for_each(|n| cache.insert(n.clone(), Arc::new(n.to_uppercase())));
            hits_str(&names, &keys, ops, &|k| cache.get(k).unwrap());
        }
        "bcache" => {
            let dir = tempfile::tempdir().unwrap();
            // SAFETY: set while this process has one thread, before a cached call reads it.
            unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
            (0..10_000).for_each(|k| {
                probe_bcache(k);
            });
            hits(&keys, ops, &|k| probe_bcache(k)[0] as u64);
        }
        "sled-cache" => {
            let dir = tempfile::tempdir().unwrap();
            let cache: SledCache<[u8; 32]> =
                SledCache::builder(dir.path().join("s"), "hits").build();
            (0..10_000u64).for_each(|k| cache.insert(&k, &[k as u8; 32]));
            hits(&keys, ops, &|k| cache.get(&k).unwrap()[0] as u64);
        }
        "fs-read" => {
            // The floor of `files`: `std::fs::read` of 1000 plain 188-byte files.
            let dir = tempfile::tempdir().unwrap();
            let paths: Vec<_> = (0..1_000).map(|k| dir.path().join(k.to_string())).collect();
            paths
                .iter()
                .for_each(|p| std::fs::write(p, [7u8; 188]).unwrap());
            hits(&keys, ops, &|k| {
                std::fs::read(&paths[k as usize % 1_000]).unwrap().len() as u64
            });
        }
        other => panic!(
            "unknown probe {other} (ours, mcache, quick, hashmap, ours-insert, quick-insert, files, fs-read, ours-str, mcache-str, quick-str, bcache, sled-cache)"
        ),
    }
}

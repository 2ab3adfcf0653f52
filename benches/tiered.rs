//! The tiered engine (memory in front of files, what `#[ucache]` expands to) against its
//! tiers alone, in one run: `cargo bench --bench tiered`.
//!
//! - L1 hit: `Tiered::get_or_insert_with` on a key held in memory, against
//!   `MemoryCache::get_or_insert_with` (the `#[mcache]` engine) — the goal is ≤ 1.1×.
//! - L2 hit: a one-entry L1 and keys cycling over 100, so every lookup misses memory, reads the
//!   file tier and fills L1 — against `FileCache::get` (the `#[fcache]` engine), for 100-byte
//!   and 1 MiB values; the goal for 1 MiB is ≤ 1.2×.

#[path = "short_group.rs"]
mod short_group;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use short_group::group;
use twat_cache::{FileCache, MemoryCache, Policy, Tiered};

fn l1_hits(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let memory: MemoryCache<u64, u64> = MemoryCache::builder().maxsize(10_000).build();
    let tiered = Tiered::new(
        MemoryCache::<u64, u64>::builder().maxsize(10_000).build(),
        FileCache::<u64>::builder(dir.path().join("l1")).build(),
    );
    for k in 0..1000u64 {
        memory.insert(k, k * k);
        tiered.insert(&k, k * k);
    }
    let mut g = group(c, "tiered L1 hit u64");
    let mut i = 0u64;
    g.bench_function("MemoryCache (#[mcache] engine)", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(memory.get_or_insert_with(black_box(i), || unreachable!()))
        })
    });
    g.bench_function("Tiered, L1 hit", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(tiered.get_or_insert_with(&black_box(i), || unreachable!()))
        })
    });
    g.finish();
}

fn l2_hits_of(c: &mut Criterion, name: &str, value: Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let files: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("files")).build();
    let tiered = Tiered::new(
        MemoryCache::<u64, Vec<u8>>::builder()
            .maxsize(1)
            .policy(Policy::Lru)
            .build(),
        FileCache::<Vec<u8>>::builder(dir.path().join("tiered")).build(),
    );
    for k in 0..100u64 {
        files.insert(&k, &value);
        tiered.insert(&k, value.clone());
    }
    let mut g = group(c, name);
    let mut i = 0u64;
    g.bench_function("FileCache::get (#[fcache] engine)", |b| {
        b.iter(|| {
            i = (i + 1) % 100;
            black_box(files.get(&black_box(i)).unwrap().len())
        })
    });
    g.bench_function("Tiered, L2 hit (fills L1)", |b| {
        b.iter(|| {
            i = (i + 1) % 100;
            black_box(
                tiered
                    .get_or_insert_with(&black_box(i), || unreachable!())
                    .len(),
            )
        })
    });
    g.finish();
}

fn l2_hits(c: &mut Criterion) {
    l2_hits_of(c, "tiered L2 hit 100 B", vec![7; 100]);
    l2_hits_of(c, "tiered L2 hit 1 MiB", vec![7; 1 << 20]);
}

criterion_group!(benches, l1_hits, l2_hits);
criterion_main!(benches);

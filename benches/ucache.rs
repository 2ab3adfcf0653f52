//! `#[ucache]` against the attributes its tiers are made of, in one run:
//! `cargo bench --bench ucache`.
//!
//! - L1 hit: a key held in the memory tier, against an `#[mcache]` hit (goal ≤ 1.1×).
//! - small L2 hit: 32-byte values, a one-entry LRU memory tier and two keys taking turns, so
//!   every call misses memory, reads the disk tier and refills memory — against a `#[bcache]`
//!   hit (sled, one process) and an `#[fcache]` hit (files, like this disk tier).
//! - 1 MiB L2 hit: a value that stays on disk only, against an `#[fcache]` hit (goal ≤ 1.2×).

#[path = "short_group.rs"]
mod short_group;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use short_group::group;
use twat_cache::{bcache, fcache, mcache, ucache};

#[mcache(maxsize = 10_000)]
fn memory_square(n: u64) -> u64 {
    n * n
}

#[ucache(maxsize = 10_000, folder = "bench-u-l1")]
fn tiered_square(n: u64) -> u64 {
    n * n
}

#[bcache(folder = "bench-b-small")]
fn sled_small(n: u64) -> [u8; 32] {
    [n as u8; 32]
}

#[fcache(folder = "bench-f-small")]
fn files_small(n: u64) -> [u8; 32] {
    [n as u8; 32]
}

#[ucache(maxsize = 1, policy = "lru", folder = "bench-u-small")]
fn tiered_small(n: u64) -> [u8; 32] {
    [n as u8; 32]
}

#[fcache(folder = "bench-f-large")]
fn files_large(n: u64) -> Vec<u8> {
    vec![n as u8; 1 << 20]
}

#[ucache(folder = "bench-u-large")]
fn tiered_large(n: u64) -> Vec<u8> {
    vec![n as u8; 1 << 20]
}

fn l1_hits(c: &mut Criterion) {
    for k in 0..1000 {
        memory_square(k);
        tiered_square(k);
    }
    let mut g = group(c, "ucache L1 hit");
    let mut i = 0u64;
    g.bench_function("#[mcache] hit", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(memory_square(black_box(i)))
        })
    });
    g.bench_function("#[ucache] memory-tier hit", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(tiered_square(black_box(i)))
        })
    });
    g.finish();
}

fn small_l2_hits(c: &mut Criterion) {
    for k in 0..2 {
        sled_small(k);
        files_small(k);
        tiered_small(k);
    }
    let mut g = group(c, "ucache L2 hit 32 B");
    let mut i = 0u64;
    g.bench_function("#[bcache] hit", |b| {
        b.iter(|| {
            i ^= 1;
            black_box(sled_small(black_box(i)))
        })
    });
    g.bench_function("#[fcache] hit", |b| {
        b.iter(|| {
            i ^= 1;
            black_box(files_small(black_box(i)))
        })
    });
    g.bench_function("#[ucache] disk-tier hit", |b| {
        b.iter(|| {
            i ^= 1;
            black_box(tiered_small(black_box(i)))
        })
    });
    g.finish();
}

fn large_l2_hits(c: &mut Criterion) {
    files_large(1);
    tiered_large(1);
    let mut g = group(c, "ucache L2 hit 1 MiB");
    g.bench_function("#[fcache] hit", |b| {
        b.iter(|| black_box(files_large(black_box(1)).len()))
    });
    g.bench_function("#[ucache] disk-tier hit", |b| {
        b.iter(|| black_box(tiered_large(black_box(1)).len()))
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    // SAFETY: set before any cache is used, while this is the only thread.
    unsafe { std::env::set_var("TWAT_CACHE_DIR", root.path()) };
    l1_hits(c);
    small_l2_hits(c);
    large_l2_hits(c);
    assert_eq!(tiered_small_cache().stats().errors, 0);
    assert!(
        tiered_small_cache()
            .tier(twat_cache::Tier::Disk)
            .unwrap()
            .hits
            > 1000
    );
    assert_eq!(
        tiered_large_cache()
            .tier(twat_cache::Tier::Memory)
            .unwrap()
            .len,
        0
    );
}

criterion_group!(ucache_benches, benches);
criterion_main!(ucache_benches);

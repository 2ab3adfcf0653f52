//! `#[ucache(backend = "redis")]` against a bare `redis` GET of the same bytes, on a loopback
//! server of its own: `cargo bench --bench redis` (needs `redis-server`; skipped without it).
//!
//! - Redis L2 hit: 32-byte values, a one-entry LRU memory tier and two keys taking turns, so
//!   every call misses memory and reads Redis — against one `GET` of the stored record on a
//!   plain connection (goal ≤ 1.3×).
//! - L1 hit: a key held in the memory tier, against an `#[mcache]` hit (Redis is not touched).

#[path = "short_group.rs"]
mod short_group;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use short_group::group;
use twat_cache::{mcache, ucache};
use twat_cache_tests::RedisServer;

#[ucache(maxsize = 1, policy = "lru", folder = "bench-redis", backend = "redis")]
fn redis_small(n: u64) -> [u8; 32] {
    [n as u8; 32]
}

#[ucache(maxsize = 10_000, folder = "bench-redis-l1", backend = "redis")]
fn redis_square(n: u64) -> u64 {
    n * n
}

#[mcache(maxsize = 10_000)]
fn memory_square(n: u64) -> u64 {
    n * n
}

fn l2_hits(c: &mut Criterion, server: &RedisServer) {
    redis_small(0);
    redis_small(1);
    let keys = server.keys("twat-cache:bench-redis:*");
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut connection = server.connection();
    let mut g = group(c, "redis L2 hit 32 B");
    let mut i = 0usize;
    g.bench_function("bare GET of the record", |b| {
        b.iter(|| {
            i ^= 1;
            let bytes: Vec<u8> = redis::cmd("GET")
                .arg(&keys[i])
                .query(&mut connection)
                .unwrap();
            black_box(bytes)
        })
    });
    let mut n = 0u64;
    g.bench_function("#[ucache(backend = \"redis\")] Redis hit", |b| {
        b.iter(|| {
            n ^= 1;
            black_box(redis_small(black_box(n)))
        })
    });
    g.finish();
}

fn l1_hits(c: &mut Criterion) {
    for k in 0..1000 {
        memory_square(k);
        redis_square(k);
    }
    let mut g = group(c, "redis L1 hit");
    let mut i = 0u64;
    g.bench_function("#[mcache] hit", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(memory_square(black_box(i)))
        })
    });
    g.bench_function("#[ucache(backend = \"redis\")] memory-tier hit", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(redis_square(black_box(i)))
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let Some(server) = RedisServer::start("bench redis") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // SAFETY: set before any cache is used, while this is the only thread.
    unsafe {
        std::env::set_var("TWAT_CACHE_DIR", root.path());
        std::env::set_var("TWAT_CACHE_REDIS_URL", server.url());
    }
    l2_hits(c, &server);
    l1_hits(c);
    let disk = redis_small_cache().tier(twat_cache::Tier::Disk).unwrap();
    assert_eq!(redis_small_cache().stats().errors, 0);
    assert!(disk.hits > 1000, "the L2 bench read Redis: {disk:?}");
}

criterion_group!(redis_benches, benches);
criterion_main!(redis_benches);

//! Disk caches: `SledCache` (what `#[bcache]` expands to) against `cached`'s redb store and raw
//! sled as the floor. `cargo bench --bench disk`.
//!
//! - hit: a stored `u64 -> u64` entry read back (raw sled: `get` of pre-serialized bytes, no
//!   decoding, with 1-byte keys and with 32-byte hashed keys like ours; `SledCache`: serialize the
//!   key, BLAKE3 it, get, verify the checksum and the key, decode; also through `#[bcache]`);
//! - insert: store a value (small `u64`, and 64 KiB) under one of 1000 cycling keys.
//!
//! - file cache: `FileCache` (what `#[fcache]` expands to) against `SledCache` and the redb store
//!   for 1 KiB and 1 MiB values: hit, and miss + insert (+ remove, to miss again).
//!
//! Flushing: sled flushes every 500 ms in the background; the redb store is measured with
//! `durable(false)` (same lazy durability) and, for inserts, with its default `durable(true)`
//! (an fsync per write) for reference.

#[path = "short_group.rs"]
mod short_group;

use std::hint::black_box;

use cached::stores::RedbCache;
use cached::{ConcurrentCached, SerializeCached};
use criterion::{Criterion, criterion_group, criterion_main};
use short_group::group;
use twat_cache::{FileCache, SledCache, bcache};

const KEYS: u64 = 1000;

#[bcache(folder = "bench", name = "bench_square")]
fn square(n: u64) -> u64 {
    n.wrapping_mul(n)
}

fn redb<V: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    dir: &std::path::Path,
    name: &str,
    durable: bool,
) -> RedbCache<u64, V> {
    RedbCache::<u64, V>::builder(name)
        .disk_dir(dir)
        .durable(durable)
        .build()
        .expect("redb store")
}

fn hits(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: set before the attribute's cache is first used; benches are single-threaded here.
    unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
    let sled_db = sled::open(dir.path().join("raw")).unwrap();
    let ours: SledCache<u64> = SledCache::builder(dir.path().join("ours"), "hits").build();
    let theirs = redb::<u64>(dir.path(), "hits", false);
    for k in 0..KEYS {
        sled_db
            .insert(
                postcard::to_allocvec(&k).unwrap(),
                postcard::to_allocvec(&(k * k)).unwrap(),
            )
            .unwrap();
        ours.insert(&k, &(k * k));
        theirs.cache_set(k, k * k).unwrap();
        square(k);
    }
    let keys: Vec<Vec<u8>> = (0..KEYS)
        .map(|k| postcard::to_allocvec(&k).unwrap())
        .collect();
    let mut g = group(c, "disk hit u64");
    let mut i = 0u64;
    g.bench_function("raw sled get (floor)", |b| {
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(sled_db.get(&keys[i as usize]).unwrap())
        })
    });
    // Entry ids are 32-byte hashes, spread over the tree: the floor for a hashed-key store.
    let long: Vec<[u8; 32]> = (0..KEYS)
        .map(|k| *blake3::hash(&k.to_le_bytes()).as_bytes())
        .collect();
    for id in &long {
        sled_db.insert(id, vec![7u8; 60]).unwrap();
    }
    g.bench_function("raw sled get, 32-byte hashed keys", |b| {
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(sled_db.get(long[i as usize]).unwrap())
        })
    });
    g.bench_function("twat_cache SledCache::get", |b| {
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(ours.get(&i).unwrap())
        })
    });
    g.bench_function("twat_cache #[bcache]", |b| {
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(square(black_box(i)))
        })
    });
    g.bench_function("cached RedbCache::cache_get", |b| {
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(theirs.cache_get(&i).unwrap().unwrap())
        })
    });
    g.finish();
}

fn inserts(c: &mut Criterion) {
    for (label, size) in [("u64", 8usize), ("64KiB", 64 * 1024)] {
        let dir = tempfile::tempdir().unwrap();
        let value: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let sled_db = sled::open(dir.path().join("raw")).unwrap();
        let ours: SledCache<Vec<u8>> = SledCache::builder(dir.path().join("ours"), "ins").build();
        let theirs = redb::<Vec<u8>>(dir.path(), "lazy", false);
        let theirs_durable = redb::<Vec<u8>>(dir.path(), "durable", true);
        let mut g = group(c, &format!("disk insert {label}"));
        let mut i = 0u64;
        g.bench_function("raw sled insert (floor)", |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                let bytes = postcard::to_allocvec(&value).unwrap();
                sled_db.insert(i.to_le_bytes(), bytes).unwrap();
            })
        });
        g.bench_function("twat_cache SledCache::insert", |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                ours.insert(&i, &value);
            })
        });
        g.bench_function("cached RedbCache (durable=false)", |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                theirs.cache_set_ref(&i, &value).unwrap();
            })
        });
        g.bench_function("cached RedbCache (durable=true)", |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                theirs_durable.cache_set_ref(&i, &value).unwrap();
            })
        });
        g.finish();
    }
}

/// `#[fcache]`'s engine against `#[bcache]`'s and cached's redb store, for 1 KiB and 1 MiB
/// values: a hit, and a miss + insert (a fresh key each time, like a cached call's miss).
fn files(c: &mut Criterion) {
    for (label, size) in [("1KiB", 1024usize), ("1MiB", 1 << 20)] {
        let dir = tempfile::tempdir().unwrap();
        let value: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let file: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("files")).build();
        let sled_cache: SledCache<Vec<u8>> =
            SledCache::builder(dir.path().join("sled"), "files").build();
        let theirs = redb::<Vec<u8>>(dir.path(), "files", false);
        for k in 0..100u64 {
            file.insert(&k, &value);
            sled_cache.insert(&k, &value);
            theirs.cache_set_ref(&k, &value).unwrap();
        }
        let mut g = group(c, &format!("file cache {label}"));
        let mut i = 0u64;
        g.bench_function("hit: FileCache (#[fcache])", |b| {
            b.iter(|| {
                i = (i + 7) % 100;
                black_box(file.get(&i).unwrap())
            })
        });
        g.bench_function("hit: SledCache (#[bcache])", |b| {
            b.iter(|| {
                i = (i + 7) % 100;
                black_box(sled_cache.get(&i).unwrap())
            })
        });
        g.bench_function("hit: cached RedbCache", |b| {
            b.iter(|| {
                i = (i + 7) % 100;
                black_box(theirs.cache_get(&i).unwrap().unwrap())
            })
        });
        // Misses cycle through 1000 fresh keys above the stored ones; the entry is removed after
        // each insert so the next round misses again and the folder stays small.
        let mut k = 1_000u64;
        g.bench_function("miss+insert: FileCache (#[fcache])", |b| {
            b.iter(|| {
                k = 1_000 + (k + 1) % 1_000;
                black_box(file.get(&k));
                file.insert(&k, &value);
                file.remove(&k);
            })
        });
        g.bench_function("miss+insert: SledCache (#[bcache])", |b| {
            b.iter(|| {
                k = 1_000 + (k + 1) % 1_000;
                black_box(sled_cache.get(&k));
                sled_cache.insert(&k, &value);
                sled_cache.remove(&k);
            })
        });
        g.bench_function("miss+insert: cached RedbCache", |b| {
            b.iter(|| {
                k = 1_000 + (k + 1) % 1_000;
                black_box(theirs.cache_get(&k).unwrap());
                theirs.cache_set_ref(&k, &value).unwrap();
                theirs.cache_remove(&k).unwrap();
            })
        });
        g.finish();
    }
}

criterion_group!(benches, hits, inserts, files);
criterion_main!(benches);

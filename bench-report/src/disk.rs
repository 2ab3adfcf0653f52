//! Disk caches: hot hits and inserts of small (32 B) and large (1 MiB) values, against
//! `cached`'s redb store and the raw stores (sled, `std::fs`).

use std::hint::black_box;
use std::path::Path;

use cached::ConcurrentCached;
use cached::stores::RedbCache;
use twat_cache::{FileCache, SledCache, bcache};

use crate::figure::Bars;
use crate::timing::{Contender, ns_per_op};

const KEYS: u64 = 20_000;

#[bcache(maxsize = 100_000, folder = "report-bcache")]
fn bcache_small(n: u64) -> [u8; 32] {
    [n as u8; 32]
}

fn redb<V: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    dir: &Path,
    name: &str,
) -> RedbCache<u64, V> {
    RedbCache::<u64, V>::builder(name)
        .disk_dir(dir)
        .durable(false)
        .build()
        .expect("redb store")
}

/// Steps through `0..keys` with a stride, so consecutive reads are far apart.
fn stride(i: &mut u64, keys: u64) -> u64 {
    *i = (*i + 7919) % keys;
    *i
}

pub fn small_hits(dir: &Path) -> Bars {
    let raw = sled::open(dir.join("raw")).unwrap();
    let ours: SledCache<[u8; 32]> = SledCache::builder(dir.join("ours"), "hits").build();
    let theirs = redb::<[u8; 32]>(dir, "small");
    // The raw floor: what an entry of ours is in sled — a 32-byte hashed id and a record.
    let ids: Vec<[u8; 32]> = (0..KEYS)
        .map(|k| *blake3::hash(&k.to_le_bytes()).as_bytes())
        .collect();
    for k in 0..KEYS {
        raw.insert(ids[k as usize], vec![7u8; 32 + 90]).unwrap();
        ours.insert(&k, &[k as u8; 32]);
        theirs.cache_set(k, [k as u8; 32]).unwrap();
        bcache_small(k);
    }
    let (mut a, mut b, mut c, mut d) = (0, 0, 0, 0);
    let mut contenders = vec![
        Contender::new("raw sled get, 32-byte key (floor)", |n| {
            for _ in 0..n {
                black_box(raw.get(ids[stride(&mut a, KEYS) as usize]).unwrap());
            }
        }),
        Contender::new("twat_cache #[bcache]", |n| {
            for _ in 0..n {
                black_box(bcache_small(black_box(stride(&mut b, KEYS))));
            }
        }),
        Contender::new("twat_cache SledCache::get", |n| {
            for _ in 0..n {
                black_box(ours.get(&stride(&mut c, KEYS)).unwrap());
            }
        }),
        Contender::new("cached RedbCache::cache_get", |n| {
            for _ in 0..n {
                black_box(theirs.cache_get(&stride(&mut d, KEYS)).unwrap().unwrap());
            }
        }),
    ];
    Bars {
        id: "disk_hit_small",
        title: "disk hit, 32-byte values, 20k entries".into(),
        unit: "ns",
        lower_is_better: true,
        rows: ns_per_op(&mut contenders, 20_000),
        how: "20k entries of 32-byte values, hot (in the OS page cache), read with a stride; \
              the floor is a raw sled `get` of a 32-byte key holding a record of the same size."
            .into(),
    }
}

/// Hits of files: 100-byte values in `FileCache` against `std::fs::read` of a 100-byte file,
/// and 1 MiB values against `fs::read`, `SledCache` and redb.
pub fn file_hits(dir: &Path) -> Vec<Bars> {
    let mut out = Vec::new();
    for (label, size, keys, ops) in [
        ("100 B", 100usize, 1_000u64, 2_000u64),
        ("1 MiB", 1 << 20, 8, 16),
    ] {
        let value: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let files = dir.join(format!("plain-{size}"));
        std::fs::create_dir_all(&files).unwrap();
        let paths: Vec<_> = (0..keys).map(|k| files.join(k.to_string())).collect();
        let fcache: FileCache<Vec<u8>> = FileCache::builder(dir.join(format!("f-{size}"))).build();
        let sled: SledCache<Vec<u8>> =
            SledCache::builder(dir.join(format!("s-{size}")), "t").build();
        let theirs = redb::<Vec<u8>>(dir, &format!("files-{size}"));
        for k in 0..keys {
            std::fs::write(&paths[k as usize], &value).unwrap();
            fcache.insert(&k, &value);
            sled.insert(&k, &value);
            theirs.cache_set(k, value.clone()).unwrap();
        }
        let (mut a, mut b, mut c, mut d) = (0, 0, 0, 0);
        let mut contenders = vec![
            Contender::new("std::fs::read of the same bytes (floor)", |n| {
                for _ in 0..n {
                    black_box(std::fs::read(&paths[stride(&mut a, keys) as usize]).unwrap());
                }
            }),
            Contender::new("twat_cache FileCache::get (#[fcache])", |n| {
                for _ in 0..n {
                    black_box(fcache.get(&stride(&mut b, keys)).unwrap());
                }
            }),
            Contender::new("twat_cache SledCache::get (#[bcache])", |n| {
                for _ in 0..n {
                    black_box(sled.get(&stride(&mut c, keys)).unwrap());
                }
            }),
            Contender::new("cached RedbCache::cache_get", |n| {
                for _ in 0..n {
                    black_box(theirs.cache_get(&stride(&mut d, keys)).unwrap().unwrap());
                }
            }),
        ];
        out.push(Bars {
            id: if size == 100 {
                "disk_hit_100b"
            } else {
                "disk_hit_1mib"
            },
            title: format!("disk hit, {label} values"),
            unit: "µs",
            lower_is_better: true,
            rows: micros(ns_per_op(&mut contenders, ops)),
            how: format!(
                "{keys} entries of {label}, hot; every hit reads and checks the whole value."
            ),
        });
    }
    out
}

/// Inserts of new keys, 32 B and 1 MiB values.
pub fn inserts(dir: &Path) -> Vec<Bars> {
    let mut out = Vec::new();
    for (label, size, ops) in [("32 B", 32usize, 1_000u64), ("1 MiB", 1 << 20, 8)] {
        let value: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let raw = sled::open(dir.join(format!("raw-ins-{size}"))).unwrap();
        let fcache: FileCache<Vec<u8>> = FileCache::builder(dir.join(format!("fi-{size}"))).build();
        let sled: SledCache<Vec<u8>> =
            SledCache::builder(dir.join(format!("si-{size}")), "t").build();
        let theirs = redb::<Vec<u8>>(dir, &format!("ins-{size}"));
        let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
        let value = &value;
        let mut contenders = vec![
            Contender::new("raw sled insert (floor)", |n| {
                for _ in 0..n {
                    a += 1;
                    raw.insert(blake3::hash(&a.to_le_bytes()).as_bytes(), value.as_slice())
                        .unwrap();
                }
            }),
            Contender::new("twat_cache FileCache::insert (#[fcache])", |n| {
                for _ in 0..n {
                    b += 1;
                    fcache.insert(&b, value);
                }
            }),
            Contender::new("twat_cache SledCache::insert (#[bcache])", |n| {
                for _ in 0..n {
                    c += 1;
                    sled.insert(&c, value);
                }
            }),
            Contender::new("cached RedbCache::cache_set", |n| {
                for _ in 0..n {
                    d += 1;
                    theirs.cache_set(d, value.clone()).unwrap();
                }
            }),
        ];
        out.push(Bars {
            id: if size == 32 { "disk_insert_32b" } else { "disk_insert_1mib" },
            title: format!("disk insert, {label} values"),
            unit: "µs",
            lower_is_better: true,
            rows: micros(ns_per_op(&mut contenders, ops)),
            how: format!("new keys with {label} values; redb without fsync per commit (`durable(false)`), as sled and files do."),
        });
    }
    out
}

fn micros(rows: Vec<(String, f64)>) -> Vec<(String, f64)> {
    rows.into_iter().map(|(n, ns)| (n, ns / 1000.0)).collect()
}

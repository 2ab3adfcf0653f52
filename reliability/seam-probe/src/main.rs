//! `twat-cache-seam-probe KIND CALLS`: makes `CALLS` calls of one kind on a fresh cache in a
//! temp dir, so that callgrind can count what they cost. KIND is `fcache-hit`, `bcache-hit`,
//! `fcache-miss` or `bcache-miss`. Run it twice with different CALLS and subtract, so the
//! set-up cancels out (see `reliability/seam_cost.sh`).

use std::hint::black_box;

use twat_cache::{FileCache, SledCache};

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().expect("KIND");
    let calls: u64 = args
        .next()
        .expect("CALLS")
        .parse()
        .expect("CALLS: a number");
    let dir = tempfile::tempdir().expect("a temp dir");
    let value = vec![7u8; 32];
    match kind.as_str() {
        "fcache-hit" | "fcache-miss" => {
            let cache: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("f")).build();
            run(
                &kind,
                calls,
                &value,
                |k| cache.get(k),
                |k, v| cache.insert(k, v),
            );
        }
        "bcache-hit" | "bcache-miss" => {
            let cache: SledCache<Vec<u8>> = SledCache::builder(dir.path().join("b"), "t").build();
            run(
                &kind,
                calls,
                &value,
                |k| cache.get(k),
                |k, v| cache.insert(k, v),
            );
        }
        other => panic!("unknown KIND {other}"),
    }
}

/// Hits: one entry, read `calls` times. Misses: `calls` new keys, each looked up and stored.
/// (Not inlined: the script counts the instructions inside this function only, on any thread,
/// so sled's background threads are left out.)
#[inline(never)]
fn run(
    kind: &str,
    calls: u64,
    value: &Vec<u8>,
    get: impl Fn(&u64) -> Option<Vec<u8>>,
    insert: impl Fn(&u64, &Vec<u8>),
) {
    if kind.ends_with("hit") {
        insert(&0, value);
        for _ in 0..calls {
            assert!(black_box(get(black_box(&0))).is_some());
        }
    } else {
        for k in 0..calls {
            assert!(get(&k).is_none());
            insert(&k, value);
        }
    }
}

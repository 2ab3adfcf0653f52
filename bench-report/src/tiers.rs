//! What each attribute adds to a call (its hit against the bare function), `#[ucache]` per
//! tier, and the Redis tier against a bare `GET`.

use std::hint::black_box;

use cached::macros::cached;
use twat_cache::{bcache, fcache, mcache, ucache};
use twat_cache_tests::RedisServer;

use crate::figure::Bars;
use crate::timing::{Contender, ns_per_op};

fn bare(n: u64) -> u64 {
    n.wrapping_mul(n)
}

#[mcache]
fn m(n: u64) -> u64 {
    bare(n)
}

#[bcache(folder = "report-overhead")]
fn b(n: u64) -> u64 {
    bare(n)
}

#[fcache(folder = "report-overhead")]
fn f(n: u64) -> u64 {
    bare(n)
}

#[ucache(folder = "report-overhead")]
fn u(n: u64) -> u64 {
    bare(n)
}

/// A one-entry memory tier and keys taking turns: every call misses memory, hits the disk tier.
#[ucache(folder = "report-l2", maxsize = 1, policy = "lru")]
fn u_l2(n: u64) -> u64 {
    bare(n)
}

#[cached]
fn c(n: u64) -> u64 {
    bare(n)
}

const KEYS: u64 = 1_000;

/// A contender calling `call` over `0..keys` round robin.
fn caller<'a>(name: &str, keys: u64, call: fn(u64) -> u64) -> Contender<'a> {
    let mut i = 0;
    Contender::new(name, move |n| {
        for _ in 0..n {
            i = (i + 1) % keys;
            black_box(call(black_box(i)));
        }
    })
}

/// Hits of every attribute (1k keys, all cached) and the bare function.
pub fn overhead() -> Bars {
    for k in 0..KEYS {
        m(k);
        b(k);
        f(k);
        u(k);
        c(k);
    }
    let mut contenders = vec![
        caller("bare function (floor)", KEYS, bare),
        caller("twat_cache #[mcache] hit", KEYS, m),
        caller("twat_cache #[ucache] hit (memory tier)", KEYS, u),
        caller("twat_cache #[bcache] hit", KEYS, b),
        caller("cached #[cached] hit", KEYS, c),
    ];
    let mut rows = ns_per_op(&mut contenders, 100_000);
    // Files cost microseconds: fewer calls.
    let mut files = vec![caller("twat_cache #[fcache] hit", KEYS, f)];
    rows.extend(ns_per_op(&mut files, 2_000));
    // What each adds to the bare function.
    let bare_ns = rows.remove(0).1;
    let rows = rows
        .into_iter()
        .map(|(name, ns)| (name, (ns - bare_ns).max(0.0)))
        .collect();
    Bars {
        id: "per_call",
        title: "what an attribute adds to a call (a hit)".into(),
        unit: "ns",
        lower_is_better: true,
        rows,
        how: format!(
            "`fn(u64) -> u64`, 1k keys all cached, called round robin, default options; each \
             row is the call's time minus the bare function's ({bare_ns:.1} ns). The ratio is \
             to `cached`'s in-memory `#[cached]`; the disk attributes pay for reading storage."
        ),
    }
}

/// `#[ucache]` per tier: memory-tier hits against `#[mcache]`, disk-tier hits against
/// `#[fcache]`.
pub fn ucache_tiers() -> Vec<Bars> {
    u_l2(0);
    u_l2(1);
    let mut memory = vec![
        caller("#[mcache] hit (reference)", KEYS, m),
        caller("twat_cache #[ucache] memory-tier hit", KEYS, u),
    ];
    let mut turn = 0u64;
    let mut disk = vec![
        caller("#[fcache] hit (reference)", KEYS, f),
        Contender::new("twat_cache #[ucache] disk-tier hit", move |n| {
            for _ in 0..n {
                turn ^= 1;
                black_box(u_l2(black_box(turn)));
            }
        }),
    ];
    vec![
        Bars {
            id: "ucache_memory_tier",
            title: "#[ucache] memory-tier hit".into(),
            unit: "ns",
            lower_is_better: true,
            rows: ns_per_op(&mut memory, 100_000),
            how: "1k keys held in the memory tier, against the same call under `#[mcache]`.".into(),
        },
        Bars {
            id: "ucache_disk_tier",
            title: "#[ucache] disk-tier hit".into(),
            unit: "µs",
            lower_is_better: true,
            rows: ns_per_op(&mut disk, 2_000)
                .into_iter()
                .map(|(n, ns)| (n, ns / 1000.0))
                .collect(),
            how: "a one-entry memory tier and two keys taking turns, so each call misses memory \
                  and reads its file (then fills memory), against an `#[fcache]` hit."
                .into(),
        },
    ]
}

#[ucache(
    maxsize = 1,
    policy = "lru",
    folder = "report-redis",
    backend = "redis"
)]
fn redis_small(n: u64) -> [u8; 32] {
    [n as u8; 32]
}

/// A Redis-tier hit against a bare `GET` of the same stored record.
pub fn redis(server: &RedisServer) -> Bars {
    redis_small(0);
    redis_small(1);
    let keys = server.keys("twat-cache:report-redis:*");
    let keys: Vec<String> = keys.into_iter().filter(|k| !k.contains(":lock:")).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut connection = server.connection();
    let (mut i, mut turn) = (0usize, 0u64);
    let mut contenders = vec![
        Contender::new("bare redis GET of the same record (floor)", |n| {
            for _ in 0..n {
                i ^= 1;
                let bytes: Vec<u8> = redis::cmd("GET")
                    .arg(&keys[i])
                    .query(&mut connection)
                    .unwrap();
                black_box(bytes);
            }
        }),
        Contender::new(
            "twat_cache #[ucache(backend = \"redis\")] Redis hit",
            move |n| {
                for _ in 0..n {
                    turn ^= 1;
                    black_box(redis_small(black_box(turn)));
                }
            },
        ),
    ];
    Bars {
        id: "redis_hit",
        title: "Redis-tier hit, 32-byte value, loopback".into(),
        unit: "µs",
        lower_is_better: true,
        rows: ns_per_op(&mut contenders, 2_000)
            .into_iter()
            .map(|(n, ns)| (n, ns / 1000.0))
            .collect(),
        how: "a one-entry memory tier and two keys taking turns, so every call reads Redis; \
              the floor is one `GET` of the stored record on a plain connection."
            .into(),
    }
}

//! A generic return type under the disk attributes (issue 24 item 6): with `key = s` and `T`
//! only in the return type, each instantiation must get its own entry. The entry id derives
//! from the value type's layout too, so `parse::<u32>("7")` and `parse::<u64>("7")` no longer
//! overwrite each other's entry (before: 12 calls, 12 runs, 0 hits).
#![deny(warnings)]

use std::str::FromStr;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache::{Tier, bcache, fcache, ucache};
use twat_cache_tests::{Calls, RedisServer, isolated_cache_root};

/// Calls `u32` then `u64` six times each, alternating.
fn alternate(parse_u32: fn(&str) -> Option<u32>, parse_u64: fn(&str) -> Option<u64>) {
    for _ in 0..6 {
        assert_eq!(parse_u32("7"), Some(7));
        assert_eq!(parse_u64("7"), Some(7));
    }
}

/// `#[ucache(maxsize = 1)]`: stores "7" for both types, pushes it out of both memory tiers with
/// "8", then reads "7" of both types back from the second tier.
fn through_disk(parse_u32: fn(&str) -> Option<u32>, parse_u64: fn(&str) -> Option<u64>) {
    for s in ["7", "8", "7"] {
        assert_eq!(parse_u32(s), s.parse().ok());
        assert_eq!(parse_u64(s), s.parse().ok());
    }
}

static SLED_CALLS: Calls = Calls::new();

#[bcache(folder = "review-generic-ret", key = s)]
fn sled_parse<T: FromStr + Serialize + DeserializeOwned + Clone + Send + Sync + 'static>(
    s: &str,
) -> Option<T> {
    SLED_CALLS.hit();
    s.parse().ok()
}

#[test]
fn bcache_keeps_one_entry_per_return_type() {
    isolated_cache_root();
    alternate(sled_parse::<u32>, sled_parse::<u64>);
    assert_eq!(SLED_CALLS.get(), 2, "one run per instantiation");
    assert_eq!(sled_parse_cache().stats().hits, 10);
    assert_eq!(sled_parse_cache().stats().len, 2);
    // Invalidating one instantiation leaves the other's entry alone.
    assert!(sled_parse_invalidate::<u32>("7"));
    assert!(!sled_parse_invalidate::<u32>("7"));
    assert!(sled_parse_invalidate::<u64>("7"));
}

static FILE_CALLS: Calls = Calls::new();

#[fcache(folder = "review-generic-ret-files", key = s)]
fn file_parse<T: FromStr + Serialize + DeserializeOwned + Clone + Send + Sync + 'static>(
    s: &str,
) -> Option<T> {
    FILE_CALLS.hit();
    s.parse().ok()
}

#[test]
fn fcache_keeps_one_entry_per_return_type() {
    isolated_cache_root();
    alternate(file_parse::<u32>, file_parse::<u64>);
    assert_eq!(FILE_CALLS.get(), 2, "one run per instantiation");
    assert_eq!(file_parse_cache().stats().hits, 10);
    assert_eq!(file_parse_cache().stats().len, 2);
}

static TIERED_CALLS: Calls = Calls::new();

// `maxsize = 1`: each instantiation has its own memory tier of one entry, so `through_disk`
// reads its first key back from the disk tier.
#[ucache(folder = "review-generic-ret-tiered", key = s, maxsize = 1)]
fn tiered_parse<T: FromStr + Serialize + DeserializeOwned + Clone + Send + Sync + 'static>(
    s: &str,
) -> Option<T> {
    TIERED_CALLS.hit();
    s.parse().ok()
}

#[test]
fn ucache_disk_tier_keeps_one_entry_per_return_type() {
    isolated_cache_root();
    through_disk(tiered_parse::<u32>, tiered_parse::<u64>);
    assert_eq!(TIERED_CALLS.get(), 4, "one run per instantiation and key");
    let disk = tiered_parse_cache().tier(Tier::Disk).unwrap();
    assert_eq!((disk.hits, disk.len), (2, 4));
}

fn redis() -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let server = RedisServer::start("review_generic_return")?;
            // SAFETY: set once, before any Redis cache of this binary opens.
            unsafe { std::env::set_var("TWAT_CACHE_REDIS_URL", server.url()) };
            isolated_cache_root();
            Some(server)
        })
        .as_ref()
}

static REDIS_CALLS: Calls = Calls::new();

#[ucache(folder = "review-generic-ret-redis", key = s, maxsize = 1, backend = "redis")]
fn redis_parse<T: FromStr + Serialize + DeserializeOwned + Clone + Send + Sync + 'static>(
    s: &str,
) -> Option<T> {
    REDIS_CALLS.hit();
    s.parse().ok()
}

#[test]
fn redis_tier_keeps_one_entry_per_return_type() {
    if redis().is_none() {
        return;
    }
    through_disk(redis_parse::<u32>, redis_parse::<u64>);
    assert_eq!(REDIS_CALLS.get(), 4, "one run per instantiation and key");
    let disk = redis_parse_cache().tier(Tier::Disk).unwrap();
    assert_eq!((disk.hits, disk.len), (2, 4));
}

//! Sizes, counts and TTLs from constants and const expressions; compound durations.
#![deny(warnings)]

use std::time::Duration;

use twat_cache::{mcache, ucache};
use twat_cache_tests::isolated_cache_root;

const MAX: usize = 3;
const TTL: Duration = Duration::from_secs(90);
const TTL_SECS: u64 = 45;
const BUDGET: u64 = 1 << 20;

#[mcache(maxsize = MAX, ttl = TTL)]
fn bounded(x: u32) -> u32 {
    x
}

#[mcache(ttl = Duration::from_millis(1500), max_bytes = BUDGET * 2)]
fn by_expression(x: u32) -> u32 {
    x
}

#[mcache(ttl = TTL_SECS)]
fn in_seconds(x: u32) -> u32 {
    x
}

#[mcache(ttl = "1h30m")]
fn compound(x: u32) -> u32 {
    x
}

#[ucache(folder = "const-options", maxsize = MAX * 2, disk_max_bytes = BUDGET, ttl = TTL)]
fn tiered(x: u32) -> u32 {
    x
}

#[test]
fn constants_and_expressions_set_the_options() {
    isolated_cache_root();
    for x in 0..10 {
        bounded(x);
    }
    assert!(bounded_cache().len() <= MAX, "maxsize = MAX holds");
    assert_eq!(bounded_cache().ttl(), Some(TTL));
    by_expression(1);
    assert_eq!(
        by_expression_cache().ttl(),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(in_seconds_cache().ttl(), Some(Duration::from_secs(45)));
    assert_eq!(compound_cache().ttl(), Some(Duration::from_secs(5400)));
    for x in 0..20 {
        tiered(x);
    }
    let memory = tiered_cache().tier(twat_cache::Tier::Memory).unwrap();
    assert!(
        memory.len <= (MAX * 2) as u64,
        "memory tier bounded by MAX * 2"
    );
    assert_eq!(tiered_cache().len(), 20, "the disk tier keeps them all");
}

//! The fallback warning names where the cache storage is in a field called `location` (a
//! Redis tier's is a URL, not a folder), and a Redis password never appears in it (issue 24,
//! item 10). No server is needed: the cache points at a port nothing listens on.
#![deny(warnings)]

use std::time::Duration;

use twat_cache::RedisCache;
use twat_cache_tests::events_during;

const PASSWORD: &str = "pw-Lq4vT9-never-shown";

#[test]
fn the_fallback_warning_names_a_redis_tier_by_location_without_its_password() {
    // Port 1 on loopback: refused at once, so the cache falls back and warns.
    let url = format!("redis://user:{PASSWORD}@127.0.0.1:1");
    let ((), events) = events_during(|| {
        let cache: RedisCache<u64> =
            RedisCache::builder(&url, "twat-cache:geo:app.geocode:0123456789abcdef")
                .timeout(Duration::from_millis(200))
                .build();
        cache.insert(&1u64, &1);
        assert_eq!(cache.get(&1u64), Some(1), "answers from its fallback");
        assert!(cache.is_fallback());
    });
    let warning = events
        .iter()
        .find(|e| e.contains("failed"))
        .unwrap_or_else(|| panic!("no fallback warning among {events:?}"));
    assert!(
        warning.contains("location=redis://127.0.0.1:1/"),
        "the warning names the Redis tier as its location: {warning}"
    );
    assert!(
        !warning.contains("folder="),
        "a URL is not a folder: {warning}"
    );
    assert!(
        !warning.contains(PASSWORD),
        "the warning shows the password: {warning}"
    );
}

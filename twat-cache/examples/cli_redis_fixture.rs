//! Fills a Redis server (`TWAT_CACHE_REDIS_URL`) for the `twat-cache --redis` tests: three
//! entries of one `#[ucache(backend = "redis")]` function.

use twat_cache::ucache;

#[ucache(folder = "shared", backend = "redis", version = "1")]
fn label(city: &str) -> String {
    city.to_uppercase()
}

fn main() {
    for city in ["Paris", "Oslo", "Lima"] {
        label(city);
    }
    assert_eq!(label_cache().stats().errors, 0, "the server answered");
}

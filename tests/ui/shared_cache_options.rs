use std::sync::LazyLock;
use twat_cache::{mcache, MemoryCache};

static NAMES: LazyLock<MemoryCache<(u64,), String>> = LazyLock::new(|| MemoryCache::builder().build());

#[mcache(cache = NAMES, maxsize = 10, ttl = "1m")]
fn name(id: u64) -> String { id.to_string() }

fn main() { name(1); }

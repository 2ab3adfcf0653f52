//! Each policy's eviction order on small deterministic sequences, through the engine and through
//! the attribute.

use twat_cache::{MemoryCache, Policy, mcache};
use twat_cache_tests::Calls;

fn cache(policy: Policy, maxsize: usize) -> MemoryCache<u32, u32> {
    MemoryCache::builder()
        .maxsize(maxsize)
        .policy(policy)
        .shards(1)
        .build()
}

fn resident(c: &MemoryCache<u32, u32>, keys: impl IntoIterator<Item = u32>) -> Vec<u32> {
    keys.into_iter().filter(|k| c.contains_key(k)).collect()
}

#[test]
fn lru_evicts_least_recently_used() {
    let c = cache(Policy::Lru, 3);
    for k in [1, 2, 3] {
        c.insert(k, k);
    }
    assert_eq!(c.get(&1), Some(1));
    c.insert(4, 4);
    assert_eq!(
        resident(&c, 1..=4),
        vec![1, 3, 4],
        "2 was least recently used"
    );
    assert_eq!(c.get(&3), Some(3));
    c.insert(5, 5);
    assert_eq!(resident(&c, 1..=5), vec![3, 4, 5], "then 1");
    assert_eq!(c.stats().evictions, 2);
}

#[test]
fn fifo_evicts_oldest_insert_regardless_of_hits() {
    let c = cache(Policy::Fifo, 3);
    for k in [1, 2, 3] {
        c.insert(k, k);
    }
    assert_eq!(c.get(&1), Some(1));
    c.insert(4, 4);
    assert_eq!(resident(&c, 1..=4), vec![2, 3, 4]);
    c.insert(5, 5);
    assert_eq!(resident(&c, 1..=5), vec![3, 4, 5]);
}

#[test]
fn lfu_evicts_least_frequent_then_least_recent() {
    let c = cache(Policy::Lfu, 3);
    for k in [1, 2, 3] {
        c.insert(k, k);
    }
    c.get(&1);
    c.get(&1);
    c.get(&2);
    c.insert(4, 4);
    assert_eq!(resident(&c, 1..=4), vec![1, 2, 4], "3 was used least");
    c.insert(5, 5);
    assert_eq!(
        resident(&c, 1..=5),
        vec![1, 2, 5],
        "4 and 5 tie at one use; 4 is older"
    );
    c.get(&5);
    c.get(&5);
    c.get(&5);
    c.insert(6, 6);
    assert_eq!(
        resident(&c, 1..=6),
        vec![1, 5, 6],
        "2 (two uses) is now the least frequent"
    );
}

#[test]
fn lfu_survives_invalidation_of_the_least_frequent_bucket() {
    let c = cache(Policy::Lfu, 2);
    c.insert(1, 1);
    c.insert(2, 2);
    c.get(&2);
    assert!(c.remove(&1));
    c.insert(3, 3);
    c.insert(4, 4);
    assert_eq!(resident(&c, 1..=4), vec![2, 4]);
}

#[test]
fn tinylfu_keeps_frequent_keys_through_a_scan() {
    let c = cache(Policy::TinyLfu, 100);
    for round in 0..5 {
        for hot in 0..50 {
            if c.get(&hot).is_none() {
                c.insert(hot, hot + round);
            }
        }
    }
    // A one-pass scan of 1000 new keys.
    for cold in 1000..2000 {
        if c.get(&cold).is_none() {
            c.insert(cold, cold);
        }
    }
    let kept = resident(&c, 0..50).len();
    assert_eq!(kept, 50, "the scan must not flush frequently used keys");
    assert!(c.len() <= 100);

    let lru = cache(Policy::Lru, 100);
    for _ in 0..5 {
        for hot in 0..50 {
            if lru.get(&hot).is_none() {
                lru.insert(hot, hot);
            }
        }
    }
    for cold in 1000..2000 {
        lru.insert(cold, cold);
    }
    assert_eq!(
        resident(&lru, 0..50).len(),
        0,
        "LRU, by contrast, is flushed"
    );
}

#[test]
fn tinylfu_small_sequence_rejects_a_one_hit_candidate() {
    let c = cache(Policy::TinyLfu, 3);
    for k in [1, 2, 3] {
        c.insert(k, k);
    }
    for _ in 0..5 {
        c.get(&1);
    }
    c.insert(4, 4);
    assert!(c.contains_key(&1), "the frequently hit key stays");
    assert_eq!(c.len(), 3);
    for k in 10..20 {
        c.insert(k, k);
        assert!(c.contains_key(&1));
        assert!(c.len() <= 3);
    }
}

static LRU_CALLS: Calls = Calls::new();

#[mcache(maxsize = 2, policy = "lru")]
fn lru_fn(x: u32) -> u32 {
    LRU_CALLS.hit();
    x
}

static FIFO_CALLS: Calls = Calls::new();

#[mcache(maxsize = 2, policy = "fifo")]
fn fifo_fn(x: u32) -> u32 {
    FIFO_CALLS.hit();
    x
}

#[test]
fn attribute_policies_follow_the_same_order() {
    lru_fn(1);
    lru_fn(2);
    lru_fn(1); // hit: 1 becomes most recent
    lru_fn(3); // evicts 2
    assert_eq!(LRU_CALLS.get(), 3);
    lru_fn(1);
    assert_eq!(LRU_CALLS.get(), 3, "1 survived under LRU");
    lru_fn(2);
    assert_eq!(LRU_CALLS.get(), 4, "2 was evicted");
    assert_eq!(lru_fn_cache().stats().evictions, 2);

    fifo_fn(1);
    fifo_fn(2);
    fifo_fn(1); // hit, but FIFO ignores it
    fifo_fn(3); // evicts 1
    fifo_fn(1);
    assert_eq!(FIFO_CALLS.get(), 4, "1 was evicted under FIFO");
    assert!(fifo_fn_cache().len() <= 2);
}

#[test]
fn max_bytes_bounds_estimated_size() {
    let c: MemoryCache<u32, String> = MemoryCache::builder()
        .max_bytes(100)
        .weigher(|_, v: &String| v.len() as u64)
        .shards(1)
        .build();
    for i in 0..50 {
        c.insert(i, "x".repeat(30));
        assert!(c.stats().bytes <= 100);
    }
    assert_eq!(c.len(), 3);
    c.insert(99, "y".repeat(101));
    assert!(
        !c.contains_key(&99),
        "an entry heavier than the budget is not stored"
    );
}

static BYTES_CALLS: Calls = Calls::new();

#[mcache(max_bytes = 400)]
fn blob(n: usize) -> Vec<u8> {
    BYTES_CALLS.hit();
    vec![7; n]
}

#[test]
fn attribute_max_bytes_uses_estimated_sizes() {
    for n in 0..40 {
        blob(50 + n);
        let stats = blob_cache().stats();
        assert!(stats.bytes <= 400, "bytes {} over budget", stats.bytes);
    }
    assert!(blob_cache().len() >= 2);
    assert!(blob_cache().len() < 40);
}

//! Review defects of the memory engine (issue 23, items 16 and 17; issue 30's defect):
//! byte accounting when a value's weight changes after insert, a byte bound shared by all
//! shards, and a W-TinyLFU that stays frequency-aware under a byte bound alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use twat_cache::{MemoryCache, Policy, mcache};
use twat_cache_tests::Calls;

const POLICIES: [Policy; 4] = [Policy::Lru, Policy::Fifo, Policy::Lfu, Policy::TinyLfu];
const MIB: u64 = 1 << 20;

/// A value whose reported size its owner may change after it was cached (a buffer that
/// grows behind an `Arc`, a weigher reading shared state).
type Growing = Arc<AtomicU64>;

fn growing(len: u64) -> Growing {
    Arc::new(AtomicU64::new(len))
}

fn weighed_by_length(policy: Policy, max_bytes: Option<u64>) -> MemoryCache<u32, Growing> {
    let mut builder = MemoryCache::builder()
        .policy(policy)
        .shards(1)
        .weigher(|_, v: &Growing| v.load(Ordering::Relaxed));
    if let Some(bytes) = max_bytes {
        builder = builder.max_bytes(bytes);
    }
    builder.build()
}

#[test]
fn a_value_that_grew_after_insert_is_removed_without_a_wrapped_byte_count() {
    for policy in POLICIES {
        for bound in [None, Some(1_000)] {
            let cache = weighed_by_length(policy, bound);
            let value = growing(10);
            cache.insert(1, value.clone());
            value.store(500, Ordering::Relaxed);
            assert!(cache.remove(&1));
            assert_eq!(cache.stats().bytes, 0, "{policy:?} bound {bound:?}");
        }
    }
}

#[test]
fn a_value_that_shrank_after_insert_gives_back_exactly_its_charge() {
    for policy in POLICIES {
        let cache = weighed_by_length(policy, Some(1_000));
        let value = growing(400);
        cache.insert(1, value.clone());
        value.store(1, Ordering::Relaxed);
        assert!(cache.remove(&1));
        assert_eq!(cache.stats().bytes, 0, "{policy:?}");
        // Nothing is held, so the whole budget is free again.
        cache.insert(2, growing(1_000));
        assert!(cache.contains_key(&2), "{policy:?}: the budget leaked");
    }
}

#[test]
fn a_value_that_grew_after_insert_is_evicted_and_replaced_without_a_wrapped_byte_count() {
    for policy in POLICIES {
        let cache = weighed_by_length(policy, Some(100));
        let value = growing(10);
        cache.insert(1, value.clone());
        value.store(90, Ordering::Relaxed);
        // Replacing the key takes off the 10 it was charged, not 90.
        cache.insert(1, growing(20));
        assert_eq!(cache.stats().bytes, 20, "{policy:?} after replace");
        let value = growing(20);
        cache.insert(2, value.clone());
        value.store(1_000, Ordering::Relaxed);
        // Fill past the bound: evictions take off what each entry was charged.
        for k in 10..40 {
            cache.insert(k, growing(30));
            let bytes = cache.stats().bytes;
            assert!(bytes <= 100, "{policy:?}: bytes {bytes} over the bound");
        }
        cache.clear();
        assert_eq!(cache.stats().bytes, 0, "{policy:?} after clear");
    }
}

#[test]
fn a_value_that_grew_after_insert_expires_without_a_wrapped_byte_count() {
    let clock = twat_cache::Clock::manual();
    for policy in POLICIES {
        let cache: MemoryCache<u32, Growing> = MemoryCache::builder()
            .policy(policy)
            .shards(1)
            .clock(clock.clone())
            .ttl(std::time::Duration::from_secs(1))
            .weigher(|_, v: &Growing| v.load(Ordering::Relaxed))
            .build();
        let value = growing(10);
        cache.insert(1, value.clone());
        value.store(500, Ordering::Relaxed);
        clock.advance(std::time::Duration::from_secs(2));
        assert_eq!(cache.get(&1).map(|v| v.load(Ordering::Relaxed)), None);
        assert_eq!(cache.stats().bytes, 0, "{policy:?}");
    }
}

/// A value whose weigher reports `len` bytes, without allocating them.
#[derive(Clone)]
struct Reported(u64);

fn byte_bound_of(bytes: u64, shards: Option<usize>, policy: Policy) -> MemoryCache<u32, Reported> {
    let mut builder = MemoryCache::builder()
        .policy(policy)
        .max_bytes(bytes)
        .weigher(|_, v: &Reported| v.0);
    if let Some(n) = shards {
        builder = builder.shards(n);
    }
    builder.build()
}

#[test]
fn a_value_that_fits_the_whole_byte_bound_is_cached_whatever_the_shard_count() {
    for policy in POLICIES {
        for shards in [None, Some(64)] {
            let cache = byte_bound_of(256 * MIB, shards, policy);
            cache.insert(1, Reported(40 * MIB));
            assert_eq!(
                cache.get(&1).map(|v| v.0),
                Some(40 * MIB),
                "{policy:?}, shards {shards:?}: a 40 MiB value under a 256 MiB bound"
            );
            // The whole bound, not one shard's share of it.
            cache.insert(2, Reported(256 * MIB));
            assert_eq!(cache.get(&2).map(|v| v.0), Some(256 * MIB), "{policy:?}");
            assert!(cache.stats().bytes <= 256 * MIB);
            cache.insert(3, Reported(256 * MIB + 1));
            assert!(
                !cache.contains_key(&3),
                "heavier than the bound: not stored"
            );
        }
    }
}

#[test]
fn a_real_40_mib_vec_is_cached_under_256_mib_with_the_default_and_64_shards() {
    for shards in [None, Some(64)] {
        let mut builder = MemoryCache::builder()
            .max_bytes(256 * MIB)
            .weigher(|_, v: &Arc<Vec<u8>>| v.len() as u64);
        if let Some(n) = shards {
            builder = builder.shards(n);
        }
        let cache: MemoryCache<u32, Arc<Vec<u8>>> = builder.build();
        cache.insert(7, Arc::new(vec![1; 40 * MIB as usize]));
        assert_eq!(
            cache.get(&7).map(|v| v.len() as u64),
            Some(40 * MIB),
            "shards {shards:?}"
        );
        assert_eq!(cache.stats().bytes, 40 * MIB);
    }
}

#[test]
fn a_big_value_evicts_across_shards_and_the_bound_holds_after_every_call() {
    for policy in POLICIES {
        let cache = byte_bound_of(64 * MIB, Some(64), policy);
        // Small entries spread over every shard, filling the bound.
        for k in 0..4_096 {
            cache.insert(k, Reported(16 * 1024));
            assert!(cache.stats().bytes <= 64 * MIB);
        }
        for (i, k) in (100_000..100_020).enumerate() {
            let weight = (i as u64 % 4 + 1) * 12 * MIB;
            cache.insert(k, Reported(weight));
            let bytes = cache.stats().bytes;
            assert!(
                bytes <= 64 * MIB,
                "{policy:?}: bytes {bytes} over the bound"
            );
            assert!(
                cache.contains_key(&k),
                "{policy:?}: {weight} bytes not cached"
            );
        }
        cache.clear();
        assert_eq!(cache.stats().bytes, 0);
        cache.insert(1, Reported(64 * MIB));
        assert!(
            cache.contains_key(&1),
            "{policy:?}: clear gave the budget back"
        );
    }
}

#[test]
fn concurrent_inserts_into_many_shards_keep_the_byte_bound() {
    let cache = Arc::new(byte_bound_of(8 * MIB, Some(16), Policy::TinyLfu));
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..2_000u32 {
                    let weight = if i % 97 == 0 { 3 * MIB } else { 4096 };
                    cache.insert(t * 1_000_000 + i, Reported(weight));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = cache.stats();
    assert!(
        stats.bytes <= 8 * MIB,
        "bytes {} over the bound",
        stats.bytes
    );
    cache.clear();
    assert_eq!(cache.stats().bytes, 0);
}

static BIG_CALLS: Calls = Calls::new();

#[mcache(max_bytes = "256MiB")]
fn forty_mib(seed: u8) -> Vec<u8> {
    BIG_CALLS.hit();
    vec![seed; 40 << 20]
}

#[test]
fn attribute_max_bytes_caches_a_value_bigger_than_one_shards_share() {
    assert_eq!(forty_mib(3).len(), 40 << 20);
    assert_eq!(forty_mib(3)[0], 3);
    assert_eq!(BIG_CALLS.get(), 1, "the second call is a hit");
}

/// Issue 30: with no entry bound, the admission window was `usize::MAX` entries, so every
/// eviction took the window's oldest entry: FIFO, not W-TinyLFU.
#[test]
fn a_byte_bound_alone_keeps_the_hottest_entry() {
    let cache: MemoryCache<&str, u32> = MemoryCache::builder()
        .max_bytes(3)
        .weigher(|_, _| 1)
        .build();
    assert_eq!(cache.policy(), Policy::TinyLfu);
    cache.insert("a", 1);
    cache.insert("b", 2);
    cache.insert("c", 3);
    for _ in 0..10 {
        cache.get(&"a");
    }
    cache.insert("d", 4);
    assert_eq!(cache.get(&"a"), Some(1), "the hottest entry was evicted");
    assert_eq!(cache.len(), 3);
}

/// The same under a scan: the hot set survives a stream of one-hit keys.
#[test]
fn a_byte_bound_alone_resists_a_scan() {
    let cache: MemoryCache<u32, u32> = MemoryCache::builder()
        .max_bytes(200)
        .weigher(|_, _| 1)
        .shards(1)
        .build();
    for round in 0..20 {
        for hot in 0..50 {
            if cache.get(&hot).is_none() {
                cache.insert(hot, hot);
            }
        }
        for cold in 0..300 {
            cache.insert(1_000 + round * 300 + cold, 0);
        }
    }
    let kept = (0..50).filter(|k| cache.contains_key(k)).count();
    assert!(kept >= 45, "only {kept} of 50 hot keys survived the scan");
}

static HOT_CALLS: Calls = Calls::new();

/// One entry of `hot` as the attribute's weigher estimates it: the `u64` key and value.
const HOT_ENTRY: u64 = 16;

#[mcache(max_bytes = HOT_ENTRY * 3)]
fn hot(k: u64) -> u64 {
    HOT_CALLS.hit();
    k * 10
}

#[test]
fn attribute_max_bytes_without_maxsize_keeps_the_hottest_entry() {
    for k in 1..=3 {
        hot(k);
    }
    assert_eq!(hot_cache().len(), 3, "three entries fit the bound");
    for _ in 0..10 {
        hot(1);
    }
    hot(4);
    let before = HOT_CALLS.get();
    assert_eq!(hot(1), 10);
    assert_eq!(HOT_CALLS.get(), before, "the hottest entry was evicted");
}

mod model {
    use proptest::prelude::*;
    use twat_cache::{MemoryCache, Policy};

    fn policy() -> impl Strategy<Value = Policy> {
        prop_oneof![
            Just(Policy::Lru),
            Just(Policy::Fifo),
            Just(Policy::Lfu),
            Just(Policy::TinyLfu)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Over many shards: the bound holds after every call, the byte count is exactly what
        /// the held entries weigh, and a clear gives the whole bound back (the shared count
        /// and the shards' counts agree).
        #[test]
        fn a_shared_byte_bound_is_exact_over_many_shards(
            policy in policy(),
            shards in 1usize..16,
            budget in 1u64..3000,
            ops in prop::collection::vec((any::<u8>(), 0usize..600, 0u8..8), 1..300),
        ) {
            let cache: MemoryCache<u8, Vec<u8>> = MemoryCache::builder()
                .policy(policy)
                .shards(shards)
                .max_bytes(budget)
                .weigher(|_, v: &Vec<u8>| v.len() as u64 + 1)
                .build();
            for (k, n, op) in ops {
                match op {
                    0 => { cache.remove(&k); }
                    1 => { cache.get(&k); }
                    _ => cache.insert(k, vec![k; n]),
                }
                let held: u64 = (0..=255u8)
                    .filter_map(|k| cache.contains_key(&k).then(|| cache.get(&k)).flatten())
                    .map(|v| v.len() as u64 + 1)
                    .sum();
                let bytes = cache.stats().bytes;
                prop_assert_eq!(bytes, held);
                prop_assert!(bytes <= budget, "bytes {} > budget {}", bytes, budget);
                if (n as u64) < budget && op >= 2 {
                    prop_assert!(cache.contains_key(&k), "a value that fits was not cached");
                }
            }
            cache.clear();
            prop_assert_eq!(cache.stats().bytes, 0);
            cache.insert(0, vec![0; budget as usize - 1]);
            prop_assert!(cache.contains_key(&0), "clear did not give the whole bound back");
        }
    }
}

/// Issue 30's figure in small: on a Zipf trace a byte bound alone (every entry weighing 1)
/// hits within a point of the same bound in entries.
#[test]
fn a_byte_bound_alone_hits_as_often_as_the_same_entry_bound_on_zipf() {
    const KEYS: usize = 50_000;
    const CAPACITY: usize = 1_000;
    // Zipf(0.99) by inverse transform over a cumulative table; a fixed xorshift seed.
    let mut cumulative = Vec::with_capacity(KEYS);
    let mut total = 0.0;
    for rank in 1..=KEYS {
        total += 1.0 / (rank as f64).powf(0.99);
        cumulative.push(total);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let trace: Vec<u64> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 * total;
            cumulative.partition_point(|&c| c < u) as u64
        })
        .collect();
    let ratio = |cache: MemoryCache<u64, u64>| {
        let hits = trace
            .iter()
            .filter(|&&k| cache.get(&k).is_some() || (cache.insert(k, k), false).1)
            .count();
        100.0 * hits as f64 / trace.len() as f64
    };
    let by_entries = ratio(MemoryCache::builder().maxsize(CAPACITY).shards(4).build());
    let by_bytes = ratio(
        MemoryCache::builder()
            .max_bytes(CAPACITY as u64)
            .weigher(|_, _| 1)
            .shards(4)
            .build(),
    );
    eprintln!("Zipf hit ratio: {by_entries:.1}% by entries, {by_bytes:.1}% by bytes");
    assert!(
        by_bytes >= by_entries - 1.0,
        "hit ratio {by_bytes:.1}% under a byte bound, {by_entries:.1}% under the entry bound"
    );
}

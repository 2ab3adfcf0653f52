//! Property-based model tests of the memory engine against a `HashMap`.
//!
//! Unbounded caches must agree with the model exactly; bounded ones may forget entries, but every
//! value they return must be the model's value, and the bounds hold after every operation.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use twat_cache::{Clock, MemoryCache, Policy};

#[derive(Debug, Clone)]
enum Op {
    Get(u8),
    Insert(u8, u16),
    Remove(u8),
    GetOrInsert(u8, u16),
    Clear,
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::Get),
        4 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => any::<u8>().prop_map(Op::Remove),
        2 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
        1 => Just(Op::Clear),
        1 => (0u16..400).prop_map(Op::Advance),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Lru),
        Just(Policy::Fifo),
        Just(Policy::Lfu),
        Just(Policy::TinyLfu)
    ]
}

/// Model entries carry their insertion time, for TTL.
type Model = HashMap<u8, (u16, u64)>;

fn run(policy: Policy, maxsize: Option<usize>, ttl_ms: Option<u64>, ops: Vec<Op>, shards: usize) {
    let clock = Clock::manual();
    let mut builder = MemoryCache::builder()
        .policy(policy)
        .clock(clock.clone())
        .shards(shards)
        .max_bytes(u64::MAX);
    if let Some(n) = maxsize {
        builder = builder.maxsize(n);
    }
    if let Some(ms) = ttl_ms {
        builder = builder.ttl(Duration::from_millis(ms));
    }
    let cache: MemoryCache<u8, u16> = builder.build();
    let mut model: Model = HashMap::new();
    let mut now_ms = 0u64;
    let exact = maxsize.is_none();
    let live = |model: &Model, k: &u8, now: u64| {
        model
            .get(k)
            .filter(|(_, at)| ttl_ms.is_none_or(|ttl| now < at + ttl))
            .map(|(v, _)| *v)
    };
    for op in ops {
        match op {
            Op::Get(k) => {
                let got = cache.get(&k);
                let want = live(&model, &k, now_ms);
                if exact {
                    assert_eq!(got, want, "get {k}");
                } else if let Some(v) = got {
                    assert_eq!(
                        Some(v),
                        want,
                        "a bounded cache returned a wrong value for {k}"
                    );
                }
            }
            Op::Insert(k, v) => {
                cache.insert(k, v);
                model.insert(k, (v, now_ms));
            }
            Op::Remove(k) => {
                let removed = cache.remove(&k);
                let want = live(&model, &k, now_ms).is_some();
                if exact {
                    assert_eq!(removed, want);
                } else {
                    assert!(!removed || want);
                }
                model.remove(&k);
            }
            Op::GetOrInsert(k, v) => {
                let got = cache.get_or_insert_with(k, || v);
                match live(&model, &k, now_ms) {
                    Some(old) if exact => assert_eq!(got, old),
                    Some(old) => assert!(got == old || got == v),
                    None => assert_eq!(got, v),
                }
                if got == v && live(&model, &k, now_ms) != Some(v) {
                    model.insert(k, (v, now_ms));
                }
            }
            Op::Clear => {
                cache.clear();
                model.clear();
                assert_eq!(cache.len(), 0);
            }
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(ms as u64));
                now_ms += ms as u64;
            }
        }
        if let Some(n) = maxsize {
            assert!(cache.len() <= n, "len {} > maxsize {n}", cache.len());
        }
        if exact && ttl_ms.is_none() {
            assert_eq!(cache.len(), model.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn unbounded_cache_equals_the_model(policy in policy(), ops in prop::collection::vec(op(), 1..300), ttl in prop::option::of(1u64..1000)) {
        run(policy, None, ttl, ops, 4);
    }

    #[test]
    fn bounded_cache_never_returns_a_wrong_value(policy in policy(), maxsize in 1usize..40, ops in prop::collection::vec(op(), 1..400), ttl in prop::option::of(1u64..1000), shards in 1usize..4) {
        run(policy, Some(maxsize), ttl, ops, shards);
    }

    #[test]
    fn max_bytes_is_never_exceeded(policy in policy(), budget in 1u64..2000, sizes in prop::collection::vec((any::<u8>(), 0usize..300), 1..300)) {
        let cache: MemoryCache<u8, Vec<u8>> = MemoryCache::builder()
            .policy(policy)
            .max_bytes(budget)
            .weigher(|_, v: &Vec<u8>| v.len() as u64 + 1)
            .build();
        for (k, n) in sizes {
            cache.insert(k, vec![k; n]);
            let stats = cache.stats();
            prop_assert!(stats.bytes <= budget, "bytes {} > budget {budget}", stats.bytes);
            if let Some(v) = cache.get(&k) {
                prop_assert_eq!(v, vec![k; n]);
            }
        }
    }
}

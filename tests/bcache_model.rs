//! Property-based model test of the disk engine: random calls, invalidations, clears and clock
//! moves against a `HashMap`, with equal results. Each case gets a fresh database.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use twat_cache::{Clock, SledCache};

#[derive(Debug, Clone)]
enum Op {
    /// `get_or_insert_with(k, || v)`: what a cached call does.
    Call(u8, u32),
    Get(u8),
    Invalidate(u8),
    Clear,
    Advance(u16),
    /// Reopen-free flush, to exercise the durable path too.
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..32, any::<u32>()).prop_map(|(k, v)| Op::Call(k, v)),
        3 => (0u8..32).prop_map(Op::Get),
        2 => (0u8..32).prop_map(Op::Invalidate),
        1 => Just(Op::Clear),
        2 => (0u16..600).prop_map(Op::Advance),
        1 => Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn disk_cache_equals_the_model(ops in prop::collection::vec(op(), 1..120), ttl_ms in prop::option::of(1u64..1000), compress in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual();
        let mut builder = SledCache::<(u8, String)>::builder(dir.path().join("model"), "model")
            .clock(clock.clone())
            .compress(compress);
        if let Some(ms) = ttl_ms {
            builder = builder.ttl(Duration::from_millis(ms));
        }
        let cache = builder.build();
        prop_assert!(!cache.is_fallback());
        let mut model: HashMap<u8, ((u8, String), u64)> = HashMap::new();
        let mut now = 0u64;
        let live = |model: &HashMap<u8, ((u8, String), u64)>, k: u8, now: u64| {
            model
                .get(&k)
                .filter(|(_, at)| ttl_ms.is_none_or(|ttl| now < at + ttl))
                .map(|(v, _)| v.clone())
        };
        for op in ops {
            match op {
                Op::Call(k, v) => {
                    let fresh = (k, v.to_string());
                    let got = cache.get_or_insert_with(&k, || fresh.clone());
                    match live(&model, k, now) {
                        Some(old) => prop_assert_eq!(got, old),
                        None => {
                            prop_assert_eq!(&got, &fresh);
                            model.insert(k, (fresh, now));
                        }
                    }
                }
                Op::Get(k) => prop_assert_eq!(cache.get(&k), live(&model, k, now)),
                Op::Invalidate(k) => {
                    let was = live(&model, k, now).is_some();
                    let removed = cache.remove(&k);
                    // An expired entry may still be on disk: removing it reports true.
                    prop_assert!(removed || !was);
                    model.remove(&k);
                }
                Op::Clear => {
                    cache.clear();
                    model.clear();
                    prop_assert_eq!(cache.len(), 0);
                }
                Op::Advance(ms) => {
                    clock.advance(Duration::from_millis(u64::from(ms)));
                    now += u64::from(ms);
                }
                Op::Flush => prop_assert!(cache.flush().is_ok()),
            }
        }
        prop_assert_eq!(cache.stats().errors, 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn disk_bounds_hold_after_every_call(maxsize in 1usize..20, budget in 200u64..4000, sizes in prop::collection::vec((0u16..200, 0usize..400), 1..150)) {
        let dir = tempfile::tempdir().unwrap();
        let cache: SledCache<Vec<u8>> = SledCache::builder(dir.path().join("bounded"), "bounded")
            .maxsize(maxsize)
            .max_bytes(budget)
            .build();
        for (k, n) in sizes {
            let value = vec![k as u8; n];
            cache.insert(&k, &value);
            let stats = cache.stats();
            prop_assert!(stats.len <= maxsize as u64, "len {} > {maxsize}", stats.len);
            prop_assert!(stats.bytes <= budget, "bytes {} > {budget}", stats.bytes);
            if let Some(v) = cache.get(&k) {
                prop_assert_eq!(v, value);
            }
        }
    }
}

#[test]
fn expired_entries_are_swept_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let cache: SledCache<u32> = SledCache::builder(dir.path().join("sweep"), "sweep")
        .ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .build();
    for k in 0..100u32 {
        cache.insert(&k, &k);
    }
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.sweep_expired(), 100);
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().expirations, 100);
    // The background sample sweep also runs as inserts go on.
    for k in 0..100u32 {
        cache.insert(&k, &k);
    }
    clock.advance(Duration::from_secs(2));
    for k in 1000..1512u32 {
        cache.insert(&k, &k);
    }
    assert!(
        cache.stats().expirations > 100,
        "sampled sweeps removed some old entries"
    );
}

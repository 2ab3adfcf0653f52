//! `clear_all()` empties every registered cache of the process — so it runs in a test binary
//! of its own: in a shared one it would clear the caches other tests are checking (it made
//! `mcache_basics`'s instantiation count flaky).
#![deny(warnings)]

use twat_cache::{CacheKind, clear_all, mcache, registry};
use twat_cache_tests::Calls;

static CLEAR_ALL_CALLS: Calls = Calls::new();

#[mcache]
fn cleared_by_clear_all(x: u8) -> u8 {
    CLEAR_ALL_CALLS.hit();
    x
}

fn clear_all_empties_registered_caches() {
    cleared_by_clear_all(1);
    assert_eq!(cleared_by_clear_all_cache().len(), 1);
    clear_all();
    assert_eq!(cleared_by_clear_all_cache().len(), 0);
    cleared_by_clear_all(1);
    assert_eq!(CLEAR_ALL_CALLS.get(), 2);
}

#[mcache]
fn untouched_by_others(x: u8) -> u8 {
    x
}

fn clear_all_empties_every_cache() {
    untouched_by_others(3);
    assert_eq!(untouched_by_others_cache().len(), 1);
    clear_all();
    assert_eq!(untouched_by_others_cache().len(), 0);
}

fn engines_built_without_an_attribute_can_be_registered() {
    use std::sync::LazyLock;
    use twat_cache::{FileCache, MemoryCache, SledCache, Tiered, clear_all, register};

    static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
    static MEMORY: LazyLock<MemoryCache<u64, u64>> =
        LazyLock::new(|| MemoryCache::builder().build());
    static SLED: LazyLock<SledCache<u64>> =
        LazyLock::new(|| SledCache::builder(DIR.path().join("db"), "named").build());
    static TIERED: LazyLock<Tiered<MemoryCache<u64, u64>, FileCache<u64>>> = LazyLock::new(|| {
        Tiered::new(
            MemoryCache::builder().build(),
            FileCache::builder(DIR.path().join("tiered")).build(),
        )
    });
    register("named::memory", &*MEMORY);
    register("named::sled", &*SLED);
    register("named::tiered", &*TIERED);
    MEMORY.insert(1, 1);
    SLED.insert(&1u64, &1);
    TIERED.insert(&1u64, 1);
    let find = |name: &str| registry().into_iter().find(|c| c.name == name).unwrap();
    assert_eq!(
        (find("named::memory").kind, find("named::memory").len()),
        (CacheKind::Mcache, 1)
    );
    assert_eq!(
        (find("named::sled").kind, find("named::sled").len()),
        (CacheKind::Bcache, 1)
    );
    let tiered = find("named::tiered");
    assert_eq!((tiered.kind, tiered.tiers().len()), (CacheKind::Ucache, 2));
    assert!(tiered.folder().unwrap().ends_with("tiered"));
    clear_all();
    assert_eq!(find("named::memory").len() + find("named::sled").len(), 0);
    assert_eq!(
        TIERED.get(&1u64),
        None,
        "clear_all reaches registered engines"
    );
}

/// One test: each part calls `clear_all()`, which would clear the others' caches mid-check if
/// they ran in parallel.
#[test]
fn clear_all_reaches_attributes_and_registered_engines() {
    clear_all_empties_registered_caches();
    clear_all_empties_every_cache();
    engines_built_without_an_attribute_can_be_registered();
}

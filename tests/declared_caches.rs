//! The registry knows every cached function before its first call; `handle(name)` reaches any
//! cache, including a trait impl's method cached with `companions = false`.
#![deny(warnings)]

use twat_cache::{CacheKind, bcache, handle, mcache, registry};
use twat_cache_tests::{Calls, isolated_cache_root};

#[mcache(name = "declared::never_called")]
fn never_called(x: u32) -> u32 {
    x
}

#[bcache(folder = "declared", name = "declared::on_disk")]
fn on_disk(x: u32) -> u32 {
    x
}

trait Area {
    fn area(&self) -> f64;
}

struct Square(u32);

static AREAS: Calls = Calls::new();

impl Area for Square {
    #[mcache(key = self.0, companions = false, name = "declared::Square::area")]
    fn area(&self) -> f64 {
        AREAS.hit();
        f64::from(self.0 * self.0)
    }
}

#[test]
fn declared_caches_are_listed_before_their_first_call() {
    isolated_cache_root();
    let all = registry();
    let info = all
        .iter()
        .find(|c| c.name == "declared::never_called")
        .expect("listed");
    assert_eq!(info.kind(), CacheKind::Mcache);
    assert_eq!((info.len(), info.stats().misses), (0, 0));
    let disk = all
        .iter()
        .find(|c| c.name() == "declared::on_disk")
        .expect("listed");
    assert!(disk.folder().unwrap().ends_with("declared"));
    assert!(
        !disk.folder().unwrap().join("db").exists(),
        "listing a disk cache never opens its storage"
    );
    assert!(handle("declared::never_called").is_some());
    never_called(1);
    assert_eq!(handle("declared::never_called").unwrap().len(), 1);
    let _ = never_called_uncached(2); // companions exist by default
}

#[test]
fn a_trait_method_is_cached_without_companions() {
    isolated_cache_root();
    assert_eq!(Square(3).area(), 9.0);
    assert_eq!(Square(3).area(), 9.0);
    assert_eq!(AREAS.get(), 1);
    let cache = handle("declared::Square::area").expect("reachable by name");
    assert_eq!(cache.stats().hits, 1);
    cache.clear();
    assert_eq!(Square(3).area(), 9.0);
    assert_eq!(AREAS.get(), 2);
}

#[test]
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

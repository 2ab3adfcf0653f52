//! The registry knows every cached function before its first call; `handle(name)` reaches any
//! cache, including a trait impl's method cached with `companions = false`. (Engines built
//! without an attribute and registered by name: `clear_all.rs`, which needs a process of its own.)
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

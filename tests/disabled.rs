//! `TWAT_CACHE_DISABLE=1`: every attribute calls the body directly.

use twat_cache::{mcache, ucache};
use twat_cache_tests::Calls;

static CALLS: Calls = Calls::new();

#[mcache]
fn cached_unless_disabled(x: u32) -> u32 {
    CALLS.hit();
    x
}

static TIERED_CALLS: Calls = Calls::new();

#[ucache(folder = "disabled")]
fn tiered_unless_disabled(x: u32) -> u32 {
    TIERED_CALLS.hit();
    x
}

#[test]
fn disable_env_var_bypasses_the_cache() {
    let root = tempfile::tempdir().unwrap();
    // SAFETY: this test binary has a single test, so no other thread reads the environment.
    unsafe {
        std::env::set_var("TWAT_CACHE_DIR", root.path());
        std::env::set_var("TWAT_CACHE_DISABLE", "1");
    }
    assert!(twat_cache::caching_disabled());
    for _ in 0..3 {
        assert_eq!(cached_unless_disabled(5), 5);
    }
    assert_eq!(CALLS.get(), 3, "every call ran the body");
    assert_eq!(cached_unless_disabled_cache().len(), 0);
    assert!(!cached_unless_disabled_invalidate(5));
    assert!(
        twat_cache::registry()
            .iter()
            .all(|c| !c.name.ends_with("cached_unless_disabled")),
        "a disabled cache is never built, so never registered"
    );
    for _ in 0..3 {
        assert_eq!(tiered_unless_disabled(5), 5);
    }
    assert_eq!(TIERED_CALLS.get(), 3, "#[ucache] too");
    assert_eq!(tiered_unless_disabled_cache().len(), 0);
    assert!(!tiered_unless_disabled_invalidate(5));
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing written under the cache root"
    );
}

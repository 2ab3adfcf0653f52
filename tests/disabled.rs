//! `TWAT_CACHE_DISABLE=1`: every attribute calls the body directly.

use twat_cache::mcache;
use twat_cache_tests::Calls;

static CALLS: Calls = Calls::new();

#[mcache]
fn cached_unless_disabled(x: u32) -> u32 {
    CALLS.hit();
    x
}

#[test]
fn disable_env_var_bypasses_the_cache() {
    // SAFETY: this test binary has a single test, so no other thread reads the environment.
    unsafe { std::env::set_var("TWAT_CACHE_DISABLE", "1") };
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
}

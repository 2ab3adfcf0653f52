//! `cache = STATIC`: functions sharing one declared engine.
#![deny(warnings)]

use std::sync::LazyLock;

use twat_cache::{FileCache, MemoryCache, Tiered, mcache, register, registry, ucache};
use twat_cache_tests::Calls;

/// Users by id, filled by whichever lookup runs first.
static USERS: LazyLock<MemoryCache<(u64,), String>> =
    LazyLock::new(|| MemoryCache::builder().maxsize(100).build());

static BY_API: Calls = Calls::new();
static BY_DB: Calls = Calls::new();

#[mcache(cache = USERS)]
fn user_from_api(id: u64) -> String {
    BY_API.hit();
    format!("user {id}")
}

#[mcache(cache = USERS)]
fn user_from_db(id: u64) -> String {
    BY_DB.hit();
    format!("user {id}")
}

#[test]
fn two_functions_share_one_memory_engine() {
    assert_eq!(user_from_api(1), "user 1");
    assert_eq!(user_from_db(1), "user 1", "found in the shared engine");
    assert_eq!((BY_API.get(), BY_DB.get()), (1, 0));
    assert_eq!(USERS.len(), 1);
    assert!(user_from_db_invalidate(1));
    user_from_db_prime(2, "primed".into());
    assert_eq!(user_from_api(2), "primed");
    register("shared::users", &*USERS);
    assert!(registry().iter().any(|c| c.name == "shared::users"));
}

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
type Doubles = Tiered<MemoryCache<(u32,), u32>, FileCache<u32>>;

static TIERED: LazyLock<Doubles> = LazyLock::new(|| {
    Tiered::new(
        MemoryCache::builder().maxsize(10).build(),
        FileCache::builder(DIR.path().join("shared")).build(),
    )
});

static DOUBLES: Calls = Calls::new();

#[ucache(cache = TIERED)]
async fn double(x: u32) -> u32 {
    DOUBLES.hit();
    x * 2
}

#[test]
fn an_async_function_on_a_shared_tiered_engine() {
    futures::executor::block_on(async {
        assert_eq!(double(4).await, 8);
        assert_eq!(double(4).await, 8);
        assert_eq!(double_refresh(4).await, 8);
    });
    assert_eq!(DOUBLES.get(), 2, "one miss, one refresh");
    assert_eq!(TIERED.l2().len(), 1, "written through to the file tier");
}

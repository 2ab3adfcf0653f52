//! Review of the Redis tier's operations (issue 23, items 8, 13 and 18), against real servers:
//! a cache's name holding glob metacharacters clears only its own keys (CLI and
//! `RedisCache::clear`); an `async fn` whose result is not stored, or whose call is cancelled,
//! releases its Redis lock without blocking the executor on a stalled server; a Redis password
//! never appears in a `Debug`, an error or a warning.
#![deny(warnings)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use twat_cache::disk::inspect::{self, redis_keys};
use twat_cache::disk::{Backend, RedisLocation, RedisStore};
use twat_cache::{RedisCache, ucache};
use twat_cache_tests::{RedisServer, events_during, isolated_cache_root};

// ---------------------------------------------------------------------------------------------
// Item 8: SCAN MATCH patterns are built from escaped names.

/// A namespace id as the layout writes it (16 hex digits).
const NS: &str = "0123456789abcdef";

fn cache_at(url: &str, folder: &str) -> RedisCache<u64> {
    RedisCache::builder(url, &format!("twat-cache:{folder}:app.geocode:{NS}"))
        .timeout(Duration::from_secs(5))
        .build()
}

/// Folders whose names are globs matching `geo` (and one another), as a `#[ucache]` folder or
/// a `RedisCache` prefix may be named.
const GLOB_FOLDERS: [&str; 4] = ["*", "g?o", "[gx]eo", "g\\eo"];

#[test]
fn clearing_a_cache_whose_name_is_a_glob_leaves_the_other_caches_keys() {
    let Some(server) = RedisServer::start("review_redis_ops glob clear") else {
        return;
    };
    let url = server.url();
    let geo = cache_at(&url, "geo");
    geo.insert(&1u64, &1);
    for folder in GLOB_FOLDERS {
        let glob = cache_at(&url, folder);
        glob.insert(&1u64, &666);
        assert!(!glob.is_fallback(), "{folder}: on Redis");
        glob.clear();
        assert_eq!(glob.get(&1u64), None, "{folder}: its own entry is cleared");
        assert_eq!(
            geo.get(&1u64),
            Some(1),
            "RedisCache::clear of prefix twat-cache:{folder}:… removed geo's entry; keys left: {:?}",
            server.keys("*")
        );
    }
}

#[test]
fn cli_clear_of_a_cache_whose_name_is_a_glob_leaves_the_other_caches_keys() {
    let Some(server) = RedisServer::start("review_redis_ops glob cli") else {
        return;
    };
    let url = server.url();
    for folder in ["geo"].into_iter().chain(GLOB_FOLDERS) {
        let cache = cache_at(&url, folder);
        cache.insert(&1u64, &7);
        assert!(!cache.is_fallback(), "{folder}: on Redis");
    }
    // The planted key of the issue: `twat-cache:*:app.geocode:<ns>:{…}`.
    assert_eq!(
        server
            .keys(&format!("twat-cache:\\*:app.geocode:{NS}:*"))
            .len(),
        1
    );
    let entry_keys = |folder: &str| {
        let literal: String = folder
            .chars()
            .flat_map(|c| match c {
                '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        server.keys(&format!("twat-cache:{literal}:app.geocode:{NS}:*"))
    };
    for folder in GLOB_FOLDERS {
        let caches = redis_keys::scan(&url).unwrap();
        let cache = caches
            .iter()
            .find(|c| c.folder == folder)
            .unwrap_or_else(|| panic!("{folder} listed: {caches:?}"));
        let shown = inspect::entries(cache, 100).unwrap();
        inspect::clear(cache).unwrap();
        assert_eq!(entry_keys(folder), Vec::<String>::new(), "{folder} cleared");
        assert_eq!(
            entry_keys("geo").len(),
            1,
            "`twat-cache clear {folder}/app::geocode` removed geo's key; keys left: {:?}",
            server.keys("*")
        );
        assert_eq!(
            shown.len(),
            1,
            "`inspect {folder}` shows its own entry only"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Item 13: a lock release never blocks an executor thread.

static STALLING: OnceLock<Option<RedisServer>> = OnceLock::new();
/// The two stall tests share this binary's `TWAT_CACHE_REDIS_URL` server: one at a time.
static STALL_TURN: Mutex<()> = Mutex::new(());

fn stalling_server() -> Option<&'static RedisServer> {
    STALLING
        .get_or_init(|| {
            let server = RedisServer::start("review_redis_ops stall")?;
            // SAFETY: set once, before any cache of this binary reads it (the other tests
            // name their servers' URLs themselves).
            unsafe { std::env::set_var("TWAT_CACHE_REDIS_URL", server.url()) };
            isolated_cache_root();
            Some(server)
        })
        .as_ref()
}

/// Holds the Redis lock on its key while it runs, freezes the server, then returns a result
/// that is not stored: the lock must be given back without the executor waiting on the server.
#[ucache(folder = "review-redis-ops", backend = "redis")]
async fn stalls_and_stores_nothing(n: u64) -> Option<u64> {
    stalling_server().expect("the test's server").pause();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _ = n;
    None
}

/// Freezes the server while it holds the Redis lock, then never finishes (it is cancelled).
#[ucache(folder = "review-redis-ops", backend = "redis")]
async fn stalls_until_cancelled(n: u64) -> Option<u64> {
    stalling_server().expect("the test's server").pause();
    std::future::pending::<()>().await;
    Some(n)
}

/// How many 10 ms ticks a task on the same (current-thread) runtime served while `call` ran,
/// and how long `call` took (its drops included).
async fn ticks_during<T>(call: impl Future<Output = T>) -> (T, u64, Duration) {
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let start = Instant::now();
    let before = ticks.load(Ordering::Relaxed);
    let out = call.await;
    let during = ticks.load(Ordering::Relaxed) - before;
    let took = start.elapsed();
    ticker.abort();
    (out, during, took)
}

/// At least half the ticks a free executor would have served: `took / 10 ms / 2`.
fn assert_not_blocked(what: &str, during: u64, took: Duration) {
    let expected = took.as_millis() as u64 / 10;
    eprintln!("{what}: {during} ticks in {took:?}");
    assert!(
        during * 2 >= expected,
        "{what}: the timer ticked {during} times in {took:?} (a free executor: {expected}): the \
         executor thread was blocked"
    );
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn an_async_result_not_stored_releases_its_lock_without_blocking_the_executor() {
    let Some(server) = stalling_server() else {
        return;
    };
    let _turn = STALL_TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (out, during, took) =
        current_thread_runtime().block_on(ticks_during(stalls_and_stores_nothing(1)));
    server.resume();
    assert_eq!(out, None);
    assert_not_blocked("a `None` result on a stalled server", during, took);
}

#[test]
fn a_cancelled_async_call_releases_its_lock_without_blocking_the_executor() {
    let Some(server) = stalling_server() else {
        return;
    };
    let _turn = STALL_TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (out, during, took) = current_thread_runtime().block_on(ticks_during(async {
        tokio::time::timeout(Duration::from_millis(150), stalls_until_cancelled(2)).await
    }));
    server.resume();
    assert!(out.is_err(), "the call was cancelled");
    assert_not_blocked("a call cancelled on a stalled server", during, took);
}

// ---------------------------------------------------------------------------------------------
// Item 18: credentials never appear.

const PASSWORD: &str = "pw-Zq8vK3-never-shown";
const WRONG_PASSWORD: &str = "pw-wrong-Xk27-never-shown";

fn assert_no_password(what: &str, text: &str) {
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(!text.contains(secret), "{what} shows the password: {text}");
    }
}

#[test]
fn the_redis_password_appears_in_no_debug_of_a_location_or_a_report() {
    let Some(server) = RedisServer::start_with_password("review_redis_ops password", PASSWORD)
    else {
        return;
    };
    let url = server.url();
    assert!(url.contains(PASSWORD), "the URL carries the password");
    let location = RedisLocation::new(&url, format!("twat-cache:geo:app.geocode:{NS}"));
    assert_no_password("RedisLocation's Debug", &format!("{location:?}"));
    assert_no_password("RedisLocation's Debug", &format!("{location:#?}"));

    let cache = cache_at(&url, "geo");
    cache.insert(&1u64, &1);
    assert!(!cache.is_fallback(), "authenticated with the password");
    let caches = redis_keys::scan(&url).unwrap();
    assert_eq!(caches.len(), 1, "the cache is listed");
    assert_no_password("CacheReport's Debug", &format!("{caches:?}"));
    assert_no_password("CacheReport's Debug", &format!("{caches:#?}"));
    // The report still reaches the server (with the password it keeps, unshown).
    assert_eq!(inspect::entries(&caches[0], 10).unwrap().len(), 1);
    inspect::clear(&caches[0]).unwrap();
    assert_eq!(cache.get(&1u64), None);
}

#[test]
fn a_wrong_redis_password_appears_in_no_error_or_warning() {
    let Some(server) = RedisServer::start_with_password("review_redis_ops wrong", PASSWORD) else {
        return;
    };
    let wrong = server.url().replace(PASSWORD, WRONG_PASSWORD);
    let no_password = server.url().replace(&format!(":{PASSWORD}@"), "");

    for url in [&wrong, &no_password] {
        let location = RedisLocation::new(url, format!("twat-cache:geo:app.geocode:{NS}"));
        let error = RedisStore::open(&location)
            .err()
            .expect("the server refuses a wrong password");
        assert_no_password("the open error", &format!("{error} / {error:?}"));

        let ((), events) = events_during(|| {
            let cache = cache_at(url, "geo");
            cache.insert(&1u64, &1);
            assert_eq!(cache.get(&1u64), Some(1), "answers from its fallback");
            assert!(cache.is_fallback() && cache.stats().errors >= 1);
        });
        assert!(!events.is_empty(), "one warning for the refused server");
        for event in &events {
            assert_no_password("the warning", event);
        }

        let error = redis_keys::scan(url).expect_err("the CLI's scan is refused");
        assert_no_password("the CLI's error", &format!("{error} / {error:?}"));
    }
}

//! Redis going away in the middle of a run and coming back: every call still returns the right
//! value, no call waits much longer than the timeout, errors are counted, entries go to the
//! local disk meanwhile (shared by this machine's processes), the cache goes back to Redis on
//! its own and empties its local fallback, and a removal made while Redis was down does not let
//! the old entry back.
#![deny(warnings)]

use std::time::{Duration, Instant};

use twat_cache::{Tier, ucache};
use twat_cache_tests::{Calls, RedisServer, entry_files, isolated_cache_root, run_helper};

const HELPER: &str = env!("CARGO_BIN_EXE_redis_helper");

static CALLS: Calls = Calls::new();

#[ucache(folder = "outage", maxsize = 1, backend = "redis")]
fn cube(n: u64) -> u64 {
    CALLS.hit();
    n * n * n
}

fn keys(server: &RedisServer) -> Vec<String> {
    server
        .keys("twat-cache:outage:*")
        .into_iter()
        .filter(|k| !k.contains(":lock:"))
        .collect()
}

/// Calls `cube(n)` and checks its value and that it did not hang (the timeout is 500 ms).
fn timed_cube(n: u64) {
    let start = Instant::now();
    assert_eq!(cube(n), n * n * n);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "cube({n}) took {took:?}");
}

/// The key of `cube(n)`'s entry and its stored record: the record holds the serialized key,
/// `(n,)` as a 1-tuple of a `u64` (tags 26, 1, 10, then the little-endian bytes).
fn entry_of(server: &RedisServer, n: u64) -> (String, Vec<u8>) {
    let mut needle = vec![26, 1, 10];
    needle.extend_from_slice(&n.to_le_bytes());
    keys(server)
        .into_iter()
        .find_map(|key| {
            let record: Vec<u8> = redis::cmd("GET")
                .arg(&key)
                .query(&mut server.connection())
                .ok()?;
            record
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
                .then_some((key, record))
        })
        .unwrap_or_else(|| panic!("no entry for cube({n})"))
}

#[test]
fn redis_killed_mid_run_and_restarted() {
    let Some(mut server) = RedisServer::start("redis_outage") else {
        return;
    };
    // SAFETY: set before any cache of this binary reads it; this binary has one test.
    unsafe { std::env::set_var("TWAT_CACHE_REDIS_URL", server.url()) };
    isolated_cache_root();

    for n in 1..=3 {
        timed_cube(n);
    }
    assert_eq!(keys(&server).len(), 3, "written through to Redis");
    let (key_of_2, record_of_2) = entry_of(&server, 2);
    let errors_before = cube_cache().stats().errors;

    server.kill();
    for n in 1..=6 {
        timed_cube(n); // right values from memory or the body, never a hang
    }
    assert!(
        cube_cache().stats().errors > errors_before,
        "the outage is counted"
    );
    let local = cube_cache().folder().expect("a folder");
    let local_entries = entry_files(&local).len();
    assert!(
        local_entries >= 5,
        "entries went to the local disk: {local_entries}"
    );

    // Other processes of this machine share the local fallback while Redis is away.
    let root = tempfile::tempdir().unwrap();
    let first = run_helper(HELPER, root.path(), &["get", "1", "2", "3"], &[]);
    assert_eq!((first.runs, first.wrong), (3, 0), "{:?}", first.lines);
    assert!(
        first.errors >= 1,
        "the outage is counted: {:?}",
        first.lines
    );
    let second = run_helper(HELPER, root.path(), &["get", "1", "2", "3"], &[]);
    assert_eq!((second.runs, second.wrong), (0, 0), "{:?}", second.lines);
    assert_eq!(second.field("tier").unwrap(), [0, 2], "{:?}", second.lines);
    assert_eq!(second.hits, 3, "local disk hits: {:?}", second.lines);
    // Removed while Redis is down: recorded, and applied before Redis is read again.
    cube_invalidate(2);

    // The server comes back with the old entry of 2 (as if it had persisted it).
    server.restart();
    let _: () = redis::cmd("SET")
        .arg(&key_of_2)
        .arg(record_of_2.as_slice())
        .query(&mut server.connection())
        .unwrap();
    // Back on Redis after the backoff (1 s after the failure, doubling): new entries land
    // there again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 100;
    while !keys(&server).iter().any(|k| *k != key_of_2) {
        assert!(Instant::now() < deadline, "never went back to Redis");
        timed_cube(n);
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !keys(&server).contains(&key_of_2),
        "the removal made during the outage was applied on return"
    );
    assert_eq!(
        entry_files(&local).len(),
        0,
        "the local fallback is emptied once Redis is back (other machines may change entries)"
    );
    // What the helpers left on their local disk during the outage is removed by the next
    // process that reaches Redis: it may have been changed there since.
    assert!(!entry_files(root.path()).is_empty());
    let after = run_helper(HELPER, root.path(), &["get", "1"], &[]);
    assert_eq!((after.wrong, after.errors), (0, 0), "{:?}", after.lines);
    assert_eq!(entry_files(root.path()), Vec::<std::path::PathBuf>::new());
    let calls = CALLS.get();
    assert_eq!(cube(2), 8);
    assert_eq!(CALLS.get(), calls + 1, "2 was recomputed, not read back");
    assert!(cube_cache().tier(Tier::Disk).unwrap().errors > 0);
}

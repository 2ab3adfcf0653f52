//! `#[ucache(backend = "redis")]` against a real server: entries shared by processes, one body
//! run for a key missed by several processes at once, checked values (a planted one is a
//! miss), TTLs on the server, invalidation and clear reaching Redis.
#![deny(warnings)]

use std::sync::OnceLock;

use twat_cache::{Tier, ucache};
use twat_cache_tests::{
    Calls, RedisServer, concurrent_reports, concurrent_runs, isolated_cache_root, run_helper,
};

const HELPER: &str = env!("CARGO_BIN_EXE_redis_helper");

/// This binary's server; `None` where it is skipped (see `RedisServer::start`).
fn server() -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let server = RedisServer::start("redis_tier")?;
            // SAFETY: set once, before any cache of this binary reads it.
            unsafe { std::env::set_var("TWAT_CACHE_REDIS_URL", server.url()) };
            isolated_cache_root();
            Some(server)
        })
        .as_ref()
}

fn helper(args: &[&str]) -> twat_cache_tests::Report {
    let root = tempfile::tempdir().unwrap();
    run_helper(HELPER, root.path(), args, &[])
}

#[test]
fn two_processes_share_entries_through_redis() {
    let Some(_) = server() else { return };
    let first = helper(&["get", "101", "102", "103", "104"]);
    assert_eq!((first.runs, first.wrong), (4, 0));
    // Another process, another (empty) local root: everything comes from Redis.
    let second = helper(&["get", "101", "102", "103", "104"]);
    assert_eq!((second.runs, second.wrong), (0, 0), "{:?}", second.lines);
    let memory = second.field("tier").unwrap(); // the first tier line: hits, entries
    assert_eq!(memory, [0, 2], "Redis hits filled the 2-entry memory tier");
    assert_eq!(second.hits, 4, "every call a Redis hit");
}

#[test]
fn four_processes_missing_one_key_run_the_body_once() {
    let Some(_) = server() else { return };
    let root = tempfile::tempdir().unwrap();
    let runs = concurrent_runs(HELPER, root.path(), &["slow", "7001"], 4);
    assert_eq!(
        runs, 1,
        "single-flight across processes through the Redis lock"
    );
}

/// Two processes hammer one hot key (1 s TTL, `early_refresh`, a 10 ms body) for 2.5 s: the
/// key is recomputed about once per TTL across both — 3 runs, at most 4 — not once per TTL in
/// each (which would be 5 or more: the first run, then 2 per TTL). A refresh comes less than
/// 37 δ (0.37 s) before the expiry, but in practice about δ·ln(calls per δ) ≈ 0.1 s before it.
///
/// On a loaded machine both processes can be descheduled across an expiry: an expiry is then
/// allowed, and costs one run across both (a process computing on its own would add one per
/// TTL, beyond the bound). That a hot entry never expires is asserted on a manual clock by the
/// engine tests (`early_refresh.rs`).
#[test]
fn early_refresh_recomputes_a_hot_key_once_across_processes_before_it_expires() {
    let Some(_) = server() else { return };
    let root = tempfile::tempdir().unwrap();
    let reports = concurrent_reports(HELPER, root.path(), &["hot", "2500"], 2);
    let runs: u64 = reports.iter().map(|r| r.runs).sum();
    let each: Vec<u64> = reports.iter().map(|r| r.runs).collect();
    let mut expirations = 0;
    for report in &reports {
        expirations += report.field("expirations").expect("an expirations line")[0];
        assert!(
            report.field("calls").unwrap()[0] > 100,
            "{:?}",
            report.lines
        );
    }
    eprintln!("early refresh across processes: body runs {each:?}, {expirations} expirations");
    assert!(
        (2..=4 + expirations).contains(&runs),
        "{runs} runs, {expirations} expirations: {reports:?}"
    );
}

static LOCAL_CALLS: Calls = Calls::new();

#[ucache(folder = "redis-local", maxsize = 1, ttl = "1h", backend = "redis")]
fn square(n: u64) -> u64 {
    LOCAL_CALLS.hit();
    n * n
}

/// The Redis keys of `square`.
fn square_keys(server: &RedisServer) -> Vec<String> {
    server
        .keys("twat-cache:redis-local:*")
        .into_iter()
        .filter(|k| !k.contains(":lock:"))
        .collect()
}

#[test]
fn values_are_checked_records_with_their_ttl_on_the_server() {
    let Some(server) = server() else { return };
    assert_eq!(square(12), 144);
    let keys = square_keys(server);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    assert!(
        key.starts_with("twat-cache:redis-local:redis_tier.square:") && key.ends_with('}'),
        "{key}"
    );
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(key)
        .query(&mut server.connection())
        .unwrap();
    assert!(
        (3_500_000..=3_600_000).contains(&ttl_ms),
        "the key expires with the entry: {ttl_ms} ms"
    );

    // Garbage under the entry's key is a miss, recomputed and replaced, never returned.
    assert_eq!(square(13), 169); // pushes 12 out of the one-entry memory tier
    let before = LOCAL_CALLS.get();
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(b"not a record".as_slice())
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(square(12), 144);
    assert_eq!(LOCAL_CALLS.get(), before + 1, "recomputed");
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(key)
        .query(&mut server.connection())
        .unwrap();
    assert!(
        stored.starts_with(b"TWCE"),
        "the garbage was replaced by a record"
    );

    // Invalidation and clear reach Redis.
    assert!(square_invalidate(12));
    assert!(square_keys(server).len() == 1, "only 13 is left");
    square_cache().clear();
    assert!(square_keys(server).is_empty());
    assert_eq!(square_cache().tier(Tier::Disk).unwrap().len, 0);
}

#[test]
fn a_value_written_by_one_process_is_read_by_another_after_its_memory_copy_is_gone() {
    let Some(_) = server() else { return };
    // The helper's memory tier holds 2 entries: the third and later come from Redis.
    let report = helper(&["get", "201", "202", "203", "201", "202", "203"]);
    assert_eq!((report.runs, report.wrong), (3, 0));
    assert_eq!(report.errors, 0);
}

static SLIDING_CALLS: Calls = Calls::new();

#[ucache(
    folder = "redis-sliding",
    maxsize = 1,
    ttl = "1h",
    refresh = true,
    backend = "redis"
)]
fn sliding(n: u64) -> u64 {
    SLIDING_CALLS.hit();
    n + 1
}

#[test]
fn refresh_renews_the_key_ttl_on_the_server() {
    let Some(server) = server() else { return };
    assert_eq!(sliding(1), 2);
    let keys = server.keys("twat-cache:redis-sliding:*");
    assert_eq!(keys.len(), 1, "{keys:?}");
    // As if most of the hour had passed: five seconds left on the server.
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(&keys[0])
        .arg(5_000)
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(sliding(2), 3); // pushes 1 out of the one-entry memory tier
    assert_eq!(sliding(1), 2); // a Redis hit, which renews the entry
    assert_eq!(SLIDING_CALLS.get(), 2);
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query(&mut server.connection())
        .unwrap();
    assert!(ttl_ms > 3_500_000, "renewed to a full hour: {ttl_ms} ms");
}

static ASYNC_CALLS: Calls = Calls::new();

#[ucache(folder = "redis-async", maxsize = 1, backend = "redis")]
async fn doubled(n: u64) -> u64 {
    ASYNC_CALLS.hit();
    futures::future::ready(()).await;
    n * 2
}

#[test]
fn async_functions_work_without_a_runtime() {
    let Some(server) = server() else { return };
    futures::executor::block_on(async {
        for _ in 0..2 {
            for n in 1..=3 {
                assert_eq!(doubled(n).await, n * 2);
            }
        }
    });
    assert_eq!(ASYNC_CALLS.get(), 3, "the second round came from Redis");
    assert_eq!(server.keys("twat-cache:redis-async:*").len(), 3);
    let disk = doubled_cache().tier(Tier::Disk).unwrap();
    assert_eq!(disk.hits, 3);
}

//! Issue 23, the Redis read path: a reader judges entries by its own clock and bound, so it
//! must never delete from the shared server what it merely cannot use (a clock that lags the
//! writer's, a smaller `max_bytes`); a value over the bound is never fetched; inserts never
//! scan the namespace (Redis bounds itself with `maxmemory`).
//!
//! Every test starts a server of its own: the `INFO commandstats` counts and the memory figures
//! must not see another test's traffic.
#![deny(warnings)]

use std::time::{Duration, Instant};

use twat_cache::{Clock, RedisCache};
use twat_cache_tests::{Calls, RedisServer};

/// The entry keys (not the locks) under `prefix`.
fn entry_keys(server: &RedisServer, prefix: &str) -> Vec<String> {
    server.keys(&format!("{prefix}:{{*}}"))
}

/// A manual clock reading the system's wall clock plus `ahead` now (it then stands still).
fn clock_ahead_by(ahead: Duration) -> Clock {
    let clock = Clock::manual();
    let now = Clock::system().unix_nanos() + ahead.as_nanos() as u64;
    clock.advance(Duration::from_nanos(now - clock.unix_nanos()));
    clock
}

/// A cache on `server` under `prefix`, with a 10 s timeout: a loaded machine must not turn a
/// slow answer into a fallback that would hide what the test looks at.
fn cache<V>(
    server: &RedisServer,
    prefix: &str,
) -> twat_cache::disk::DiskCacheBuilder<twat_cache::disk::RedisStore, V> {
    RedisCache::builder(&server.url(), prefix).timeout(Duration::from_secs(10))
}

// Item 6 -------------------------------------------------------------------------------------

/// Machine B's clock runs ahead of machine A's: B's entry was "renewed in the future" as A
/// sees it. Within the tolerated skew A reads it (and so does not compute it again), and
/// never deletes it from the server. 20 ms is the case; 2 s (still inside the 5 s
/// tolerance) cannot pass by the machine being slow to reach A's read.
#[test]
fn a_reader_whose_clock_lags_the_writers_reads_and_keeps_its_entries() {
    let Some(server) = RedisServer::start("a_reader_whose_clock_lags") else {
        return;
    };
    for ahead in [Duration::from_millis(20), Duration::from_secs(2)] {
        let prefix = format!("twat-cache:review:skew-{}ms", ahead.as_millis());
        let writer: RedisCache<String> = cache(&server, &prefix)
            .ttl(Duration::from_secs(60))
            .clock(clock_ahead_by(ahead))
            .build();
        let reader: RedisCache<String> =
            cache(&server, &prefix).ttl(Duration::from_secs(60)).build();
        writer.insert("k", &"fresh".to_string());
        assert_eq!(
            reader.get("k").as_deref(),
            Some("fresh"),
            "writer {ahead:?} ahead: the reader must see its fresh entry"
        );
        assert_eq!(
            entry_keys(&server, &prefix).len(),
            1,
            "writer {ahead:?} ahead: the reader deleted the writer's entry from Redis"
        );
        let runs = Calls::new();
        let got = reader.get_or_insert_with("k2-missing-then-k", || {
            runs.hit();
            "computed".to_string()
        });
        assert_eq!((got.as_str(), runs.get()), ("computed", 1));
        let runs = Calls::new();
        assert_eq!(
            reader.get_or_insert_with("k", || {
                runs.hit();
                "recomputed".to_string()
            }),
            "fresh"
        );
        assert_eq!(
            runs.get(),
            0,
            "writer {ahead:?} ahead: a hit, not a computation"
        );
        assert_eq!(reader.stats().expirations, 0);
    }
}

/// An entry renewed further in this reader's future than the tolerated skew: its lifetime
/// cannot be trusted here, so it is a miss for this reader — never a deletion.
#[test]
fn a_reader_never_deletes_an_entry_renewed_beyond_the_skew() {
    let Some(server) = RedisServer::start("an_entry_renewed_beyond_the_skew") else {
        return;
    };
    let far = twat_cache::disk::CLOCK_SKEW_TOLERANCE + Duration::from_secs(60);
    let prefix = "twat-cache:review:far-future";
    let writer: RedisCache<String> = cache(&server, prefix)
        .ttl(Duration::from_secs(600))
        .clock(clock_ahead_by(far))
        .build();
    let reader: RedisCache<String> = cache(&server, prefix).ttl(Duration::from_secs(600)).build();
    writer.insert("k", &"from the future".to_string());
    assert_eq!(
        reader.get("k"),
        None,
        "an entry renewed {far:?} ahead is not trusted"
    );
    assert_eq!(
        entry_keys(&server, prefix).len(),
        1,
        "the reader deleted an entry it only judged by its clock"
    );
    assert_eq!(writer.get("k").as_deref(), Some("from the future"));
}

/// An entry expired by the reader's clock (which runs ahead) but not by the server's: a miss
/// for this reader, never a deletion — Redis's own `PX` removes it when it expires.
#[test]
fn a_reader_never_deletes_an_entry_expired_by_its_own_clock() {
    let Some(server) = RedisServer::start("an_entry_expired_by_its_own_clock") else {
        return;
    };
    let prefix = "twat-cache:review:expired-here";
    let writer: RedisCache<String> = cache(&server, prefix).ttl(Duration::from_secs(60)).build();
    let reader: RedisCache<String> = cache(&server, prefix)
        .ttl(Duration::from_secs(60))
        .clock(clock_ahead_by(Duration::from_secs(120)))
        .build();
    writer.insert("k", &"fresh on the server".to_string());
    assert_eq!(reader.get("k"), None, "expired by the reader's clock");
    assert_eq!(
        entry_keys(&server, prefix).len(),
        1,
        "the reader deleted an entry that Redis still holds for its PX"
    );
    assert_eq!(writer.get("k").as_deref(), Some("fresh on the server"));
}

// Item 10 ------------------------------------------------------------------------------------

/// `(VmRSS, VmHWM)` of this process in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak measured is this test's.
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting VmHWM");
}

/// A 300 MiB value planted under a 1 MiB bound is a miss that costs no memory: its size is
/// checked on the server before anything is fetched, and the call recomputes.
#[test]
fn a_value_over_the_bound_is_a_miss_and_never_fetched() {
    let Some(server) = RedisServer::start("a_value_over_the_bound") else {
        return;
    };
    let prefix = "twat-cache:review:oversize";
    let cache: RedisCache<String> = cache(&server, prefix).max_bytes(1 << 20).build();
    cache.insert("k", &"small".to_string());
    let key = entry_keys(&server, prefix).pop().expect("the entry's key");
    // Grown on the server (zero-filled), so this process never holds the 300 MiB.
    let planted = 300u64 << 20;
    let _: u64 = redis::cmd("SETRANGE")
        .arg(&key)
        .arg(planted - 1)
        .arg("x")
        .query(&mut server.connection())
        .expect("SETRANGE");

    reset_peak_rss();
    let (before, _) = rss_kib();
    let runs = Calls::new();
    let got = cache.get_or_insert_with("k", || {
        runs.hit();
        "recomputed".to_string()
    });
    let (_, peak) = rss_kib();
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "peak RSS growth reading a {} MiB value: {growth_mib} MiB",
        planted >> 20
    );
    assert!(
        growth_mib < 64,
        "reading a {} MiB value under a 1 MiB bound grew the peak RSS by {growth_mib} MiB",
        planted >> 20
    );
    assert_eq!(
        (got.as_str(), runs.get()),
        ("recomputed", 1),
        "a miss, recomputed"
    );
    assert_eq!(cache.get("k").as_deref(), Some("recomputed"));
}

// Suspected: machines with different max_bytes ---------------------------------------------

/// Two machines share a prefix, one with a 16 MiB bound, one with 1 MiB. A 2 MiB value the
/// first stores is a miss for the second, which computes it for itself (and cannot store it)
/// but never deletes it: the first still hits.
#[test]
fn a_cache_with_a_smaller_bound_leaves_larger_values_to_the_others() {
    let Some(server) = RedisServer::start("a_cache_with_a_smaller_bound") else {
        return;
    };
    let prefix = "twat-cache:review:bounds";
    let large: RedisCache<Vec<u8>> = cache(&server, prefix).max_bytes(16 << 20).build();
    let small: RedisCache<Vec<u8>> = cache(&server, prefix).max_bytes(1 << 20).build();
    let value = vec![7u8; 2 << 20];
    large.insert("k", &value);

    assert_eq!(small.get("k"), None, "over this cache's bound: a miss");
    assert_eq!(entry_keys(&server, prefix).len(), 1, "a read deleted it");
    let runs = Calls::new();
    let got = small.get_or_insert_with("k", || {
        runs.hit();
        value.clone()
    });
    assert_eq!((got.len(), runs.get()), (value.len(), 1));
    assert_eq!(
        entry_keys(&server, prefix).len(),
        1,
        "a fill too large for this cache deleted the other's value"
    );
    let runs = Calls::new();
    let got = large.get_or_insert_with("k", || {
        runs.hit();
        Vec::new()
    });
    assert_eq!(
        (got.len(), runs.get()),
        (value.len(), 0),
        "still a hit for the larger bound"
    );

    // An invalidation reaches every cache's entry, also one over the invalidating cache's bound.
    assert!(
        small.remove("k"),
        "the invalidation found the other's entry"
    );
    assert_eq!(entry_keys(&server, prefix).len(), 0);
    assert_eq!(large.get("k"), None, "invalidated for every cache");
}

// Item 12 ------------------------------------------------------------------------------------

/// `cmdstat_scan` calls so far on `server`.
fn scan_calls(server: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut server.connection())
        .expect("INFO commandstats");
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_scan:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().expect("a count"))
}

/// The median over `rounds` of how much longer `block` inserts of new keys take in the first
/// cache than in the second, the two blocks of a round taken one right after the other (which
/// goes first alternating), so that the machine's load, which changes from one second to the
/// next, meets both alike.
fn median_slowdown(caches: [&RedisCache<u64>; 2], rounds: u64, block: u64) -> f64 {
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let mut took = [Duration::ZERO; 2];
        for turn in 0..2 {
            let which = (turn + round as usize) % 2;
            let start = Instant::now();
            for i in 0..block {
                let k = (1 << 32) + round * block + i;
                caches[which].insert(&k, &k);
            }
            took[which] = start.elapsed();
        }
        ratios.push(took[0].as_secs_f64() / took[1].as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    eprintln!("slowdown per round, sorted: {ratios:.2?}");
    ratios[ratios.len() / 2]
}

/// Inserts under a byte bound (`#[ucache]`'s default disk bound, 1 GiB) never scan the
/// namespace: Redis bounds itself (`maxmemory`) and expires keys itself (`PX`). 40 000
/// one-by-one inserts, as in the issue, with no SCAN call after the store was opened: that
/// is the exact check. The time is checked loosely: an insert into the full namespace costs at
/// most 4× one into an almost empty one (the median of 9 rounds of 500 each). Quarters timed
/// one after another are only printed: on this shared, loaded machine plain `SET`s of the
/// same 500 keys took from 38 to 200 ms within one run, so no bound on them would hold.
#[test]
fn inserts_under_a_byte_bound_never_scan_redis() {
    let Some(server) = RedisServer::start("inserts_under_a_byte_bound") else {
        return;
    };
    const INSERTS: u64 = 40_000;
    const QUARTER: u64 = INSERTS / 4;
    let bounded =
        |prefix: &str| -> RedisCache<u64> { cache(&server, prefix).max_bytes(1 << 30).build() };
    let full = bounded("twat-cache:review:inserts");
    let empty = bounded("twat-cache:review:inserts-empty");
    // Opens the stores (each counts its keys once).
    full.insert(&u64::MAX, &0);
    empty.insert(&u64::MAX, &0);
    let opened = scan_calls(&server);
    let mut quarters = Vec::new();
    for quarter in 0..4 {
        let start = Instant::now();
        for k in quarter * QUARTER..(quarter + 1) * QUARTER {
            full.insert(&k, &k);
        }
        quarters.push(start.elapsed());
        let scans = scan_calls(&server) - opened;
        assert_eq!(
            scans,
            0,
            "{} inserts ran {scans} SCAN calls",
            (quarter + 1) * QUARTER
        );
    }
    eprintln!("{QUARTER} inserts per quarter took {quarters:?}");
    let slowdown = median_slowdown([&full, &empty], 9, 500);
    assert!(
        slowdown <= 4.0,
        "inserts into {INSERTS} entries took {slowdown:.2}× as long as into an almost empty namespace"
    );
    assert_eq!(scan_calls(&server), opened, "no SCAN calls");
    assert_eq!(full.get(&(INSERTS - 1)), Some(INSERTS - 1));
}

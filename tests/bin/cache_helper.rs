//! A child process for the `#[bcache]` and `#[fcache]` tests: runs cached functions as told on
//! the command line and reports what happened, one `key value…` line at a time.
//!
//! `cache_helper [advance SECS] COMMAND ARGS…`, with `TWAT_CACHE_DIR` set by the test:
//! - `square N…`: `square(n)` for each n (folder "math"); checks every value.
//! - `hold SECS`: uses the "math" database, prints `ready`, then holds it for SECS seconds.
//! - `folder_a N`, `folder_b N`: one function name, two folders.
//! - `versioned_v1 N`, `versioned_v2 N`: one name, two pinned versions.
//! - `typed_u32 N`, `typed_string N`: one name and version, two return types.
//! - `bounded N…`: maxsize 5; prints the length after each call.
//! - `ttl N`: a one-hour TTL (use with `advance`).
//! - `write_forever`: `square(0)`, `square(1)`, … until killed, printing `wrote N` after each.
//! - `fwrite A B`: the `#[fcache]` function `file_payload(n)` for A <= n < B (folder "files").
//! - `fwrite_forever`: `file_payload(0)`, `file_payload(1)`, … until killed.
//! - `fbounded A B`: an `#[fcache]` function with `max_bytes = 8000`.
//! - `ttl_none N`, `ttl_short N` (`#[bcache]`), `fttl_none N`, `fttl_short N` (`#[fcache]`):
//!   one name, folder and version; without a TTL, and with `ttl = 1`.
//! - `fttl N`: an `#[fcache]` function with a one-hour TTL (use with `advance`).
//! - `config`, `fconfig`: zero-argument `#[bcache]` / `#[fcache]` functions.
//! - `pair N`, `bpair N`: `#[fcache]` / `#[bcache]` returning a `Pair` whose field order is
//!   `a, b`, or `b, a` when `PAIR_ORDER=ba` (a type whose layout changed under its name).
//! - `peek`: prints `len L` of the `square` cache before any call; `clear_first N…`: clears
//!   that cache before any call, then calls `square`.
//! - `vanish N…`: `square`, large values in a `SledCache`, then deletes the whole cache root
//!   and writes more large values before exiting.
//! - `fslow N`: an `#[fcache]` function whose body takes 300 ms (for cross-process single-flight).
//! - `fslow_after FILE N M`: `fslow(N)`, prints `ready`, waits (up to 60 s) for FILE to exist,
//!   then `fslow(M)` (a process that keeps running while the test changes the cache under it).
//! - `emfile N…`: lowers the open-file limit so the sled database cannot open, then `square`.
//!
//! Ends with `runs R` (body executions), `wrong W` (values that were not what the body
//! computes), and `stats hits misses errors len bytes` of the caches used.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use twat_cache::{CacheHandle, bcache, fcache};

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn ran() {
    RUNS.fetch_add(1, Ordering::SeqCst);
}

#[bcache(folder = "math")]
fn square(n: u64) -> u64 {
    ran();
    n * n
}

#[bcache(folder = "a", name = "shared")]
fn folder_a(n: u64) -> String {
    ran();
    format!("a{n}")
}

#[bcache(folder = "b", name = "shared")]
fn folder_b(n: u64) -> String {
    ran();
    format!("b{n}")
}

#[bcache(folder = "v", name = "versioned", version = "1")]
fn versioned_v1(n: u64) -> u64 {
    ran();
    n + 1
}

#[bcache(folder = "v", name = "versioned", version = "2")]
fn versioned_v2(n: u64) -> u64 {
    ran();
    n + 2
}

#[bcache(folder = "t", name = "typed", version = "1")]
fn typed_u32(n: u64) -> u32 {
    ran();
    n as u32 * 3
}

#[bcache(folder = "t", name = "typed", version = "1")]
fn typed_string(n: u64) -> String {
    ran();
    format!("three times {n}")
}

#[bcache(folder = "bounded", maxsize = 5)]
fn bounded(n: u64) -> Vec<u64> {
    ran();
    vec![n; 10]
}

#[bcache(folder = "ttl", ttl = "1h")]
fn with_ttl(n: u64) -> u64 {
    ran();
    n * 10
}

/// A value big enough to span several writes, different for every key.
fn payload(n: u64) -> Vec<u64> {
    (0..64)
        .map(|i| n.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(i))
        .collect()
}

#[fcache(folder = "files")]
fn file_payload(n: u64) -> Vec<u64> {
    ran();
    payload(n)
}

#[fcache(folder = "files-bounded", max_bytes = 8000)]
fn file_bounded(n: u64) -> Vec<u64> {
    ran();
    payload(n)
}

#[bcache(folder = "ttlchange", name = "ttlchange", version = "1")]
fn ttl_none(n: u64) -> u64 {
    ran();
    n + 100
}

#[bcache(folder = "ttlchange", name = "ttlchange", version = "1", ttl = 1)]
fn ttl_short(n: u64) -> u64 {
    ran();
    n + 100
}

#[fcache(folder = "fttlchange", name = "fttlchange", version = "1")]
fn fttl_none(n: u64) -> u64 {
    ran();
    n + 100
}

#[fcache(folder = "fttlchange", name = "fttlchange", version = "1", ttl = 1)]
fn fttl_short(n: u64) -> u64 {
    ran();
    n + 100
}

#[fcache(folder = "fttl", ttl = "1h")]
fn fwith_ttl(n: u64) -> u64 {
    ran();
    n * 10
}

#[fcache(folder = "fslow")]
fn fslow(n: u64) -> u64 {
    ran();
    std::thread::sleep(Duration::from_millis(300));
    n * 2
}

#[bcache(folder = "config")]
fn load_config() -> String {
    ran();
    "config".to_string()
}

#[fcache(folder = "fconfig")]
fn fload_config() -> String {
    ran();
    "config".to_string()
}

#[fcache(folder = "layout", name = "pair", version = "1")]
fn pair(n: u64) -> twat_cache_tests::Pair {
    ran();
    twat_cache_tests::Pair { a: n, b: n + 1 }
}

#[bcache(folder = "blayout", name = "pair", version = "1")]
fn bpair(n: u64) -> twat_cache_tests::Pair {
    ran();
    twat_cache_tests::Pair { a: n, b: n + 1 }
}

#[cfg(unix)]
/// Lowers the soft open-file limit to what is open now: no file can be opened.
fn starve_file_descriptors() {
    let open = std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count()) as u64;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid rlimit pointers; lowering a soft limit needs no privilege.
    let rc = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = open - 1; // the listing counted its own descriptor
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit)
    };
    assert_eq!(rc, 0);
}

fn main() {
    let args = twat_cache_tests::helper_args();
    let command = args.first().cloned().unwrap_or_default();
    let numbers: Vec<u64> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    let mut wrong = 0;
    let mut out = std::io::stdout().lock();
    let mut check = |ok: bool| wrong += usize::from(!ok);
    let handle: &CacheHandle = match command.as_str() {
        "square" => {
            for &n in &numbers {
                check(square(n) == n * n);
            }
            square_cache()
        }
        "hold" => {
            check(square(0) == 0);
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            std::thread::sleep(Duration::from_secs(numbers[0]));
            square_cache()
        }
        "folder_a" => {
            check(folder_a(numbers[0]) == format!("a{}", numbers[0]));
            folder_a_cache()
        }
        "folder_b" => {
            check(folder_b(numbers[0]) == format!("b{}", numbers[0]));
            folder_b_cache()
        }
        "versioned_v1" => {
            check(versioned_v1(numbers[0]) == numbers[0] + 1);
            versioned_v1_cache()
        }
        "versioned_v2" => {
            check(versioned_v2(numbers[0]) == numbers[0] + 2);
            versioned_v2_cache()
        }
        "typed_u32" => {
            check(typed_u32(numbers[0]) == numbers[0] as u32 * 3);
            typed_u32_cache()
        }
        "typed_string" => {
            check(typed_string(numbers[0]) == format!("three times {}", numbers[0]));
            typed_string_cache()
        }
        "bounded" => {
            for &n in &numbers {
                check(bounded(n) == vec![n; 10]);
                writeln!(out, "len {}", bounded_cache().len()).unwrap();
            }
            bounded_cache()
        }
        "write_forever" => {
            // Writes keys 0, 1, 2, … until killed, reporting each as it returns.
            for n in 0.. {
                check(square(n) == n * n);
                writeln!(out, "wrote {n}").unwrap();
                out.flush().unwrap();
            }
            square_cache()
        }
        "fwrite" => {
            // fwrite START END: file_payload(n) for START <= n < END.
            for n in numbers[0]..numbers[1] {
                check(file_payload(n) == payload(n));
            }
            file_payload_cache()
        }
        "fwrite_forever" => {
            for n in 0.. {
                check(file_payload(n) == payload(n));
                writeln!(out, "wrote {n}").unwrap();
                out.flush().unwrap();
            }
            file_payload_cache()
        }
        "fbounded" => {
            for n in numbers[0]..numbers[1] {
                check(file_bounded(n) == payload(n));
            }
            file_bounded_cache()
        }
        "ttl" => {
            check(with_ttl(numbers[0]) == numbers[0] * 10);
            with_ttl_cache()
        }
        "ttl_none" => {
            check(ttl_none(numbers[0]) == numbers[0] + 100);
            ttl_none_cache()
        }
        "ttl_short" => {
            check(ttl_short(numbers[0]) == numbers[0] + 100);
            ttl_short_cache()
        }
        "fttl_none" => {
            check(fttl_none(numbers[0]) == numbers[0] + 100);
            fttl_none_cache()
        }
        "fttl_short" => {
            check(fttl_short(numbers[0]) == numbers[0] + 100);
            fttl_short_cache()
        }
        "fttl" => {
            check(fwith_ttl(numbers[0]) == numbers[0] * 10);
            fwith_ttl_cache()
        }
        "fslow" => {
            check(fslow(numbers[0]) == numbers[0] * 2);
            fslow_cache()
        }
        "fslow_after" => {
            check(fslow(numbers[0]) == numbers[0] * 2);
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            let trigger = std::path::Path::new(&args[1]);
            let start = std::time::Instant::now();
            while !trigger.exists() && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(2));
            }
            check(fslow(numbers[1]) == numbers[1] * 2);
            fslow_cache()
        }
        "config" => {
            check(load_config() == "config");
            load_config_cache()
        }
        "fconfig" => {
            check(fload_config() == "config");
            fload_config_cache()
        }
        "pair" => {
            let n = numbers[0];
            check(pair(n) == twat_cache_tests::Pair { a: n, b: n + 1 });
            pair_cache()
        }
        "bpair" => {
            let n = numbers[0];
            check(bpair(n) == twat_cache_tests::Pair { a: n, b: n + 1 });
            bpair_cache()
        }
        "peek" => {
            writeln!(out, "len {}", square_cache().len()).unwrap();
            square_cache()
        }
        "vanish" => {
            for &n in &numbers {
                check(square(n) == n * n);
            }
            // Large values too (many sled log segments), written, read and removed.
            let big: twat_cache::SledCache<Vec<u8>> =
                twat_cache::SledCache::builder(twat_cache::cache_root().join("big"), "big").build();
            let value = vec![7u8; 64 << 10];
            for k in 0..50u64 {
                big.insert(&k, &value);
                check(big.get(&k).as_ref() == Some(&value));
                big.remove(&k);
            }
            std::fs::remove_dir_all(twat_cache::cache_root()).unwrap();
            for k in 1000..1010u64 {
                big.insert(&k, &value); // to a database whose files are gone
            }
            square_cache()
        }
        "clear_first" => {
            square_cache().clear();
            for &n in &numbers {
                check(square(n) == n * n);
            }
            square_cache()
        }
        #[cfg(unix)]
        "emfile" => {
            starve_file_descriptors();
            for &n in &numbers {
                check(square(n) == n * n);
            }
            square_cache()
        }
        other => panic!("unknown command {other:?}"),
    };
    let s = handle.stats();
    writeln!(out, "runs {}", RUNS.load(Ordering::SeqCst)).unwrap();
    writeln!(out, "wrong {wrong}").unwrap();
    writeln!(
        out,
        "stats {} {} {} {} {}",
        s.hits, s.misses, s.errors, s.len, s.bytes
    )
    .unwrap();
}

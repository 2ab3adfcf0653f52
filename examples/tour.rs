//! A tour of twat-cache on real work: `cargo run --release --example tour`.
//!
//! 1. A recursive computation (integer partitions), exponential without a cache.
//! 2. A parse-heavy workload: 200k arithmetic expressions drawn from 2k distinct ones with a
//!    skewed (Zipf-like) popularity, evaluated by a small recursive-descent parser.
//! 3. A bounded, TTL'd cache under a scan, showing evictions and the default policy at work.
//! 4. `#[bcache]`: prime counts cached on disk under the cache root. Run the tour twice: the
//!    second run reads every result back from disk.
//! 5. `#[fcache]`: "thumbnails" (256 KiB each) kept one file per entry, with a byte budget — the
//!    kind of cache several processes can share.
//! 6. `#[ucache]`: word statistics of generated "documents" behind a small memory tier and a
//!    disk tier, showing which tier served each hit. Run the tour twice: the second run finds
//!    every document on disk.
//!
//! Each step times the uncached body (`*_uncached`) against the cached function, then the tour
//! prints every cache's counters from `twat_cache::registry()`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use twat_cache::{Tier, bcache, cache_root, fcache, mcache, registry, ucache};

/// Number of ways to write `n` as a sum of parts no larger than `largest`.
#[mcache]
fn partitions(n: u32, largest: u32) -> u128 {
    match (n, largest) {
        (0, _) => 1,
        (_, 0) => 0,
        _ if largest > n => partitions(n, n),
        _ => partitions(n - largest, largest) + partitions(n, largest - 1),
    }
}

/// Evaluates `+ - * / ( )` over decimal numbers; errors are not cached.
#[mcache(maxsize = 4096)]
fn evaluate(expression: &str) -> Result<f64, String> {
    let mut parser = Parser {
        bytes: expression.as_bytes(),
        pos: 0,
    };
    let value = parser.sum()?;
    parser.skip_spaces();
    if parser.pos != parser.bytes.len() {
        return Err(format!("unexpected input at byte {}", parser.pos));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.bytes.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.bytes.get(self.pos).copied()
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut value = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            let rhs = self.product()?;
            value = if op == b'+' { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut value = self.atom()?;
        while let Some(op @ (b'*' | b'/')) = self.peek() {
            self.pos += 1;
            let rhs = self.atom()?;
            value = if op == b'*' { value * rhs } else { value / rhs };
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let value = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Ok(value)
            }
            Some(b'-') => {
                self.pos += 1;
                Ok(-self.atom()?)
            }
            _ => {
                let start = self.pos;
                while matches!(self.bytes.get(self.pos), Some(b'0'..=b'9' | b'.')) {
                    self.pos += 1;
                }
                std::str::from_utf8(&self.bytes[start..self.pos])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("expected a number at byte {start}"))
            }
        }
    }
}

static PROFILE_RENDERS: AtomicUsize = AtomicUsize::new(0);

/// A lookup with a lifetime: a "profile" rendered from an id, kept 10 minutes, at most 500.
#[mcache(maxsize = 500, ttl = "10m")]
fn render_profile(user_id: u64) -> Arc<String> {
    PROFILE_RENDERS.fetch_add(1, Ordering::Relaxed);
    let mut s = String::with_capacity(256);
    for i in 0..16 {
        s.push_str(&format!("{user_id:08x}:{i:02} "));
    }
    Arc::new(s)
}

static PRIME_COUNTS: AtomicUsize = AtomicUsize::new(0);

/// How many primes are below `limit` (a sieve: milliseconds of work per call), kept on disk.
#[bcache(folder = "tour", compress = true)]
fn primes_below(limit: u64) -> u64 {
    PRIME_COUNTS.fetch_add(1, Ordering::Relaxed);
    let limit = limit as usize;
    let mut composite = vec![false; limit.max(2)];
    let mut count = 0;
    for n in 2..limit {
        if !composite[n] {
            count += 1;
            for multiple in (n * n..limit).step_by(n) {
                composite[multiple] = true;
            }
        }
    }
    count
}

static THUMBNAILS: AtomicUsize = AtomicUsize::new(0);

/// A 256 KiB "thumbnail" of a synthetic image: a box-filter downscale, kept as one file each.
#[fcache(folder = "tour-thumbs", max_bytes = "4MiB")]
fn thumbnail(image: u32, size: u32) -> Vec<u8> {
    THUMBNAILS.fetch_add(1, Ordering::Relaxed);
    let (w, scale) = (size as usize, 8usize);
    let source = |x: usize, y: usize| ((x * 31 + y * 17 + image as usize * 97) % 251) as u32;
    let mut out = Vec::with_capacity(w * w);
    for y in 0..w {
        for x in 0..w {
            let mut sum = 0;
            for dy in 0..scale {
                for dx in 0..scale {
                    sum += source(x * scale + dx, y * scale + dy);
                }
            }
            out.push((sum / (scale * scale) as u32) as u8);
        }
    }
    out
}

static DOCUMENTS_ANALYSED: AtomicUsize = AtomicUsize::new(0);

/// Word statistics of a generated document (`(words, distinct words, longest word)`): memory
/// keeps the 64 most useful, disk all of them, shared with other processes and later runs.
#[ucache(folder = "tour-docs", maxsize = 64, disk_max_bytes = "16MiB")]
fn analyse(document: u64) -> (usize, usize, String) {
    DOCUMENTS_ANALYSED.fetch_add(1, Ordering::Relaxed);
    let mut rng = Rng(document.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let words: Vec<String> = (0..20_000)
        .map(|_| {
            let len = 2 + rng.next() % 9;
            (0..len)
                .map(|_| (b'a' + (rng.next() % 6) as u8) as char)
                .collect()
        })
        .collect();
    let distinct = words.iter().collect::<std::collections::HashSet<_>>().len();
    let longest = words
        .iter()
        .max_by_key(|w| w.len())
        .cloned()
        .unwrap_or_default();
    (words.len(), distinct, longest)
}

/// A deterministic xorshift generator, so every run does the same work.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Skewed pick in `0..n`: small indices are much more popular.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0) as u64
    }
}

fn make_expression(rng: &mut Rng) -> String {
    let mut expr = String::new();
    for term in 0..(3 + rng.next() % 6) {
        if term > 0 {
            expr.push_str([" + ", " - ", " * ", " / "][(rng.next() % 4) as usize]);
        }
        if rng.next().is_multiple_of(3) {
            expr.push_str(&format!(
                "({} * {}.{})",
                rng.next() % 97,
                rng.next() % 13,
                rng.next() % 10
            ));
        } else {
            expr.push_str(&format!("{}", 1 + rng.next() % 1000));
        }
    }
    expr
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// `d` with three significant digits in the unit that fits (`111 ns`, `4.56 ms`, `1.20 s`):
/// `{:.3?}` prints `111.000ns`.
fn took(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    let (value, unit) = match ns {
        n if n < 1e3 => (n, "ns"),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.decimals$} {unit}")
}

fn speedup(slow: Duration, fast: Duration) -> String {
    format!("{:.0}×", slow.as_secs_f64() / fast.as_secs_f64().max(1e-9))
}

fn main() {
    println!("twat-cache tour\n");

    // 1. Recursion.
    let n = 75;
    let (slow, uncached) = time(|| partitions_uncached_recursive(n, n));
    let (fast, cached) = time(|| partitions(n, n));
    assert_eq!(slow, fast);
    let (_, warm) = time(|| partitions(n, n));
    println!("1. partitions({n}) = {fast}");
    println!(
        "   uncached {:>10}   cached (cold) {:>10}   cached (warm) {:>10}   {} faster cold",
        took(uncached),
        took(cached),
        took(warm),
        speedup(uncached, cached)
    );

    // 2. Parsing.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let distinct: Vec<String> = (0..2_000).map(|_| make_expression(&mut rng)).collect();
    let workload: Vec<&str> = (0..200_000)
        .map(|_| distinct[rng.skewed(distinct.len() as u64) as usize].as_str())
        .collect();
    let (sum_slow, uncached) = time(|| {
        workload
            .iter()
            .filter_map(|e| evaluate_uncached(e).ok())
            .sum::<f64>()
    });
    let (sum_fast, cached) = time(|| {
        workload
            .iter()
            .filter_map(|e| evaluate(e).ok())
            .sum::<f64>()
    });
    assert_eq!(
        sum_slow.to_bits(),
        sum_fast.to_bits(),
        "a cache never changes a result"
    );
    println!(
        "\n2. evaluate(): {} calls over {} distinct expressions",
        workload.len(),
        distinct.len()
    );
    println!(
        "   uncached {:>10}   cached {:>10}   {} faster   hit ratio {:.1}%",
        took(uncached),
        took(cached),
        speedup(uncached, cached),
        100.0 * evaluate_cache().stats().hit_ratio()
    );

    // 3. A bounded cache under a scan.
    let (_, elapsed) = time(|| {
        for round in 0..20u64 {
            for hot in 0..200 {
                render_profile(hot);
            }
            for cold in 0..300 {
                render_profile(1_000_000 + round * 300 + cold);
            }
        }
    });
    let renders_before = PROFILE_RENDERS.load(Ordering::Relaxed);
    for hot in 0..200 {
        render_profile(hot);
    }
    let hot_missed = PROFILE_RENDERS.load(Ordering::Relaxed) - renders_before;
    println!(
        "\n3. render_profile(): 10k calls, 200 hot ids + a 6k-id scan, maxsize 500, in {}",
        took(elapsed)
    );
    println!(
        "   hot ids still cached after the scan: {}/200 (default policy: W-TinyLFU)",
        200 - hot_missed
    );

    // 4. Disk.
    let limits: Vec<u64> = (1..=40).map(|i| i * 250_000).collect();
    let (total, elapsed) = time(|| limits.iter().map(|&l| primes_below(l)).sum::<u64>());
    let computed = PRIME_COUNTS.load(Ordering::Relaxed);
    println!(
        "\n4. primes_below(): {} calls in {}, {computed} computed, {} read from disk (sum {total})",
        limits.len(),
        took(elapsed),
        limits.len() - computed
    );
    println!(
        "   cache folder: {} — run the tour again and every call is a disk hit",
        cache_root().join("tour").display()
    );

    // 5. Files.
    let (bytes, elapsed) = time(|| {
        // A gallery page of 12 images viewed twice, then the next page: 36 requests.
        (0..12u32)
            .chain(0..12)
            .chain(12..24)
            .map(|image| thumbnail(image, 512).len())
            .sum::<usize>()
    });
    let rendered = THUMBNAILS.load(Ordering::Relaxed);
    let stats = thumbnail_cache().stats();
    println!(
        "\n5. thumbnail(): 36 calls ({} MiB) in {}, {rendered} rendered, {} from files",
        bytes >> 20,
        took(elapsed),
        36 - rendered
    );
    println!(
        "   max_bytes 4 MiB: {} files, {} KiB on disk, {} pruned — in {}",
        stats.len,
        stats.bytes >> 10,
        stats.evictions,
        cache_root().join("tour-thumbs").display()
    );

    // 6. Two tiers.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let requests: Vec<u64> = (0..2_000).map(|_| rng.skewed(400)).collect();
    let (distinct_total, elapsed) = time(|| requests.iter().map(|&d| analyse(d).1).sum::<usize>());
    let analysed = DOCUMENTS_ANALYSED.load(Ordering::Relaxed);
    let cache = analyse_cache();
    let memory = cache.tier(Tier::Memory).unwrap_or_default();
    let disk = cache.tier(Tier::Disk).unwrap_or_default();
    println!(
        "\n6. analyse(): {} requests for 400 documents in {} (checksum {distinct_total})",
        requests.len(),
        took(elapsed)
    );
    println!(
        "   {analysed} analysed, {} memory-tier hits (maxsize 64), {} disk-tier hits, {} entries on disk",
        memory.hits, disk.hits, disk.len
    );

    // Stats of every cache in the process.
    println!(
        "\n{:<34} {:>9} {:>9} {:>7} {:>7} {:>9}",
        "cache", "hits", "misses", "hit%", "len", "evictions"
    );
    for info in registry() {
        let s = info.stats;
        println!(
            "{:<34} {:>9} {:>9} {:>6.1}% {:>7} {:>9}",
            info.name.trim_start_matches("tour::"),
            s.hits,
            s.misses,
            100.0 * s.hit_ratio(),
            s.len,
            s.evictions
        );
    }
}

/// The partitions recursion with no cache at all (the generated `partitions_uncached` runs the
/// body once, but its recursive calls go through the cached `partitions`).
fn partitions_uncached_recursive(n: u32, largest: u32) -> u128 {
    match (n, largest) {
        (0, _) => 1,
        (_, 0) => 0,
        _ if largest > n => partitions_uncached_recursive(n, n),
        _ => {
            partitions_uncached_recursive(n - largest, largest)
                + partitions_uncached_recursive(n, largest - 1)
        }
    }
}

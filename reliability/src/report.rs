//! RELIABILITY.md: what twat-cache guarantees, how each guarantee is tested, and the figures of
//! the last run — written by this command, never by hand.

use std::fmt::Write as _;
use std::time::Duration;

use crate::figures::{Figures, count, table};

const GUARANTEES: &str = r#"## What is guaranteed

1. **Never a wrong value.** A call returns what the function returns for its arguments: a
   stored entry is returned only if its key, namespace, value layout, checksum and deadline all
   match (see README "Disk and Redis entries"). Damaged, foreign, colliding, expired or
   invalidated entries are misses.
2. **Never a broken function.** A storage fault — full disk, I/O error, permission refused,
   too many open files, short write, slow disk, Redis down — costs caching, not correctness:
   the call still returns the right value, the cache counts the error (`errors`), logs one
   warning per outage, caches in its fallback (memory; for Redis the local disk, then memory),
   and uses its storage again once it works.
3. **Crash safety.** A process killed at any moment (SIGKILL) leaves no entry that reads as a
   wrong value. `#[fcache]` and `#[ucache]` publish an entry by renaming a complete temporary
   file: what a call stored survives a crash of the process. `#[bcache]` (sled) flushes every
   500 ms: a crash loses at most the entries of the last flush interval, never older ones, and
   never damages them.
4. **Single flight.** Concurrent misses of one key run the body once (in a process; for
   `#[fcache]`, `#[ucache]` and Redis also across processes).
5. **Bounded memory on hostile input.** Reading a stored entry never takes more memory than the
   entry may hold: its declared size, bounded per entry by `DEFAULT_MAX_ENTRY_BYTES` (256 MiB)
   unless `max_bytes` or `max_entry_bytes` sets another bound (`twat-cache inspect` too; a
   Redis value's length is checked on the server before it is fetched): a huge entry file, a
   decompression bomb or a lying length is refused before it is read or expanded.
6. **An invalidation wins.** After `invalidate`/`clear` returns, the old value is never
   returned again by this process — also when the storage was away at the time (the removal is
   applied when it returns).

## How each is tested

| suite | guarantees | how |
|---|---|---|
| hostile input | 1, 5 | a million random and mutated records read through the cache (bit flips, cuts, splices, lying lengths with a fixed-up checksum, other namespaces, layouts and keys, expired deadlines, zstd bombs), then the same in real entry files, raw values of the sled tree and real Redis values; peak memory measured |
| crash loop | 1, 3 | a child process hammers `#[bcache]`, `#[fcache]` or `#[ucache]` (calls and invalidations) and is SIGKILLed after 5 ms – 1.2 s; a verifier process reads every key, compares each value with the true function, and checks that everything stored before the kill (beyond the durability window) is there. Variants: a 15 ms delay injected between each temporary file's write and its rename (kills land in between), and a bound of 8 entries (kills land in prunes) |
| fault injection | 1, 2, 6 | every storage call (write, publish, read, remove, open, Redis command) fails with probability 5% — `ENOSPC`, `EIO`, `EACCES`, `EMFILE`, a short write or a 2 ms stall — while two threads call, invalidate and clear; each thread versions its keys, so a value read back after its invalidation counts as wrong; then the faults clear and the storage must be in use again |
| concurrency | 1, 4 | four threads on 24 keys of caches bounded at 4–8 entries with a 3 ms TTL, every value checked; first calls only, with a per-key "body running" mark (two at once = a single-flight failure), then with invalidations and clears; thousands of async tasks on a two-worker tokio runtime |
| model check | 1, 2, 6 | proptest sequences of calls, reads, invalidations, clears, clock moves, reopens and fault phases against a reference model, for memory, sled, files and memory + files; a failure is shrunk to a minimal sequence |
| loom model | exact `hits` | the one lock-free protocol — per-thread hit-counter cells handed from a dead thread to a newcomer — checked in every interleaving and weak-memory outcome of a few threads (`RUSTFLAGS="--cfg twat_loom" cargo test -p twat-cache-engines --lib loom_`, run by `.ci/run`); the flight table and the shards are mutex-based, so loom has nothing there that the stress suite does not cover |

Security cases (foreign-owned and world-writable directories, symlinks, FIFOs, huge files) are
integration tests run with a real second uid (`tests/disk_review.rs`,
`tests/disk_review_processes.rs`, `tests/fcache_basics.rs`, `tests/review_security.rs`), part
of `cargo test`.

## What the fault seam costs

Storage calls go through the fault seam only when the `fault-injection` feature is on (tests,
this suite); by default it is compiled out, and the default build contains none of its code.
Instructions per call counted by callgrind for a probe built both ways
(`reliability/seam_cost.sh`, which writes `reliability/seam-cost.md`, included here):

"#;

/// `reliability/seam_cost.sh`'s measurement.
const SEAM_COST: &str = include_str!("../seam-cost.md");

/// The whole report.
pub fn render(
    all: &[Figures],
    timings: &[(&str, Duration, Duration)],
    scale: u64,
    seed: u64,
    took: Duration,
) -> String {
    let mut out = String::from("# Reliability\n\n");
    out.push_str(
        "Generated by `cargo run -p twat-cache-reliability -- --out RELIABILITY.md` \
         (`.ci/run` runs the same suites at the same counts and fails on any wrong value, lost \
         entry or broken guarantee). Do not edit by hand.\n\n",
    );
    out.push_str(GUARANTEES);
    out.push_str(SEAM_COST);
    let total = |f: fn(&Figures) -> u64| all.iter().map(f).sum::<u64>();
    let _ = write!(
        out,
        "\n## The last run\n\n{} operations, {} faults injected, {} crashes survived, {} hostile \
         inputs decoded; **{} wrong values, {} entries lost beyond the durability window**. \
         Scale {scale}, seed {seed}, {:.0} s on {}.\n\n",
        count(total(|f| f.operations)),
        count(total(|f| f.faults)),
        count(total(|f| f.crashes)),
        count(total(|f| f.hostile)),
        total(|f| f.wrong),
        total(|f| f.lost),
        took.as_secs_f64(),
        machine(),
    );
    out.push_str(&table(all));
    out.push_str("\n### Notes per suite\n\n");
    for f in all {
        let _ = writeln!(out, "- **{} / {}**: {}", f.suite, f.engine, f.notes);
        for failure in &f.failures {
            let _ = writeln!(out, "  - FAILED: {failure}");
        }
    }
    out.push_str(
        "\n### Time budgets\n\nEach suite must finish within its budget (a slower one fails the \
         run; one still running at twice its budget is stopped as hung). The budgets add up to \
         14 minutes at scale 1, for CI's 15 on two cores.\n\n| suites | budget | took |\n|---|---:|---:|\n",
    );
    for (suite, budget, took) in timings {
        let _ = writeln!(
            out,
            "| {suite} | {} s | {:.0} s |",
            budget.as_secs(),
            took.as_secs_f64()
        );
    }
    out.push_str(
        "\n## Bugs these suites found\n\n\
         - A compressed entry declaring a decompressed size beyond the cache's `max_bytes` was \
         decompressed anyway (memory bounded only by the declared size): the hostile-input \
         suite's bombs. Now such an entry is refused before decompression, and a value larger \
         than `max_bytes` uncompressed is not stored compressed \
         (`tests/disk_review.rs`).\n\
         - An invalidation whose removal failed (or whose check of the stored entry could not \
         read it) left the old entry on disk and readable: the fault-injection suite read values \
         back after their invalidation (sled, files, memory + files). Now the cache leaves the \
         storage until the removal is applied, as when the storage is away \
         (`tests/disk_faults.rs`).\n\
",
    );
    out
}

/// Cores and OS, for the record.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {}", std::env::consts::OS)
}

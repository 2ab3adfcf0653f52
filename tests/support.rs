//! Shared helpers for the integration tests (kept tiny on purpose).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts body executions.
#[derive(Default)]
pub struct Calls(AtomicUsize);

impl Calls {
    /// A counter at zero, usable in a `static`.
    pub const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Records one execution.
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// Executions so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Points `TWAT_CACHE_DIR` at a fresh temporary directory, once per test binary, before any
/// cache is used. Every test of a binary that uses disk caches calls this first.
pub fn isolated_cache_root() {
    static ROOT: std::sync::Once = std::sync::Once::new();
    ROOT.call_once(|| {
        let dir = tempfile::tempdir().expect("a temp dir").keep();
        // SAFETY: runs once, before any cache reads the variable; tests of the binary call this
        // before touching a cache.
        unsafe { std::env::set_var("TWAT_CACHE_DIR", &dir) };
    });
}

/// What one run of a helper binary reported (`runs R`, `wrong W`, `stats h m e l`, and any
/// other `name value…` lines).
#[derive(Debug)]
pub struct Report {
    /// Body executions in the child.
    pub runs: u64,
    /// Values the child got that were not what the body computes.
    pub wrong: u64,
    /// Hits of the cache the command used.
    pub hits: u64,
    /// Errors counted by that cache.
    pub errors: u64,
    /// Its entries at the end.
    pub len: u64,
    /// Every line, for command-specific output.
    pub lines: Vec<String>,
}

impl Report {
    /// Reads a helper's output lines (`runs`, `wrong` and `stats` are required).
    pub fn parse(lines: Vec<String>) -> Self {
        let mut report = Report {
            runs: 0,
            wrong: 0,
            hits: 0,
            errors: 0,
            len: 0,
            lines,
        };
        report.runs = report.field("runs").expect("runs line")[0];
        report.wrong = report.field("wrong").expect("wrong line")[0];
        let stats = report.field("stats").expect("stats line");
        (report.hits, report.errors, report.len) = (stats[0], stats[2], stats[3]);
        report
    }

    /// The first value of every line starting with `name`, in order.
    pub fn each(&self, name: &str) -> Vec<u64> {
        self.lines
            .iter()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some(name)).then(|| words.next()?.parse().ok())?
            })
            .collect()
    }

    /// The values of the first line starting with `name`.
    pub fn field(&self, name: &str) -> Option<Vec<u64>> {
        self.lines.iter().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(name)).then(|| words.filter_map(|w| w.parse().ok()).collect())
        })
    }
}

/// Runs `bin args…` with `TWAT_CACHE_DIR=root` (and `env`), asserting it succeeds.
pub fn run_helper(
    bin: &str,
    root: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Report {
    let output = std::process::Command::new(bin)
        .args(args)
        .env("TWAT_CACHE_DIR", root)
        .env_remove("TWAT_CACHE_DISABLE")
        .envs(env.iter().copied())
        .output()
        .expect("helper runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "helper {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    Report::parse(stdout.lines().map(str::to_string).collect())
}

/// Gives `path` to uid/gid 65534 (`nobody`): tests run as root, so only another owner proves
/// that a directory is refused for its owner.
#[cfg(unix)]
pub fn chown_to_nobody(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: a valid NUL-terminated path; chown has no other preconditions.
    let rc = unsafe { libc::chown(c.as_ptr(), 65534, 65534) };
    assert_eq!(
        rc,
        0,
        "chown {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Whether this process can give files away (root). When it cannot, prints a loud SKIPPED
/// line — or fails, when `TWAT_CACHE_REQUIRE_ROOT` is set (CI sets it: there a skipped
/// ownership test must not pass as a test that ran).
#[cfg(unix)]
pub fn can_chown(case: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() == 0 } {
        return true;
    }
    assert!(
        std::env::var_os("TWAT_CACHE_REQUIRE_ROOT").is_none(),
        "{case} needs root (chown to 65534), and TWAT_CACHE_REQUIRE_ROOT is set"
    );
    eprintln!("SKIPPED: {case} needs root (chown to 65534)");
    false
}

/// A struct whose serde layout is chosen at run time: fields `a, b`, or `b, a` when the
/// environment has `PAIR_ORDER=ba` — what a program sees after the fields of a returned struct
/// were reordered and it was rebuilt (same type name, other layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// First.
    pub a: u64,
    /// Second.
    pub b: u64,
}

fn swapped() -> bool {
    std::env::var("PAIR_ORDER").is_ok_and(|v| v == "ba")
}

const AB: &[&str] = &["a", "b"];
const BA: &[&str] = &["b", "a"];

impl serde::Serialize for Pair {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Pair", 2)?;
        if swapped() {
            s.serialize_field("b", &self.b)?;
            s.serialize_field("a", &self.a)?;
        } else {
            s.serialize_field("a", &self.a)?;
            s.serialize_field("b", &self.b)?;
        }
        s.end()
    }
}

impl<'de> serde::Deserialize<'de> for Pair {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = Pair;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Pair")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
                let missing = || serde::de::Error::custom("missing field");
                let first: u64 = seq.next_element()?.ok_or_else(missing)?;
                let second: u64 = seq.next_element()?.ok_or_else(missing)?;
                Ok(if swapped() {
                    Pair {
                        b: first,
                        a: second,
                    }
                } else {
                    Pair {
                        a: first,
                        b: second,
                    }
                })
            }
        }
        let fields = if swapped() { BA } else { AB };
        deserializer.deserialize_struct("Pair", fields, Fields)
    }
}

/// Every entry file (`*.twc`) below `dir`, at any depth.
pub fn entry_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else if p.extension().is_some_and(|e| e == "twc") {
            found.push(p);
        }
    }
    found
}

/// Starts `count` copies of `bin args…` at once on cache root `root`, waits for all, and
/// returns their summed `runs` (body executions); every child must succeed with `wrong 0`.
pub fn concurrent_runs(bin: &str, root: &std::path::Path, args: &[&str], count: usize) -> u64 {
    concurrent_reports(bin, root, args, count)
        .iter()
        .map(|r| r.runs)
        .sum()
}

/// Starts `count` copies of `bin args…` at once on cache root `root`, waits for all, and
/// returns what each reported; every child must succeed with `wrong 0`.
pub fn concurrent_reports(
    bin: &str,
    root: &std::path::Path,
    args: &[&str],
    count: usize,
) -> Vec<Report> {
    let children: Vec<_> = (0..count)
        .map(|_| {
            std::process::Command::new(bin)
                .args(args)
                .env("TWAT_CACHE_DIR", root)
                .env_remove("TWAT_CACHE_DISABLE")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("helper starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("helper runs");
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(output.status.success(), "{text}");
            let report = Report::parse(text.lines().map(str::to_string).collect());
            assert_eq!(report.wrong, 0, "{text}");
            report
        })
        .collect()
}

/// A helper binary's arguments, after applying a leading `advance SECS` (which moves this
/// process's clock forward, as if SECS had passed since the entries were written).
pub fn helper_args() -> Vec<String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("advance") {
        let secs: u64 = args[1].parse().expect("seconds");
        twat_cache::Clock::advance_system(std::time::Duration::from_secs(secs));
        args.drain(..2);
    }
    args
}

#[path = "support/redis_server.rs"]
mod redis_server;
pub use redis_server::RedisServer;

#[path = "support/events.rs"]
mod events;
pub use events::events_during;

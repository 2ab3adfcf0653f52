//! Crash loops: a child process hammers a disk-backed attribute and is killed with SIGKILL at a
//! random moment; then a verifier process reads every key through the same function and checks
//! each value against the true function, and that every entry stored before the kill — longer
//! ago than the store's durability window — is still there.
//!
//! Durability windows (README "Durability"): `#[fcache]` and `#[ucache]` publish an entry by
//! renaming a complete temporary file, so a killed process loses nothing it stored; `#[bcache]`
//! (sled) flushes every `FLUSH_EVERY_MS` (500 ms), so a kill may lose what was stored in the
//! last flush interval — counted as lost here only if stored more than a second before the kill.
//!
//! Variants: slow renames (an injected 15 ms delay before each publish, so kills land between
//! the temporary file's write and its rename), and a bound of 8 entries (kills land in prunes).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use twat_cache::{bcache, fcache, ucache};

use crate::figures::Figures;
use crate::rng::Rng;

/// Keys the children and verifiers use.
const KEYS: u64 = 128;

/// The true function: mostly small values, every 8th key a 40 KiB one (kept on disk only by
/// `#[ucache]`, in its own file).
pub fn value(k: u64) -> Vec<u8> {
    let len = if k.is_multiple_of(8) {
        40_000 + k as usize
    } else {
        64 + (k % 100) as usize
    };
    let mut rng = Rng::new(k);
    rng.bytes(len)
}

/// Keys whose body ran in this process (the verifier's record of what was missing).
static COMPUTED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn computed(k: u64) -> Vec<u8> {
    COMPUTED.lock().unwrap_or_else(|e| e.into_inner()).push(k);
    value(k)
}

#[bcache(folder = "crash", version = "1")]
fn sled_value(k: u64) -> Vec<u8> {
    computed(k)
}

#[fcache(folder = "crash", version = "1")]
fn file_value(k: u64) -> Vec<u8> {
    computed(k)
}

#[ucache(folder = "crash", version = "1", maxsize = 16)]
fn tiered_value(k: u64) -> Vec<u8> {
    computed(k)
}

#[fcache(folder = "crash-bounded", version = "1", maxsize = 8)]
fn bounded_value(k: u64) -> Vec<u8> {
    computed(k)
}

/// One way of running the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Sled,
    Files,
    Tiered,
    /// Files, each publish delayed 15 ms between the write and the rename.
    SlowRename,
    /// Files bounded at 8 entries: prunes all the time.
    Bounded,
}

impl Variant {
    pub const ALL: [Variant; 5] = [
        Variant::Sled,
        Variant::Files,
        Variant::Tiered,
        Variant::SlowRename,
        Variant::Bounded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Sled => "#[bcache] (sled)",
            Variant::Files => "#[fcache] (files)",
            Variant::Tiered => "#[ucache] (memory + files)",
            Variant::SlowRename => "#[fcache], kill between write and rename",
            Variant::Bounded => "#[fcache] maxsize 8, kill during prunes",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Variant::Sled => "sled",
            Variant::Files => "files",
            Variant::Tiered => "tiered",
            Variant::SlowRename => "slow-rename",
            Variant::Bounded => "bounded",
        }
    }

    fn parse(arg: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|v| v.arg() == arg)
            .unwrap_or_else(|| panic!("unknown crash variant {arg}"))
    }

    fn call(self, k: u64) -> Vec<u8> {
        match self {
            Variant::Sled => sled_value(k),
            Variant::Files | Variant::SlowRename => file_value(k),
            Variant::Tiered => tiered_value(k),
            Variant::Bounded => bounded_value(k),
        }
    }

    fn invalidate(self, k: u64) {
        match self {
            Variant::Sled => sled_value_invalidate(k),
            Variant::Files | Variant::SlowRename => file_value_invalidate(k),
            Variant::Tiered => tiered_value_invalidate(k),
            Variant::Bounded => bounded_value_invalidate(k),
        };
    }

    /// How long before a kill an entry must have been stored to be certain to survive it.
    fn window(self) -> Option<Duration> {
        match self {
            Variant::Sled => Some(Duration::from_millis(twat_cache::disk::FLUSH_EVERY_MS * 2)),
            Variant::Files | Variant::Tiered | Variant::SlowRename => Some(Duration::ZERO),
            // Entries are evicted: what is there is checked, not what is missing.
            Variant::Bounded => None,
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `child VARIANT SEED`: calls and invalidations on random keys until killed, reporting each
/// as it completes (`stored K MS`) or before it starts (`removing K`), and any wrong value.
pub fn child(variant: &str, seed: u64) {
    let variant = Variant::parse(variant);
    if variant == Variant::SlowRename {
        let root = twat_cache::cache_root();
        twat_cache::fault::inject_fault(
            twat_cache::fault::Op::Rename,
            &root,
            twat_cache::fault::Fault::Delay(Duration::from_millis(15)),
            u32::MAX,
        );
    }
    let mut rng = Rng::new(seed);
    loop {
        let k = rng.below(KEYS);
        if rng.chance(0.15) {
            println!("removing {k}");
            variant.invalidate(k);
        } else {
            let got = variant.call(k);
            if got != value(k) {
                println!("wrong {k}");
            }
            println!("stored {k} {}", unix_ms());
        }
    }
}

/// `verify VARIANT [K…]`: reads every key; the given keys must not be computed (they were
/// stored before the crash's window). Prints `wrong W`, `lost L` and `checked N`.
pub fn verify(variant: &str, expected: &[u64]) {
    let variant = Variant::parse(variant);
    let mut wrong = 0;
    for k in 0..KEYS {
        if variant.call(k) != value(k) {
            wrong += 1;
        }
    }
    let computed = COMPUTED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lost: Vec<u64> = expected
        .iter()
        .copied()
        .filter(|k| computed.contains(k))
        .collect();
    println!("wrong {wrong}");
    println!("lost {}", lost.len());
    if !lost.is_empty() {
        println!("lost-keys {lost:?}");
    }
    println!("checked {KEYS}");
}

/// What the parent knows of the store: the keys stored and when (unix ms).
type Stored = HashMap<u64, u64>;

/// Runs `iterations` kill-and-verify rounds of `variant` on a fresh cache root.
pub fn run(variant: Variant, iterations: u64, seed: u64) -> Figures {
    let start = Instant::now();
    let mut figures = Figures::new("crash loop", variant.name());
    let root = tempfile::tempdir().expect("a temp dir");
    let me = std::env::current_exe().expect("this binary");
    let mut rng = Rng::new(seed);
    let mut stored = Stored::new();
    for round in 0..iterations {
        let (lines, kill_ms) = run_child(&me, root.path(), variant, rng.next_u64(), &mut rng);
        figures.crashes += 1;
        for line in &lines {
            let mut words = line.split_whitespace();
            match (
                words.next(),
                words.next().and_then(|k| k.parse::<u64>().ok()),
            ) {
                (Some("stored"), Some(k)) => {
                    figures.operations += 1;
                    let at = words.next().and_then(|t| t.parse().ok()).unwrap_or(kill_ms);
                    stored.insert(k, at);
                }
                (Some("removing"), Some(k)) => {
                    figures.operations += 1;
                    stored.remove(&k);
                }
                (Some("wrong"), Some(k)) => {
                    figures.wrong += 1;
                    eprintln!("WRONG VALUE in a crash child ({}): key {k}", variant.name());
                }
                _ => {}
            }
        }
        let expected: Vec<u64> = match variant.window() {
            Some(window) => stored
                .iter()
                .filter(|&(_, &at)| at + (window.as_millis() as u64) < kill_ms)
                .map(|(&k, _)| k)
                .collect(),
            None => Vec::new(),
        };
        let report = run_verifier(&me, root.path(), variant, &expected);
        figures.operations += KEYS;
        let field = |name: &str| {
            report
                .iter()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("verifier output lacks {name}: {report:?}"))
        };
        let (wrong, lost) = (field("wrong "), field("lost "));
        if wrong + lost > 0 {
            eprintln!(
                "crash loop {} round {round}: {wrong} wrong, {lost} lost: {report:?}",
                variant.name()
            );
        }
        figures.wrong += wrong;
        figures.lost += lost;
        // The verifier stored every key and exited normally (a normal exit flushes sled).
        let now = unix_ms();
        stored = (0..KEYS).map(|k| (k, now)).collect();
    }
    figures.notes = match variant.window() {
        Some(w) if w.is_zero() => {
            "durability window: none (entries are published by rename)".into()
        }
        Some(w) => format!(
            "durability window: {} ms (sled's flush interval, twice)",
            w.as_millis()
        ),
        None => "entries are evicted: values checked, presence not".into(),
    };
    figures.elapsed = start.elapsed();
    figures
}

/// Starts a child, lets it work for a random while, kills it; returns its output lines and
/// when it was killed (unix ms).
fn run_child(
    me: &Path,
    root: &Path,
    variant: Variant,
    seed: u64,
    rng: &mut Rng,
) -> (Vec<String>, u64) {
    let mut child = Command::new(me)
        .args(["child", variant.arg(), &seed.to_string()])
        .env("TWAT_CACHE_DIR", root)
        .env_remove("TWAT_CACHE_DISABLE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the crash child starts");
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    // Mostly short runs (kills during open and the first writes), some long enough for sled's
    // periodic flushes.
    let work = if rng.chance(0.2) {
        Duration::from_millis(200 + rng.below(1000))
    } else {
        Duration::from_millis(5 + rng.below(60))
    };
    std::thread::sleep(work);
    let kill_ms = unix_ms();
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    (reader.join().unwrap_or_default(), kill_ms)
}

fn run_verifier(me: &Path, root: &Path, variant: Variant, expected: &[u64]) -> Vec<String> {
    let output = Command::new(me)
        .arg("verify")
        .arg(variant.arg())
        .args(expected.iter().map(u64::to_string))
        .env("TWAT_CACHE_DIR", root)
        .env_remove("TWAT_CACHE_DISABLE")
        .stderr(Stdio::inherit())
        .output()
        .expect("the verifier runs");
    assert!(output.status.success(), "the verifier failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

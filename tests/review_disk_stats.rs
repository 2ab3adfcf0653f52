//! Issue 24 item 5: a disk tier's `len()`/`bytes` are the store's numbers (the ones
//! `twat-cache stats` prints), not a running count of what this process wrote. Processes
//! sharing a file store write different keys; each one's stats at the end must equal what is on
//! disk.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use twat_cache::disk::inspect;

const CACHE_HELPER: &str = env!("CARGO_BIN_EXE_cache_helper");
const UCACHE_HELPER: &str = env!("CARGO_BIN_EXE_ucache_helper");

/// `(len, bytes)` of a helper's `stats hits misses errors len bytes` line.
fn len_and_bytes(lines: &[String]) -> (u64, u64) {
    let stats: Vec<u64> = lines
        .iter()
        .find_map(|l| l.strip_prefix("stats "))
        .expect("stats line")
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    (stats[3], stats[4])
}

/// Entries and bytes of the cache named `function` as `twat-cache stats` counts them.
fn on_disk(root: &Path, function: &str) -> (u64, u64) {
    let caches = inspect::scan_root(root).unwrap();
    let cache = caches
        .iter()
        .find(|c| c.name == function)
        .unwrap_or_else(|| panic!("no cache named {function}: {caches:?}"));
    (cache.entries(), cache.bytes())
}

/// Entry files under `dir` and their summed sizes.
fn files(dir: &Path) -> (u64, u64) {
    let files = twat_cache_tests::entry_files(dir);
    let bytes = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    (files.len() as u64, bytes)
}

/// Spawns `bin args…` on `root`; returns it and a reader thread that sends `()` on `ready`
/// and hands back every line.
fn spawn_reporting(
    bin: &str,
    root: &Path,
    args: &[&str],
    ready: std::sync::mpsc::Sender<()>,
) -> (std::process::Child, std::thread::JoinHandle<Vec<String>>) {
    let mut child = Command::new(bin)
        .args(args)
        .env("TWAT_CACHE_DIR", root)
        .env_remove("TWAT_CACHE_DISABLE")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line == "ready" {
                let _ = ready.send(());
            }
            lines.push(line);
        }
        lines
    });
    (child, reader)
}

#[test]
fn fcache_stats_of_a_process_count_entries_other_processes_wrote() {
    let root = tempfile::tempdir().unwrap();
    let trigger = root.path().join("go");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    // Opens the store, writes key 1, then waits while two other processes write keys 2 and 3;
    // its last call (key 1 again) is a hit.
    let (child, reader) = spawn_reporting(
        CACHE_HELPER,
        root.path(),
        &["fslow_after", trigger.to_str().unwrap(), "1", "1"],
        ready_tx,
    );
    ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("helper ready");
    for n in ["2", "3"] {
        let report = twat_cache_tests::run_helper(CACHE_HELPER, root.path(), &["fslow", n], &[]);
        assert_eq!((report.runs, report.wrong), (1, 0));
    }
    std::fs::write(&trigger, b"").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let waited = reader.join().unwrap();
    let expected = files(root.path());
    assert_eq!(expected.0, 3, "three entry files");
    assert_eq!(
        on_disk(root.path(), "cache_helper::fslow"),
        expected,
        "inspect agrees"
    );
    assert_eq!(
        len_and_bytes(&waited),
        expected,
        "the process that waited: {waited:?}"
    );
    // A fresh process that only hits.
    let fresh = twat_cache_tests::run_helper(CACHE_HELPER, root.path(), &["fslow", "2"], &[]);
    assert_eq!(fresh.runs, 0);
    assert_eq!(len_and_bytes(&fresh.lines), expected, "a fresh process");
}

#[test]
fn ucache_stats_of_two_processes_count_each_others_entries() {
    let root = tempfile::tempdir().unwrap();
    let flags = tempfile::tempdir().unwrap();
    let flags = flags.path().to_str().unwrap();
    let (ready_tx, _ready_rx) = std::sync::mpsc::channel();
    // Each computes its own key, waits for the other's, and reads that from disk.
    let a = spawn_reporting(
        UCACHE_HELPER,
        root.path(),
        &["exchange", "1", "2", flags],
        ready_tx.clone(),
    );
    let b = spawn_reporting(
        UCACHE_HELPER,
        root.path(),
        &["exchange", "2", "1", flags],
        ready_tx,
    );
    let mut reports = Vec::new();
    for (child, reader) in [a, b] {
        assert!(child.wait_with_output().unwrap().status.success());
        reports.push(reader.join().unwrap());
    }
    let expected = files(root.path());
    assert_eq!(expected.0, 2, "two entry files");
    assert_eq!(
        on_disk(root.path(), "ucache_helper::profile"),
        expected,
        "inspect agrees"
    );
    for lines in &reports {
        assert!(lines.contains(&"wrong 0".to_string()), "{lines:?}");
        assert_eq!(len_and_bytes(lines), expected, "{lines:?}");
    }
}

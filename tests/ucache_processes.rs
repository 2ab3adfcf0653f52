//! `#[ucache]` across real processes: the disk tier is shared by processes running at the same
//! time, survives them, holds TTLs across tiers, and comes back after an outage.
#![deny(warnings)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use twat_cache_tests::{Report, run_helper};

const HELPER: &str = env!("CARGO_BIN_EXE_ucache_helper");

fn run(root: &std::path::Path, args: &[&str]) -> Report {
    let report = run_helper(HELPER, root, args, &[]);
    assert_eq!(report.wrong, 0, "wrong values: {report:?}");
    report
}

/// `(hits, len)` of one tier, from the `tier NAME H L` lines.
fn tier(report: &Report, name: &str) -> (u64, u64) {
    let line = report
        .lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("tier {name} ")))
        .expect("a tier line");
    let mut words = line.split_whitespace().map(|w| w.parse().unwrap());
    (words.next().unwrap(), words.next().unwrap())
}

#[test]
fn a_second_process_hits_the_disk_tier() {
    let root = tempfile::tempdir().unwrap();
    let first = run(root.path(), &["get", "1", "1", "2"]);
    assert_eq!(first.runs, 2);
    assert_eq!(tier(&first, "memory").0, 1, "the repeat is a memory hit");
    assert_eq!(
        tier(&first, "disk").0,
        0,
        "a memory hit never reads the disk"
    );

    let second = run(root.path(), &["get", "1", "2", "1"]);
    assert_eq!(second.runs, 0, "found on disk: {second:?}");
    assert_eq!(tier(&second, "disk").0, 2, "1 and 2 came from disk");
    assert_eq!(tier(&second, "memory").0, 1, "then 1 from memory");
}

#[test]
fn entries_evicted_from_memory_are_found_on_disk() {
    let root = tempfile::tempdir().unwrap();
    let args = ["get", "1", "2", "3", "4", "5", "1", "2", "3", "4", "5"];
    let report = run(root.path(), &args);
    assert_eq!(report.runs, 5, "five keys computed once each");
    let (memory_hits, memory_len) = tier(&report, "memory");
    let (disk_hits, disk_len) = tier(&report, "disk");
    assert!(memory_len <= 2, "memory holds 2 entries: {memory_len}");
    assert_eq!(disk_len, 5);
    assert_eq!(memory_hits + disk_hits, 5, "every repeat was a hit");
    assert!(disk_hits >= 3, "at most 2 repeats from memory: {disk_hits}");
    assert_eq!(report.hits, 5, "the cache's hits count both tiers");
}

#[test]
fn two_processes_started_together_read_each_others_entries() {
    let root = tempfile::tempdir().unwrap();
    let flags = tempfile::tempdir().unwrap();
    let spawn = |mine: &str, theirs: &str| {
        Command::new(HELPER)
            .args(["exchange", mine, theirs, flags.path().to_str().unwrap()])
            .env("TWAT_CACHE_DIR", root.path())
            .env_remove("TWAT_CACHE_DISABLE")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("1", "2"), spawn("2", "1"));
    for child in [a, b] {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(text.contains("runs 1\n"), "computed only its own: {text}");
        assert!(text.contains("wrong 0\n"), "{text}");
        assert!(
            text.contains("tier disk 1 "),
            "read the other's from disk: {text}"
        );
    }
}

#[test]
fn four_processes_missing_one_key_at_once_compute_it_once() {
    let root = tempfile::tempdir().unwrap();
    let runs = twat_cache_tests::concurrent_runs(HELPER, root.path(), &["slow", "21"], 4);
    assert_eq!(runs, 1, "the body ran once across four processes");
}

/// A memory copy filled from disk expires with the disk entry, not a full TTL later.
#[test]
fn a_memory_copy_never_outlives_its_disk_entry() {
    let root = tempfile::tempdir().unwrap();
    let writer = run(root.path(), &["ttl_walk", "5", "0"]);
    assert_eq!(writer.runs, 1);
    // 50 minutes later: a disk hit with 10 minutes left, copied to memory; 20 minutes after
    // that both copies are past the entry's deadline.
    let reader = run(root.path(), &["advance", "3000", "ttl_walk", "5", "1200"]);
    assert_eq!(tier(&reader, "disk").0, 1, "{reader:?}");
    assert_eq!(
        reader.runs, 1,
        "the memory copy expired with the disk entry"
    );
    // And an entry past its TTL is never read from disk.
    let late = run(root.path(), &["advance", "9000", "ttl_walk", "6", "0"]);
    assert_eq!(late.runs, 1);
    let later = run(root.path(), &["advance", "12700", "ttl_walk", "6", "0"]);
    assert_eq!(later.runs, 1, "6 expired on disk after an hour: {later:?}");
}

/// The cache root is unusable (a regular file): values are right and cached in memory; once
/// the root is usable the disk tier is retried and written, and another process reads it.
#[test]
fn an_unusable_disk_tier_falls_back_to_memory_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::write(&root, b"not a directory").unwrap();
    let flag = dir.path().join("go");
    let mut child = Command::new(HELPER)
        .args(["restore", flag.to_str().unwrap(), "1"])
        .env("TWAT_CACHE_DIR", &root)
        .env_remove("TWAT_CACHE_DISABLE")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let fallback = lines.next().unwrap().unwrap();
    let errors: u64 = fallback.strip_prefix("fallback ").unwrap().parse().unwrap();
    assert!(errors >= 1, "the refused disk tier counted: {fallback}");
    std::fs::remove_file(&root).unwrap();
    std::fs::write(&flag, b"").unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");
    let text = rest.join("\n");
    assert!(text.contains("wrong 0"), "{text}");
    let disk_len: u64 = rest
        .iter()
        .find_map(|l| l.strip_prefix("disk_len ")?.parse().ok())
        .unwrap();
    assert!(disk_len >= 1, "written to disk once it worked: {text}");
    assert!(
        text.contains("tier memory 1 "),
        "the repeat was a memory hit: {text}"
    );
    // The entry written once the disk was back is there for everyone.
    let last = rest
        .iter()
        .find_map(|l| l.strip_prefix("last "))
        .unwrap()
        .to_string();
    let reader = run(&root, &["get", &last]);
    assert_eq!(reader.runs, 0, "{reader:?} after {text}");
}

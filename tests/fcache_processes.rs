//! `#[fcache]` across real processes: concurrent writers, SIGKILLed writers, damaged files,
//! byte bounds. The helper binary is `bin/cache_helper.rs` (its `f…` commands).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use twat_cache_tests::entry_files;

fn run(root: &Path, args: &[&str]) -> (u64, u64) {
    let report = twat_cache_tests::run_helper(env!("CARGO_BIN_EXE_cache_helper"), root, args, &[]);
    (report.runs, report.wrong)
}

#[test]
fn a_second_process_hits_and_files_are_private() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(run(root.path(), &["fwrite", "0", "40"]), (40, 0));
    assert_eq!(
        run(root.path(), &["fwrite", "0", "40"]),
        (0, 0),
        "all hits from files"
    );
    let files = entry_files(&root.path().join("files"));
    assert_eq!(files.len(), 40);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in &files {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
            let dir_mode = std::fs::metadata(f.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
    }
}

#[test]
fn two_processes_writing_500_overlapping_keys() {
    let root = tempfile::tempdir().unwrap();
    let spawn = |a: &str, b: &str| {
        Command::new(env!("CARGO_BIN_EXE_cache_helper"))
            .args(["fwrite", a, b])
            .env("TWAT_CACHE_DIR", root.path())
            .env_remove("TWAT_CACHE_DISABLE")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Both write keys 0..500 (one forward range each, overlapping entirely in 100..500).
    let first = spawn("0", "500");
    let second = spawn("100", "600");
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("wrong 0"));
    }
    let (runs, wrong) = run(root.path(), &["fwrite", "0", "600"]);
    assert_eq!((runs, wrong), (0, 0), "every key reads back, correct");
}

#[test]
fn sigkill_while_writing_leaves_only_correct_entries() {
    let root = tempfile::tempdir().unwrap();
    for round in 0..24u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cache_helper"))
            .arg("fwrite_forever")
            .env("TWAT_CACHE_DIR", root.path())
            .env_remove("TWAT_CACHE_DISABLE")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a varying number of writes: mid-way through later writes.
        let target = (round * 37) % 150;
        for line in lines {
            let n: u64 = line.unwrap().trim_start_matches("wrote ").parse().unwrap();
            if n >= target {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // A temporary file of a writer killed long ago (mtime an hour back) …
    let shard = entry_files(&root.path().join("files"))[0]
        .parent()
        .unwrap()
        .to_path_buf();
    let stale = shard.join(".deadbeef.1.0.tmp");
    std::fs::write(&stale, b"half an entry").unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let (_, wrong) = run(root.path(), &["fwrite", "0", "200"]);
    assert_eq!(wrong, 0, "a fresh process reads only correct values");
    // … is removed by the prune a fresh process runs when it opens the cache.
    assert!(!stale.exists(), "stale temporary files are cleaned up");
}

#[test]
fn garbage_and_truncated_files_are_misses() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(run(root.path(), &["fwrite", "0", "60"]), (60, 0));
    let files = entry_files(&root.path().join("files"));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (i, file) in files.iter().enumerate() {
        let bytes = std::fs::read(file).unwrap();
        let damaged = match i % 3 {
            0 => bytes[..(next() as usize % bytes.len())].to_vec(), // truncated
            1 => (0..bytes.len()).map(|_| next() as u8).collect(),  // garbage
            _ => {
                let mut b = bytes.clone();
                let at = next() as usize % b.len();
                b[at] ^= 1 << (next() % 8); // one flipped bit
                b
            }
        };
        std::fs::write(file, damaged).unwrap();
    }
    let (runs, wrong) = run(root.path(), &["fwrite", "0", "60"]);
    assert_eq!(wrong, 0, "no damaged entry is ever returned");
    assert_eq!(
        runs, 60,
        "every damaged entry was a miss (and was rewritten)"
    );
    assert_eq!(run(root.path(), &["fwrite", "0", "60"]), (0, 0));
}

#[test]
fn max_bytes_is_kept_within_one_entry_after_prunes() {
    let root = tempfile::tempdir().unwrap();
    for (a, b) in [("0", "100"), ("100", "250"), ("40", "90")] {
        let (_, wrong) = run(root.path(), &["fbounded", a, b]);
        assert_eq!(wrong, 0);
        let files = entry_files(&root.path().join("files-bounded"));
        let sizes: Vec<u64> = files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .collect();
        let total: u64 = sizes.iter().sum();
        let largest = sizes.iter().copied().max().unwrap_or(0);
        assert!(
            total <= 8000 + largest,
            "{total} bytes on disk for max_bytes = 8000"
        );
    }
}

/// Four processes missing one key at once compute it once: the others wait on the entry's
/// lock and then read what the first wrote.
#[test]
fn processes_missing_one_key_at_once_compute_it_once() {
    let root = tempfile::tempdir().unwrap();
    let runs = twat_cache_tests::concurrent_runs(
        env!("CARGO_BIN_EXE_cache_helper"),
        root.path(),
        &["fslow", "21"],
        4,
    );
    assert_eq!(runs, 1, "the body ran once across four processes");
}

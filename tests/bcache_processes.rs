//! `#[bcache]` across real processes: the helper binary (`bin/cache_helper.rs`) runs cached
//! functions against a temporary cache root and reports body executions and stats.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use twat_cache_tests::{Report, run_helper};

fn helper(root: &Path, args: &[&str]) -> Report {
    helper_with_env(root, args, &[])
}

fn helper_with_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Report {
    run_helper(env!("CARGO_BIN_EXE_cache_helper"), root, args, env)
}

#[test]
fn a_second_process_hits_what_the_first_wrote() {
    let root = tempfile::tempdir().unwrap();
    let first = helper(root.path(), &["square", "1", "2", "3", "2"]);
    assert_eq!((first.runs, first.wrong, first.hits), (3, 0, 1));
    let second = helper(root.path(), &["square", "1", "2", "3"]);
    assert_eq!(
        (second.runs, second.wrong, second.hits),
        (0, 0, 3),
        "all hits from disk"
    );
    assert_eq!(second.errors, 0);
    assert_eq!(second.len, 3);
}

#[test]
fn cache_lives_under_twat_cache_dir_and_is_private() {
    let root = tempfile::tempdir().unwrap();
    helper(root.path(), &["square", "4"]);
    let folder = root.path().join("math");
    assert!(
        folder.join("db").is_dir(),
        "database under <TWAT_CACHE_DIR>/<folder>"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join("db")), 0o700);
        for entry in std::fs::read_dir(folder.join("db")).unwrap().flatten() {
            let m = mode(&entry.path());
            assert_eq!(m & 0o077, 0, "{} is {m:o}", entry.path().display());
        }
    }
}

#[test]
fn folders_isolate_caches() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(helper(root.path(), &["folder_a", "1"]).runs, 1);
    assert_eq!(
        helper(root.path(), &["folder_b", "1"]).runs,
        1,
        "same name, other folder"
    );
    assert_eq!(helper(root.path(), &["folder_a", "1"]).runs, 0);
    assert!(root.path().join("a").is_dir() && root.path().join("b").is_dir());
}

#[test]
fn versions_isolate_entries() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(helper(root.path(), &["versioned_v1", "5"]).runs, 1);
    assert_eq!(
        helper(root.path(), &["versioned_v2", "5"]).runs,
        1,
        "another version misses"
    );
    assert_eq!(
        helper(root.path(), &["versioned_v1", "5"]).runs,
        0,
        "v1 entries are kept"
    );
    assert_eq!(helper(root.path(), &["versioned_v2", "5"]).runs, 0);
}

#[test]
fn changed_return_type_under_a_pinned_version_is_a_miss() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(helper(root.path(), &["typed_u32", "7"]).runs, 1);
    let changed = helper(root.path(), &["typed_string", "7"]);
    assert_eq!(
        (changed.runs, changed.wrong),
        (1, 0),
        "the old u32 entry is not decoded"
    );
    assert_eq!(
        helper(root.path(), &["typed_string", "7"]).runs,
        0,
        "and it was overwritten"
    );
}

#[test]
fn disable_env_var_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let report = helper_with_env(
        root.path(),
        &["square", "1", "1", "1"],
        &[("TWAT_CACHE_DISABLE", "1")],
    );
    assert_eq!((report.runs, report.wrong), (3, 0));
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing under the root"
    );
}

#[test]
fn ttl_holds_across_processes_with_a_moved_clock() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(helper(root.path(), &["ttl", "1"]).runs, 1);
    assert_eq!(
        helper(root.path(), &["advance", "3500", "ttl", "1"]).runs,
        0
    );
    let expired = helper(root.path(), &["advance", "3700", "ttl", "1"]);
    assert_eq!(
        (expired.runs, expired.wrong),
        (1, 0),
        "expired after an hour"
    );
}

#[test]
fn maxsize_holds_on_disk() {
    let root = tempfile::tempdir().unwrap();
    let args: Vec<String> = (0..30).map(|n| n.to_string()).collect();
    let mut all = vec!["bounded"];
    all.extend(args.iter().map(String::as_str));
    let report = helper(root.path(), &all);
    assert_eq!(report.wrong, 0);
    assert!(
        report.each("len").iter().all(|&l| l <= 5),
        "len after each call: {:?}",
        report.each("len")
    );
    let again = helper(root.path(), &all);
    assert_eq!(again.wrong, 0);
    assert!(again.len <= 5);
    assert!(again.each("len").iter().all(|&l| l <= 5));
}

#[test]
fn a_root_under_a_regular_file_falls_back_to_memory() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let report = helper(&file.join("sub"), &["square", "6", "6", "7"]);
    assert_eq!(report.wrong, 0, "correct values");
    assert_eq!(report.runs, 2, "a repeated key is still a hit, in memory");
    assert!(report.errors >= 1, "the fault is counted");
}

#[test]
fn a_database_locked_by_a_live_process_falls_back_to_memory() {
    let root = tempfile::tempdir().unwrap();
    let mut holder = Command::new(env!("CARGO_BIN_EXE_cache_helper"))
        .args(["hold", "30"])
        .env("TWAT_CACHE_DIR", root.path())
        .env_remove("TWAT_CACHE_DISABLE")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let report = helper(root.path(), &["square", "8", "8", "9"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(report.wrong, 0);
    assert_eq!(report.runs, 2, "memory fallback still caches");
    assert!(report.errors >= 1);
}

#[test]
fn flipped_bytes_in_the_database_never_give_a_wrong_value() {
    let keys: Vec<String> = (0..60).map(|n| n.to_string()).collect();
    let mut args = vec!["square"];
    args.extend(keys.iter().map(String::as_str));
    for seed in 1..=12u64 {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(helper(root.path(), &args).wrong, 0);
        damage(&root.path().join("math").join("db"), seed);
        let report = helper(root.path(), &args);
        assert_eq!(
            report.wrong, 0,
            "seed {seed}: a damaged database returned a wrong value"
        );
        // And the cache still works afterwards (recreated or intact).
        let after = helper(root.path(), &args);
        assert_eq!(after.wrong, 0, "seed {seed}");
    }
}

/// Flips bytes at pseudo-random offsets of every file under `dir`.
fn damage(dir: &Path, seed: u64) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
            continue;
        }
        let mut bytes = std::fs::read(&p).unwrap();
        if bytes.is_empty() {
            continue;
        }
        for _ in 0..(1 + next() % 8) {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] ^= 1 << (next() % 8);
        }
        std::fs::write(&p, bytes).unwrap();
    }
}

#[test]
fn kill_9_while_writing_never_leaves_a_wrong_value() {
    let root = tempfile::tempdir().unwrap();
    let mut survived = Vec::new();
    for round in 0..6u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cache_helper"))
            .arg("write_forever")
            .env("TWAT_CACHE_DIR", root.path())
            .env_remove("TWAT_CACHE_DISABLE")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it write a varying number of entries, then SIGKILL it mid-stream.
        let target = 50 + round * 97;
        let mut last = 0;
        for line in lines.by_ref() {
            last = line
                .unwrap()
                .trim_start_matches("wrote ")
                .parse::<u64>()
                .unwrap();
            if last >= target {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let keys: Vec<String> = (0..=last + 20).map(|n| n.to_string()).collect();
        let mut args = vec!["square"];
        args.extend(keys.iter().map(String::as_str));
        let report = helper(root.path(), &args);
        assert_eq!(
            report.wrong, 0,
            "round {round}: a killed writer left a wrong value"
        );
        survived.push(last + 21 - report.runs);
    }
    // Entries written before the kill may be lost (sled flushes every 500 ms), never corrupted.
    eprintln!("entries that survived each kill: {survived:?}");
}

/// A process whose cache directory is deleted while it runs (and which writes to it after) still
/// exits promptly: sled's flush at exit waits forever once it cannot write its files, so the
/// flush is bounded (`EXIT_FLUSH_LIMIT`). Before the bound this child never exited.
#[test]
fn a_deleted_cache_directory_never_blocks_exit() {
    let root = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cache_helper"))
        .args(["vanish", "1", "2", "3"])
        .env("TWAT_CACHE_DIR", root.path().join("root"))
        .env_remove("TWAT_CACHE_DISABLE")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("the process did not exit within 20 s of finishing");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

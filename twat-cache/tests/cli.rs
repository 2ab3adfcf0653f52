//! The `twat-cache` command, run as a real binary against cache roots that the `cli_fixture`
//! example fills with every disk attribute (see `examples/cli_fixture.rs` for what it writes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const CLI: &str = env!("CARGO_BIN_EXE_twat-cache");

/// The fixture example, built by `cargo test` next to this package's binaries.
fn fixture() -> PathBuf {
    let bin = Path::new(CLI).parent().expect("target dir");
    let path = bin.join("examples").join("cli_fixture");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds examples; run `cargo build -p twat-cache --example cli_fixture`",
        path.display()
    );
    path
}

/// A fresh root filled by the fixture.
fn populated() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let status = Command::new(fixture())
        .arg("populate")
        .env("TWAT_CACHE_DIR", root.path())
        .status()
        .unwrap();
    assert!(status.success());
    root
}

fn cli(root: &Path, args: &[&str]) -> Output {
    Command::new(CLI)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs a command that must succeed and print JSON.
fn json(root: &Path, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = cli(root, &args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn cache<'a>(list: &'a Value, folder: &str, name: &str) -> &'a Value {
    list["caches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["folder"] == folder && c["name"] == name)
        .unwrap_or_else(|| panic!("{folder}/{name} not listed: {list:#}"))
}

fn entries_of(list: &Value, folder: &str, name: &str) -> u64 {
    cache(list, folder, name)["entries"].as_u64().unwrap()
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else {
            found.push(p);
        }
    }
    found
}

/// Every entry file below `dir`.
fn entry_files(dir: &Path) -> usize {
    walk(dir)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "twc"))
        .count()
}

#[test]
fn list_and_stats_report_what_was_written() {
    let root = populated();
    let list = json(root.path(), &["list"]);
    assert_eq!(list["caches"].as_array().unwrap().len(), 6, "{list:#}");
    let square = cache(&list, "sled", "app::square");
    assert_eq!(square["store"], "sled");
    assert_eq!(square["entries"], 8);
    assert_eq!(square["stale_namespaces"], 1);
    let namespaces = square["namespaces"].as_array().unwrap();
    assert_eq!(namespaces[0]["current"], true);
    assert_eq!(namespaces[0]["entries"], 5, "version 2 is current");
    assert_eq!(namespaces[1]["current"], false);
    assert_eq!(namespaces[1]["entries"], 3);
    let report = cache(&list, "files", "app::report");
    assert_eq!(report["store"], "files");
    assert_eq!(report["entries"], 5);
    assert_eq!(
        report["namespaces"][0]["entries"], 3,
        "version 2 is current"
    );
    assert_eq!(entries_of(&list, "sled", "cli_fixture::fleeting"), 4);
    assert_eq!(entries_of(&list, "files", "cli_fixture::fleeting_file"), 2);
    assert_eq!(entries_of(&list, "tiered", "cli_fixture::label"), 2);
    let blob = cache(&list, "big", "cli_fixture::blob");
    assert_eq!(blob["entries"], 10);
    let bytes = blob["bytes"].as_u64().unwrap();
    assert!((100_000..110_000).contains(&bytes), "{bytes}");

    let stats = json(root.path(), &["stats"]);
    assert_eq!(stats["caches"], 6);
    assert_eq!(stats["entries"], 8 + 4 + 5 + 2 + 2 + 10);
    assert_eq!(stats["stale_namespaces"], 2);
    let files = json(root.path(), &["stats", "files"]);
    assert_eq!(files["caches"], 2);
    assert_eq!(files["entries"], 7);
    let one = json(root.path(), &["stats", "sled/app::square"]);
    assert_eq!(one["caches"], 1);
    assert_eq!(one["entries"], 8);

    // The human forms show the same caches.
    let table = String::from_utf8(cli(root.path(), &["list"]).stdout).unwrap();
    assert!(
        table.contains("sled/app::square") && table.contains("big/cli_fixture::blob"),
        "{table}"
    );
    let dir = cli(root.path(), &["dir"]);
    assert_eq!(
        String::from_utf8(dir.stdout).unwrap().trim(),
        root.path().to_str().unwrap()
    );
}

#[test]
fn inspect_shows_the_stored_keys() {
    let root = populated();
    let shown = json(root.path(), &["inspect", "tiered/cli_fixture::label"]);
    let mut keys: Vec<String> = shown["caches"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    assert_eq!(keys, [r#"("Oslo",)"#, r#"("Paris",)"#]);
    let square = json(
        root.path(),
        &["inspect", "sled/app::square", "--limit", "3"],
    );
    let entries = square["caches"][0]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .all(|e| e["key"].as_str().unwrap().ends_with("u64,)"))
    );
    let fleeting = json(
        root.path(),
        &["inspect", "files/cli_fixture::fleeting_file"],
    );
    assert!(
        fleeting["caches"][0]["entries"][0]["expires"]
            .as_u64()
            .is_some()
    );
    let text =
        String::from_utf8(cli(root.path(), &["inspect", "files/app::report"]).stdout).unwrap();
    assert!(
        text.contains("(1u32,)") && text.contains("(stale)"),
        "{text}"
    );
}

#[test]
fn clear_removes_only_what_it_names() {
    let root = populated();
    json(root.path(), &["clear", "files/app::report", "--yes"]);
    let list = json(root.path(), &["list"]);
    assert!(
        list["caches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "app::report")
    );
    assert_eq!(
        entries_of(&list, "files", "cli_fixture::fleeting_file"),
        2,
        "its neighbour stays"
    );
    assert_eq!(entries_of(&list, "big", "cli_fixture::blob"), 10);

    let cleared = json(root.path(), &["clear", "sled/app::square"]);
    assert_eq!(cleared["cleared"][0]["freed"]["entries"], 8);
    let list = json(root.path(), &["list"]);
    assert_eq!(
        entries_of(&list, "sled", "app::square"),
        0,
        "a cleared sled cache is still listed, empty"
    );
    assert_eq!(
        entries_of(&list, "sled", "cli_fixture::fleeting"),
        4,
        "the other tree stays"
    );

    json(root.path(), &["clear", "--all"]);
    let list = json(root.path(), &["list"]);
    assert!(
        list["caches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["entries"] == 0),
        "{list:#}"
    );
    assert_eq!(entry_files(root.path()), 0);
    assert!(root.path().exists(), "the root itself stays");
}

#[test]
fn prune_removes_expired_stale_and_dead_temporaries_then_fits_the_size() {
    let root = populated();
    // A temporary file of a writer that died: its process id is one that has exited.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let entry = walk(&root.path().join("files/app.report"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "twc"))
        .unwrap();
    let temp = entry
        .parent()
        .unwrap()
        .join(format!(".0011223344556677.{dead}.0.tmp"));
    std::fs::write(&temp, b"half a write").unwrap();
    std::thread::sleep(Duration::from_millis(1_200)); // the 1 s entries expire

    let dry = json(root.path(), &["prune", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["freed"]["expired"], 4 + 2);
    assert_eq!(dry["freed"]["stale"], 3 + 2);
    assert_eq!(dry["freed"]["temp_files"], 1);
    assert_eq!(
        json(root.path(), &["stats"])["entries"],
        31,
        "a dry run removes nothing"
    );
    assert!(temp.exists());

    let pruned = json(root.path(), &["prune"]);
    assert_eq!(pruned["freed"], dry["freed"]);
    assert!(!temp.exists());
    let list = json(root.path(), &["list"]);
    assert_eq!(entries_of(&list, "sled", "app::square"), 5);
    assert_eq!(cache(&list, "sled", "app::square")["stale_namespaces"], 0);
    assert_eq!(entries_of(&list, "files", "app::report"), 3);
    assert_eq!(
        cache(&list, "files", "app::report")["namespaces"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(entries_of(&list, "sled", "cli_fixture::fleeting"), 0);
    assert_eq!(entries_of(&list, "files", "cli_fixture::fleeting_file"), 0);

    // Down to 50 kB of the blobs: the least recently used go first, the rest stay whole.
    let dry = json(
        root.path(),
        &["prune", "big", "--max-bytes", "50kB", "--dry-run"],
    );
    assert_eq!(dry["freed"]["evicted"], 6);
    assert_eq!(
        entries_of(&json(root.path(), &["list"]), "big", "cli_fixture::blob"),
        10
    );
    let fitted = json(root.path(), &["prune", "big", "--max-bytes", "50kB"]);
    assert_eq!(fitted["freed"]["evicted"], 6);
    let list = json(root.path(), &["list"]);
    let blob = cache(&list, "big", "cli_fixture::blob");
    assert_eq!(blob["entries"], 4);
    assert!(blob["bytes"].as_u64().unwrap() <= 50_000);
    assert_eq!(
        entries_of(&list, "tiered", "cli_fixture::label"),
        2,
        "other caches untouched"
    );
}

#[test]
fn a_database_held_by_a_running_process_is_reported_and_left_intact() {
    let root = populated();
    let mut holder = Command::new(fixture())
        .arg("hold")
        .env("TWAT_CACHE_DIR", root.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready");

    let list = json(root.path(), &["list"]);
    let held = list["caches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["folder"] == "sled")
        .unwrap();
    assert_eq!(held["state"], "in_use", "{list:#}");
    for unknown in ["entries", "bytes", "expired", "stale_namespaces"] {
        assert!(
            held[unknown].is_null(),
            "an in-use database's {unknown} are unknown, not 0: {held:#}"
        );
    }
    let table = cli(root.path(), &["list"]);
    let table = String::from_utf8_lossy(&table.stdout);
    let row = table
        .lines()
        .find(|l| l.contains("in use"))
        .unwrap_or_else(|| panic!("no in-use row: {table}"));
    assert!(
        !row.contains(" 0 B") && row.contains('?'),
        "an in-use database reads as unknown, not empty: {row}"
    );
    let out = cli(root.path(), &["clear", "sled", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("in use by another process"), "{message}");
    let pruned = cli(root.path(), &["prune", "--json"]);
    assert_eq!(
        pruned.status.code(),
        Some(1),
        "the held database is skipped, and said so"
    );
    let pruned: Value = serde_json::from_slice(&pruned.stdout).unwrap();
    assert_eq!(pruned["skipped"][0], "sled");

    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    let list = json(root.path(), &["list"]);
    assert_eq!(entries_of(&list, "sled", "app::square"), 8, "left intact");
}

#[test]
fn bad_input_is_one_line_and_exit_code_2_with_nothing_deleted() {
    let root = populated();
    let before = entry_files(root.path());
    let expect_2 = |root: &Path, args: &[&str], says: &str| {
        let out = cli(root, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    expect_2(&root.path().join("missing"), &["list"], "does not exist");
    let file = root.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    expect_2(&file, &["stats"], "is not a directory");
    expect_2(
        root.path(),
        &["clear", "nope", "--yes"],
        "no cache named `nope`",
    );
    expect_2(
        root.path(),
        &["inspect", "sled/app::missing"],
        "no cache named",
    );
    expect_2(
        root.path(),
        &["prune", "--max-bytes", "lots"],
        "is not a size",
    );
    expect_2(root.path(), &["clear", "--yes"], "say what to clear");
    std::fs::remove_file(&file).unwrap();
    assert_eq!(entry_files(root.path()), before);

    // A root others may write to is refused (the directory rule), not read.
    let shared = tempfile::tempdir().unwrap();
    let open = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o777);
    std::fs::set_permissions(shared.path(), open).unwrap();
    expect_2(shared.path(), &["list"], "refusing cache root");
}

/// `--redis URL` adds the caches on a Redis server to list, stats, inspect and clear.
#[cfg(feature = "redis")]
#[test]
fn redis_caches_are_listed_inspected_and_cleared() {
    let Some(server) = twat_cache_tests::RedisServer::start("cli --redis") else {
        return;
    };
    let fixture = fixture().with_file_name("cli_redis_fixture");
    let root = tempfile::tempdir().unwrap();
    let status = Command::new(&fixture)
        .env("TWAT_CACHE_DIR", root.path())
        .env("TWAT_CACHE_REDIS_URL", server.url())
        .status()
        .unwrap();
    assert!(status.success());
    let url = server.url();
    let list = json(root.path(), &["list", "--redis", &url]);
    let label = cache(&list, "shared", "cli_redis_fixture::label");
    assert_eq!(label["store"], "redis");
    assert_eq!(label["entries"], 3);
    assert!(label["bytes"].as_u64().unwrap() > 0);
    let stats = json(root.path(), &["stats", "shared", "--redis", &url]);
    assert_eq!(stats["entries"], 3);
    let shown = json(root.path(), &["inspect", "shared", "--redis", &url]);
    let mut keys: Vec<&str> = shown["caches"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, [r#"("Lima",)"#, r#"("Oslo",)"#, r#"("Paris",)"#]);

    json(
        root.path(),
        &["clear", "shared/cli_redis_fixture::label", "--redis", &url],
    );
    assert!(server.keys("twat-cache:shared:*").is_empty());

    let out = cli(root.path(), &["list", "--redis", "redis://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not answer"));
}

/// Runs the command with its address space limited to `limit_mib` (`ulimit -v`): a command that
/// tried to hold more (a whole 1 GiB entry) fails to allocate and aborts. (Its peak resident set
/// cannot be measured from here: a child started by `vfork` inherits its parent's high-water
/// mark through `exec`, so `wait4`'s `ru_maxrss` reported the test process's peak.)
#[cfg(target_os = "linux")]
fn cli_within(limit_mib: u64, root: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {} && exec \"$0\" \"$@\"",
            limit_mib * 1024
        ))
        .arg(CLI)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Issue 23, item 11: `inspect` reads entries through the bounded reader: a sparse 1 GiB entry
/// file whose header declares its size is reported as oversized, never read.
#[cfg(target_os = "linux")]
#[test]
fn inspect_reports_an_oversized_entry_without_reading_it() {
    use std::io::Write;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("files/app.big/0123456789abcdef");
    let cache: twat_cache::FileCache<Vec<u8>> = twat_cache::FileCache::builder(&dir).build();
    cache.insert(&("big",), &vec![1u8; 100]);
    drop(cache);
    let path = walk(&dir)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "twc"))
        .unwrap();
    // Keep a real header (key and all), declare a payload that fills 1 GiB, and make the
    // file that long (sparse): valid up to its size, so only a size bound stops the read.
    let entry = std::fs::read(&path).unwrap();
    let key_len = u32::from_le_bytes(entry[54..58].try_into().unwrap()) as usize;
    let head_len = 74 + key_len;
    let len: u64 = 1 << 30;
    let mut head = entry[..head_len].to_vec();
    let payload = len - head_len as u64 - 4;
    head[58..66].copy_from_slice(&payload.to_le_bytes());
    head[66..74].copy_from_slice(&payload.to_le_bytes());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(&head).unwrap();
    file.set_len(len).unwrap();
    drop(file);

    // 768 MiB of address space: plenty for the command, too little to hold the 1 GiB entry.
    let out = cli_within(768, root.path(), &["inspect", "files/app::big", "--json"]);
    assert!(
        out.status.success(),
        "inspect of a 1 GiB entry file under a 768 MiB address-space limit failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = shown["caches"][0]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{shown:#}");
    assert_eq!(entries[0]["oversized"], true, "{shown:#}");
    assert_eq!(entries[0]["bytes"], len);
    assert!(path.exists(), "inspect changes nothing");
}

#[test]
fn help_starts_with_what_the_command_does() {
    for flag in ["-h", "--help"] {
        let out = Command::new(CLI).arg(flag).output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        let first = help.lines().next().unwrap_or_default();
        assert!(
            first.contains("inspect") && first.contains("clean") && first.contains("cache root"),
            "{flag}: the first line says what the command does: {first:?}"
        );
    }
}

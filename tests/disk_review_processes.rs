//! Regression tests, in real processes, for the disk-cache review (issue "never a wrong value,
//! never another user's file"): changed layouts, changed TTLs, a stepped-back clock,
//! zero-argument functions, handles before the first call, open failures that are not
//! corruption, stale namespaces, and directories owned by someone else.

use std::path::Path;

use twat_cache_tests::{Report, run_helper};

fn helper(root: &Path, args: &[&str]) -> Report {
    run_helper(env!("CARGO_BIN_EXE_cache_helper"), root, args, &[])
}

fn helper_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Report {
    run_helper(env!("CARGO_BIN_EXE_cache_helper"), root, args, env)
}

/// Item 1: the returned struct's fields were reordered (same name, `version` pinned): the old
/// entries read as misses, never as values with `a` and `b` swapped.
#[test]
fn a_value_type_whose_layout_changed_is_a_miss() {
    for command in ["pair", "bpair"] {
        let root = tempfile::tempdir().unwrap();
        let first = helper(root.path(), &[command, "7"]);
        assert_eq!((first.runs, first.wrong), (1, 0));
        assert_eq!(
            helper(root.path(), &[command, "7"]).runs,
            0,
            "{command}: same layout hits"
        );
        let swapped = helper_env(root.path(), &[command, "7"], &[("PAIR_ORDER", "ba")]);
        assert_eq!(
            swapped.wrong, 0,
            "{command}: a swapped layout decoded into a wrong value"
        );
        assert_eq!(swapped.runs, 1, "{command}: the old entry is a miss");
    }
}

/// Item 2: an entry written without a TTL is bounded by the TTL added since.
#[test]
fn a_ttl_added_later_bounds_old_entries() {
    for (none, short) in [("ttl_none", "ttl_short"), ("fttl_none", "fttl_short")] {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(helper(root.path(), &[none, "5"]).runs, 1);
        assert_eq!(helper(root.path(), &[none, "5"]).runs, 0);
        assert_eq!(
            helper(root.path(), &["advance", "2", short, "5"]).runs,
            1,
            "{short}: written 2 s ago without a TTL, read with ttl = 1 s"
        );
        assert_eq!(
            helper(root.path(), &["advance", "2", short, "5"]).runs,
            0,
            "{short}: the recomputed entry is fresh"
        );
    }
}

/// Item 6: an entry written while the wall clock was two hours ahead (then stepped back) does
/// not live for its TTL plus two hours.
#[test]
fn an_entry_from_the_future_is_not_trusted() {
    for command in ["ttl", "fttl"] {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            helper(root.path(), &["advance", "7200", command, "3"]).runs,
            1
        );
        assert_eq!(
            helper(root.path(), &[command, "3"]).runs,
            1,
            "{command}: created 2 h from now with a 1 h TTL: recomputed, not kept for 3 h"
        );
        assert_eq!(helper(root.path(), &[command, "3"]).runs, 0);
    }
}

/// Item 7: a function without arguments stores its one entry.
#[test]
fn zero_argument_functions_are_stored() {
    for command in ["config", "fconfig"] {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(helper(root.path(), &[command]).runs, 1);
        let again = helper(root.path(), &[command]);
        assert_eq!((again.runs, again.hits, again.len), (0, 1, 1), "{command}");
    }
}

/// Item 8: the handle sees (and clears) the disk entries before the first call.
#[test]
fn the_handle_works_before_the_first_call() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(helper(root.path(), &["square", "1", "2", "3"]).runs, 3);
    assert_eq!(helper(root.path(), &["peek"]).field("len"), Some(vec![3]));
    assert_eq!(
        helper(root.path(), &["clear_first", "1", "2"]).runs,
        2,
        "clear() before any call emptied the disk"
    );
}

/// Item 9: a database that cannot be opened for lack of file descriptors is a fallback, not
/// corruption: it is not moved aside, and still serves the next process.
#[test]
fn too_many_open_files_leaves_the_database_alone() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(helper(root.path(), &["square", "4"]).runs, 1);
    let starved = helper(root.path(), &["emfile", "4", "4"]);
    let moved: Vec<_> = std::fs::read_dir(root.path().join("math"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("db.corrupt"))
        .collect();
    assert!(moved.is_empty(), "EMFILE moved the database aside");
    assert_eq!(starved.wrong, 0);
    assert!(starved.errors >= 1, "the failure is counted");
    assert_eq!(
        starved.runs, 1,
        "memory fallback: the repeated key is a hit"
    );
    assert_eq!(
        helper(root.path(), &["square", "4"]).runs,
        0,
        "the entry survived"
    );
}

/// Item 10 (sled): entries of a namespace nobody has opened for longer than the grace period
/// (an edited function's) are deleted when the tree is opened.
#[test]
fn stale_sled_namespaces_are_collected() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(helper(root.path(), &["versioned_v1", "5"]).runs, 1);
    assert_eq!(
        helper(root.path(), &["versioned_v2", "5"]).runs,
        1,
        "v2 opens within the grace period: v1 is kept"
    );
    assert_eq!(helper(root.path(), &["versioned_v1", "5"]).runs, 0);
    let day_and_more = (twat_cache::disk::STALE_NAMESPACE.as_secs() + 3600).to_string();
    assert_eq!(
        helper(
            root.path(),
            &["advance", &day_and_more, "versioned_v2", "5"]
        )
        .runs,
        0,
        "a day later v2 is opened again: its own entries stay"
    );
    assert_eq!(
        helper(root.path(), &["versioned_v1", "5"]).runs,
        1,
        "v1, unused for more than the grace period, was collected"
    );
}

/// Item 12: a cache root owned by another user, or writable by others, is refused: the
/// function works from memory, counts an error, and writes nothing there.
#[cfg(unix)]
#[test]
fn a_root_someone_else_controls_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let world_writable = parent.path().join("shared");
    std::fs::create_dir(&world_writable).unwrap();
    std::fs::set_permissions(&world_writable, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut roots = vec![world_writable];
    if twat_cache_tests::can_chown("the foreign-owner root case") {
        let foreign = parent.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        twat_cache_tests::chown_to_nobody(&foreign);
        roots.push(foreign);
    }
    for root in roots {
        for command in ["square", "fwrite"] {
            let args: &[&str] = if command == "square" {
                &["square", "2", "2"]
            } else {
                &["fwrite", "0", "2"]
            };
            let report = helper(&root, args);
            assert_eq!(report.wrong, 0);
            assert!(
                report.errors >= 1,
                "{command} under {}: refusal counted",
                root.display()
            );
            assert_eq!(
                std::fs::read_dir(&root).unwrap().count(),
                0,
                "{command} wrote under {}",
                root.display()
            );
        }
    }
}

/// Item 12: a folder that is a symlink to a directory passing the rule is fine (moving a cache
/// to another disk); one to a directory owned by someone else is refused.
#[cfg(unix)]
#[test]
fn symlinked_folders_are_followed_only_to_safe_targets() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.path().join("files")).unwrap();
    assert_eq!(helper(root.path(), &["fwrite", "0", "3"]).runs, 3);
    let again = helper(root.path(), &["fwrite", "0", "3"]);
    assert_eq!(
        (again.runs, again.errors),
        (0, 0),
        "a safe symlink target is used"
    );
    if !twat_cache_tests::can_chown("the foreign symlink target case") {
        return;
    }
    let foreign = tempfile::tempdir().unwrap();
    twat_cache_tests::chown_to_nobody(foreign.path());
    std::os::unix::fs::symlink(foreign.path(), root.path().join("math")).unwrap();
    let refused = helper(root.path(), &["square", "5", "5"]);
    assert_eq!((refused.runs, refused.wrong), (1, 0));
    assert!(refused.errors >= 1);
    assert_eq!(std::fs::read_dir(foreign.path()).unwrap().count(), 0);
}

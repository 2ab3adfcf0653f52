//! Arbitrary bytes in an entry file: never a panic, never a value for another key. 100k cases.

use proptest::prelude::*;
use twat_cache::FileCache;

fn entry_path(dir: &std::path::Path) -> std::path::PathBuf {
    twat_cache_tests::entry_files(dir)
        .pop()
        .expect("an entry file")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100_000))]

    #[test]
    fn arbitrary_entry_bytes_never_decode_to_a_value(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        thread_local! {
            static FIXTURE: (tempfile::TempDir, FileCache<String>, std::path::PathBuf) = {
                let dir = tempfile::tempdir().unwrap();
                let cache = FileCache::builder(dir.path().join("entries")).build();
                cache.insert("key", &"value".to_string());
                let path = entry_path(dir.path());
                (dir, cache, path)
            };
        }
        FIXTURE.with(|(_, cache, path)| {
            std::fs::write(path, &bytes).unwrap();
            // Random bytes are never a valid entry for this key: a miss, never a panic.
            prop_assert_eq!(cache.get("key"), None);
            Ok(())
        })?;
    }
}

#[test]
fn an_entry_for_another_key_is_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<String> = FileCache::builder(dir.path().join("entries")).build();
    cache.insert("a", &"for a".to_string());
    cache.insert("b", &"for b".to_string());
    let a = dir.path().join("entries");
    let files: Vec<_> = {
        let mut v = Vec::new();
        let mut stack = vec![a];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
            } else if p.extension().is_some_and(|e| e == "twc") {
                v.push(p);
            }
        }
        v
    };
    assert_eq!(files.len(), 2);
    // Swap the two files: each now holds a valid entry for the other key.
    let (x, y) = (
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&files[1]).unwrap(),
    );
    std::fs::write(&files[0], y).unwrap();
    std::fs::write(&files[1], x).unwrap();
    assert_eq!(
        cache.get("a"),
        None,
        "the stored key is compared on every read"
    );
    assert_eq!(cache.get("b"), None);
}

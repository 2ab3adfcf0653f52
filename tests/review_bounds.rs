//! Issue 23, item 9: without `max_bytes` a disk cache still bounds what it reads for one entry
//! (`DEFAULT_MAX_ENTRY_BYTES`, 256 MiB): a huge entry file, or a small zstd frame declaring a
//! huge value, is a miss that costs no more memory than the bound, however large it claims to
//! be. Each entry is planted so that it is valid up to its size (magic, format, key, namespace
//! and layout of a real entry, lengths that add up to the file): only the bound stops it.
//!
//! The reads run in a child (`bounds_helper`), so the peak memory measured is the read's own.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use twat_cache::FileCache;
use twat_cache_tests::entry_files;

const HELPER: &str = env!("CARGO_BIN_EXE_bounds_helper");
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

// The record format (`twat-cache-engines/src/disk/record.rs`).
const FLAGS_AT: usize = 5;
const KEY_LEN_AT: usize = 54;
const PAYLOAD_LEN_AT: usize = 58;
const RAW_LEN_AT: usize = 66;
const FIXED: usize = 74;
const CHECKSUM: usize = 4;
const COMPRESSED: u8 = 1;

/// Writes a real entry for `key` in a file cache at `dir` and returns its path and bytes.
fn real_entry(dir: &Path, key: &str, compress: bool) -> (PathBuf, Vec<u8>) {
    let cache: FileCache<Vec<u8>> = FileCache::builder(dir).compress(compress).build();
    cache.insert(key, &vec![0u8; 64 << 10]);
    drop(cache);
    let files = entry_files(dir);
    assert_eq!(files.len(), 1, "one entry: {files:?}");
    let bytes = fs::read(&files[0]).unwrap();
    assert_eq!(
        bytes[FLAGS_AT] & COMPRESSED != 0,
        compress,
        "the entry is stored as planned"
    );
    (files[0].clone(), bytes)
}

fn key_len(entry: &[u8]) -> usize {
    u32::from_le_bytes(entry[KEY_LEN_AT..KEY_LEN_AT + 4].try_into().unwrap()) as usize
}

fn set_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Turns the entry for `key` under `dir` into a sparse file of `len` bytes whose header
/// declares exactly that length (an uncompressed payload of zeros; the checksum, at the end,
/// can only be checked after reading everything).
fn plant_sparse_entry(dir: &Path, key: &str, len: u64) -> PathBuf {
    let (path, entry) = real_entry(dir, key, false);
    let head_len = FIXED + key_len(&entry);
    let mut head = entry[..head_len].to_vec();
    let payload = len - head_len as u64 - CHECKSUM as u64;
    set_u64(&mut head, PAYLOAD_LEN_AT, payload);
    set_u64(&mut head, RAW_LEN_AT, payload);
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(&head).unwrap();
    file.set_len(len).unwrap();
    drop(file);
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
    path
}

/// Replaces the entry for `key` under `dir` by an intact, checksummed entry whose compressed
/// payload is a small zstd frame of `raw` bytes: a `Vec<u8>` of `raw - 5` zeros as postcard
/// writes it (a 5-byte length, then the bytes), declared as such.
fn plant_zstd_bomb(dir: &Path, key: &str, raw: u64) -> (PathBuf, usize) {
    let (path, entry) = real_entry(dir, key, true);
    let head_len = FIXED + key_len(&entry);
    let mut length = Vec::new();
    let mut n = raw - 5;
    while n >= 0x80 {
        length.push((n as u8) | 0x80);
        n >>= 7;
    }
    length.push(n as u8);
    assert_eq!(length.len(), 5, "the postcard length of the value");
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    encoder.write_all(&length).unwrap();
    let zeros = vec![0u8; MIB as usize];
    let mut left = raw - 5;
    while left > 0 {
        let n = left.min(MIB);
        encoder.write_all(&zeros[..n as usize]).unwrap();
        left -= n;
    }
    let frame = encoder.finish().unwrap();
    let mut bomb = entry[..head_len].to_vec();
    set_u64(&mut bomb, PAYLOAD_LEN_AT, frame.len() as u64);
    set_u64(&mut bomb, RAW_LEN_AT, raw);
    bomb.extend_from_slice(&frame);
    let sum = crc32fast::hash(&bomb);
    bomb.extend_from_slice(&sum.to_le_bytes());
    fs::write(&path, &bomb).unwrap();
    (path, bomb.len())
}

/// What `bounds_helper` reported for `get(key)` at `dir`: (its first line, peak growth in
/// bytes).
fn read_in_child(dir: &Path, key: &str) -> (String, u64) {
    let out = Command::new(HELPER).arg(dir).arg(key).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the reader failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let outcome = lines.next().unwrap_or_default().to_string();
    let growth = lines
        .find_map(|l| l.strip_prefix("hwm_growth_kib "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the helper reports its peak");
    (outcome, growth << 10)
}

#[test]
fn a_sparse_gibibyte_entry_file_is_a_miss_read_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = plant_sparse_entry(dir.path(), "big", GIB);
    let (outcome, growth) = read_in_child(dir.path(), "big");
    assert_eq!(outcome, "miss");
    assert!(
        growth < 64 * MIB,
        "reading a 1 GiB entry file raised the peak RSS by {} MiB",
        growth / MIB
    );
    assert!(!path.exists(), "the oversized entry is removed");
}

#[test]
fn a_zstd_bomb_declaring_a_gibibyte_is_not_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let (path, stored) = plant_zstd_bomb(dir.path(), "bomb", GIB + 5);
    assert!(stored < 64 << 10, "a small file: {stored} bytes");
    let (outcome, growth) = read_in_child(dir.path(), "bomb");
    assert_eq!(outcome, "miss");
    assert!(
        growth < 64 * MIB,
        "a {stored}-byte entry declaring 1 GiB raised the peak RSS by {} MiB",
        growth / MIB
    );
    assert!(!path.exists(), "the bomb is removed");
}

#[test]
fn a_sparse_16_gib_entry_file_is_a_miss_under_a_3_gib_address_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = plant_sparse_entry(dir.path(), "huge", 16 * GIB);
    // `ulimit -v` is in KiB; the helper runs with that limit on its address space.
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 3145728 && exec \"$0\" \"$@\"")
        .arg(HELPER)
        .arg(dir.path())
        .arg("huge")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the reader under `ulimit -v 3 GiB` failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().next(), Some("miss"));
    assert!(!path.exists(), "the oversized entry is removed");
}

#[test]
fn the_default_per_entry_bound_is_256_mib_and_max_entry_bytes_sets_it() {
    assert_eq!(twat_cache::DEFAULT_MAX_ENTRY_BYTES, 256 * MIB);
    let dir = tempfile::tempdir().unwrap();
    let default: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("default")).build();
    default.insert("a", &vec![1u8; MIB as usize]);
    assert_eq!(default.get("a").map(|v| v.len()), Some(MIB as usize));

    let small: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("small"))
        .max_entry_bytes(64 << 10)
        .build();
    small.insert("a", &vec![1u8; 1000]);
    assert!(small.get("a").is_some(), "within the bound");
    small.insert("a", &vec![1u8; 100 << 10]);
    assert_eq!(
        small.get("a"),
        None,
        "over the bound: not stored, the older value gone"
    );
    assert!(entry_files(&dir.path().join("small")).is_empty());

    // An entry another process wrote under a larger bound is a miss here, and removed.
    let large: FileCache<Vec<u8>> = FileCache::builder(dir.path().join("small"))
        .max_entry_bytes(MIB)
        .build();
    large.insert("b", &vec![2u8; 100 << 10]);
    assert_eq!(small.get("b"), None);
    assert!(entry_files(&dir.path().join("small")).is_empty());
}

mod attribute {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[twat_cache::fcache(folder = "review-bounds", max_entry_bytes = "64KiB")]
    fn blob(len: usize) -> Vec<u8> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        vec![3u8; len]
    }

    #[test]
    fn max_entry_bytes_bounds_what_an_fcache_stores() {
        twat_cache_tests::isolated_cache_root();
        blob(1000);
        blob(1000);
        assert_eq!(RUNS.load(Ordering::SeqCst), 1, "a small value is cached");
        blob(100 << 10);
        blob(100 << 10);
        assert_eq!(RUNS.load(Ordering::SeqCst), 3, "one over the bound is not");
    }
}

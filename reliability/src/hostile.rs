//! Hostile input: random and mutated stored entries read through the disk cache, which must
//! return the true value or nothing — never another value, never panic — in bounded memory.
//!
//! Most decodes go through a store held in memory (`Planted`), so a million of them take
//! seconds; the same mutations are then planted in real entry files and under real Redis keys.
//! Mutations follow the record layout of `twat-cache-engines/src/disk/record.rs` (format 4):
//! damage (bit flips, cuts, splices — the checksum is left as it was), and structural lies
//! with a valid checksum (huge lengths, other namespaces and layouts, another key, decompression
//! bombs). A record whose *payload* is replaced by another value's, with the checksum fixed up,
//! is a forgery the checksum is not meant to stop (it guards against damage; the cache folder is
//! private to its user): such reads are counted apart and only checked for panics and memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use twat_cache::DiskCache;
use twat_cache::disk::{Backend, EntryId, SledStore, StoreError, Stored};

use crate::figures::{Figures, Tally};
use crate::rng::Rng;

/// The cached value: a struct with a string and a vector, so payloads have structure to break.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    id: u64,
    title: String,
    tags: Vec<u32>,
}

/// The true function.
pub fn doc(k: u64) -> Doc {
    Doc {
        id: k,
        title: format!("document {k} ").repeat((k % 7) as usize + 1),
        tags: (0..(k % 13) as u32).map(|t| t * 31 + k as u32).collect(),
    }
}

type Map = Arc<Mutex<HashMap<EntryId, Vec<u8>>>>;

/// Where a [`Planted`] store keeps its entries: a map the suite writes into directly.
pub struct PlantedAt {
    map: Map,
    folder: PathBuf,
}

/// A store in memory whose entries the suite replaces at will.
pub struct Planted(Map);

impl Backend for Planted {
    type Location = PlantedAt;
    const PRUNES: bool = false;

    fn open(location: &PlantedAt) -> Result<Self, StoreError> {
        Ok(Self(location.map.clone()))
    }
    fn folder(location: &PlantedAt) -> &Path {
        &location.folder
    }
    fn get(&self, id: &EntryId, _max_len: u64) -> Result<Option<Stored>, StoreError> {
        Ok(self.map().get(id).map(|b| Stored::Owned(b.clone())))
    }
    fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, StoreError> {
        Ok(self
            .map()
            .insert(*id, bytes.to_vec())
            .map(|b| b.len() as u64))
    }
    fn replace(&self, id: &EntryId, expected: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let mut map = self.map();
        let same = map.get(id).is_some_and(|old| old == expected);
        if same {
            map.insert(*id, new.to_vec());
        }
        Ok(same)
    }
    fn remove(&self, id: &EntryId) -> Result<Option<u64>, StoreError> {
        Ok(self.map().remove(id).map(|b| b.len() as u64))
    }
    fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError> {
        for (id, bytes) in self.map().iter() {
            visit(*id, bytes);
        }
        Ok(())
    }
    fn sample(
        &self,
        _seed: u64,
        visit: &mut dyn FnMut(EntryId, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        for (id, bytes) in self.map().iter() {
            if !visit(*id, bytes) {
                break;
            }
        }
        Ok(())
    }
}

impl Planted {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<EntryId, Vec<u8>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// Record layout, format 4 (see the module docs).
const FORMAT_AT: usize = 4;
const FLAGS_AT: usize = 5;
const LAYOUT_AT: usize = 6;
const NAMESPACE_AT: usize = 14;
const EXPIRES_AT: usize = 38;
const KEY_LEN_AT: usize = 54;
const PAYLOAD_LEN_AT: usize = 58;
const RAW_LEN_AT: usize = 66;
const FIXED: usize = 74;
const COMPRESSED: u8 = 1;

/// Rewrites the trailing CRC-32 so the record passes its checksum.
fn fix_checksum(record: &mut [u8]) {
    if record.len() < 4 {
        return;
    }
    let end = record.len() - 4;
    let sum = crc32fast::hash(&record[..end]);
    record[end..].copy_from_slice(&sum.to_le_bytes());
}

fn set_u64(record: &mut [u8], at: usize, value: u64) {
    if record.len() >= at + 8 {
        record[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }
}

fn set_u32(record: &mut [u8], at: usize, value: u32) {
    if record.len() >= at + 4 {
        record[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
}

/// How a planted entry was made, and so what reading it may return.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Random bytes, damage, or a structural lie: the true value or nothing.
    Checked,
    /// Another value's payload under a fixed-up checksum: anything decodable, no panic.
    Forged,
}

/// A hostile version of `genuine` (a record of this cache), and what it may decode to.
/// `others` are genuine records of other keys.
pub fn mutate(rng: &mut Rng, genuine: &[u8], others: &[Vec<u8>]) -> (Vec<u8>, Kind) {
    let mut r = genuine.to_vec();
    match rng.below(12) {
        0 => {
            let len = rng.below(600) as usize;
            return (rng.bytes(len), Kind::Checked);
        }
        1 => {
            for _ in 0..=rng.below(8) {
                let bit = rng.below(r.len() as u64 * 8) as usize;
                r[bit / 8] ^= 1 << (bit % 8);
            }
        }
        2 => r.truncate(rng.below(r.len() as u64) as usize),
        3 => {
            let extra = rng.below(64) as usize + 1;
            r.extend(rng.bytes(extra));
        }
        4 => {
            let at = rng.below(r.len() as u64) as usize;
            let len = (rng.below(32) as usize + 1).min(r.len() - at);
            let junk = rng.bytes(len);
            r[at..at + len].copy_from_slice(&junk);
        }
        5 => {
            // Lengths that lie, checksum fixed.
            let lie =
                [0, 1, u64::MAX, u64::MAX / 2, 1 << 40, rng.next_u64()][rng.below(6) as usize];
            match rng.below(3) {
                0 => set_u32(&mut r, KEY_LEN_AT, lie as u32),
                1 => set_u64(&mut r, PAYLOAD_LEN_AT, lie),
                _ => set_u64(&mut r, RAW_LEN_AT, lie),
            }
            fix_checksum(&mut r);
        }
        6 => {
            // Another namespace, value layout, format, or flags; checksum fixed.
            match rng.below(4) {
                0 => set_u64(&mut r, NAMESPACE_AT, rng.next_u64()),
                1 => set_u64(&mut r, LAYOUT_AT, rng.next_u64()),
                2 => r[FORMAT_AT] = rng.below(256) as u8,
                _ => r[FLAGS_AT] ^= COMPRESSED,
            }
            fix_checksum(&mut r);
        }
        7 => {
            // Expired long ago, checksum fixed: a miss.
            set_u64(&mut r, EXPIRES_AT, 1 + rng.below(1_000_000));
            fix_checksum(&mut r);
        }
        8 => {
            // Another key's record under this key's id (a collision): a miss.
            r = others[rng.below(others.len() as u64) as usize].clone();
        }
        9 => return (bomb(rng, &r), Kind::Checked),
        10 => {
            // A damaged valid-checksum record: random bytes past the header, checksum fixed.
            if r.len() > FIXED + 4 {
                let at = FIXED + rng.below((r.len() - FIXED - 4) as u64) as usize;
                r[at] = rng.next_u64() as u8;
                fix_checksum(&mut r);
                return (r, Kind::Forged);
            }
        }
        _ => {
            // Another value's payload, lengths and checksum fixed: a forgery.
            let other = &others[rng.below(others.len() as u64) as usize];
            if let (Some(payload), Some(key_len)) = (payload_of(other), key_len(&r)) {
                let mut forged = r[..FIXED + key_len].to_vec();
                forged.extend_from_slice(payload);
                set_u64(&mut forged, PAYLOAD_LEN_AT, payload.len() as u64);
                set_u64(&mut forged, RAW_LEN_AT, payload.len() as u64);
                forged[FLAGS_AT] = other[FLAGS_AT];
                if other[FLAGS_AT] & COMPRESSED != 0 {
                    forged[RAW_LEN_AT..RAW_LEN_AT + 8]
                        .copy_from_slice(&other[RAW_LEN_AT..RAW_LEN_AT + 8]);
                }
                forged.extend_from_slice(&[0; 4]);
                fix_checksum(&mut forged);
                return (forged, Kind::Forged);
            }
        }
    }
    (r, Kind::Checked)
}

fn key_len(record: &[u8]) -> Option<usize> {
    let bytes = record.get(KEY_LEN_AT..KEY_LEN_AT + 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?) as usize)
}

fn payload_of(record: &[u8]) -> Option<&[u8]> {
    let start = FIXED + key_len(record)?;
    record.get(start..record.len().checked_sub(4)?)
}

/// How far [`BOMB`] expands.
const BOMB_EXPANDS_TO: u64 = 16 << 20;

/// A zstd frame of a few hundred bytes that expands to [`BOMB_EXPANDS_TO`] zeros.
static BOMB: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    zstd::bulk::compress(&vec![0u8; BOMB_EXPANDS_TO as usize], 19).expect("zstd")
});

/// A decompression bomb: this record's header and key, a small zstd frame that expands to
/// many MiB, and a declared raw length that is either honest (larger than the cache's bound)
/// or a lie; checksum fixed.
fn bomb(rng: &mut Rng, genuine: &[u8]) -> Vec<u8> {
    let Some(key_len) = key_len(genuine) else {
        return genuine.to_vec();
    };
    let mut r = genuine[..(FIXED + key_len).min(genuine.len())].to_vec();
    r.extend_from_slice(&BOMB);
    set_u64(&mut r, PAYLOAD_LEN_AT, BOMB.len() as u64);
    let declared = [BOMB_EXPANDS_TO, 100, 1 << 40][rng.below(3) as usize];
    set_u64(&mut r, RAW_LEN_AT, declared);
    if r.len() > FLAGS_AT {
        r[FLAGS_AT] |= COMPRESSED;
    }
    r.extend_from_slice(&[0; 4]);
    fix_checksum(&mut r);
    r
}

/// Peak resident memory of this process so far (VmHWM), in bytes.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// A cache's genuine entries: for each key, where its entry is stored and its bytes.
type Genuine<Spot> = Vec<(u64, Spot, Vec<u8>)>;

/// Inserts keys `0..keys` one at a time and finds where each one's entry appeared: `spots`
/// lists where the store holds entries, `read` reads one.
fn genuine_entries<Spot: PartialEq>(
    keys: u64,
    insert: impl Fn(u64),
    spots: impl Fn() -> Vec<Spot>,
    read: impl Fn(&Spot) -> Vec<u8>,
) -> Genuine<Spot> {
    (0..keys)
        .map(|k| {
            let before = spots();
            insert(k);
            let spot = spots()
                .into_iter()
                .find(|s| !before.contains(s))
                .expect("one new entry per key");
            let bytes = read(&spot);
            (k, spot, bytes)
        })
        .collect()
}

/// `count` rounds of: plant a hostile version of a random key's entry where it is stored, read
/// the key through the cache, check what came back. Returns how many forgeries read as the
/// value they carry.
fn plant_and_read<Spot>(
    genuine: &Genuine<Spot>,
    count: u64,
    rng: &mut Rng,
    mut plant: impl FnMut(&Spot, Vec<u8>),
    get: impl Fn(&u64) -> Option<Doc>,
    tally: &Tally,
    what: &str,
) -> u64 {
    let others: Vec<Vec<u8>> = genuine.iter().map(|(_, _, r)| r.clone()).collect();
    let mut forged_read = 0u64;
    for _ in 0..count {
        let (k, spot, record) = &genuine[rng.below(genuine.len() as u64) as usize];
        let (hostile, kind) = mutate(rng, record, &others);
        plant(spot, hostile);
        match (kind, get(k)) {
            (_, None) => tally.op(),
            (Kind::Checked, Some(v)) => tally.check(&v, &doc(*k), what),
            (Kind::Forged, Some(v)) => {
                tally.op();
                forged_read += u64::from(v != doc(*k));
            }
        }
    }
    forged_read
}

/// A planting suite's figures.
fn planted_figures(
    engine: &'static str,
    count: u64,
    forged_read: u64,
    errors: u64,
    tally: Tally,
    start: Instant,
) -> Figures {
    let mut figures = Figures::new("hostile input", engine);
    figures.hostile = count;
    figures.errors_counted = errors;
    figures.notes = format!("{forged_read} forgeries read as their value, by design");
    figures = tally.into_figures(figures);
    figures.elapsed = start.elapsed();
    figures
}

/// `count` hostile reads through a planted cache (half of them compressing its values).
pub fn planted(count: u64, seed: u64) -> Figures {
    let start = Instant::now();
    let tally = Tally::default();
    let (mut forged_read, mut errors) = (0, 0);
    std::sync::LazyLock::force(&BOMB);
    let rss_before = peak_rss();
    for (half, compress) in [(0, false), (1, true)] {
        let map: Map = Arc::default();
        let location = PlantedAt {
            map: map.clone(),
            folder: PathBuf::from("planted"),
        };
        // Bounded at 1 MiB: a bomb declaring more is refused before it is decompressed.
        let cache: DiskCache<Planted, Doc> = DiskCache::builder_at(location)
            .max_bytes(1 << 20)
            .compress(compress)
            .build();
        let genuine = genuine_entries(
            64,
            |k| cache.insert(&k, &doc(k)),
            || map.lock().unwrap().keys().copied().collect(),
            |id| map.lock().unwrap()[id].clone(),
        );
        forged_read += plant_and_read(
            &genuine,
            count / 2,
            &mut Rng::new(seed ^ half),
            |id, bytes| {
                map.lock().unwrap().insert(*id, bytes);
            },
            |k| cache.get(k),
            &tally,
            "planted record",
        );
        errors += cache.stats().errors;
    }
    let grew = peak_rss().saturating_sub(rss_before);
    let mut figures = planted_figures(
        "records in memory",
        count,
        forged_read,
        errors,
        tally,
        start,
    );
    figures.notes = format!(
        "peak memory grew {} MiB (bound: 64 MiB); {forged_read} forgeries (another value's payload under a fixed checksum) read as that value, by design",
        grew >> 20
    );
    if grew > 64 << 20 {
        figures.fail(format!("memory grew by {} MiB", grew >> 20));
    }
    figures
}

/// The same mutations planted in real entry files (`#[fcache]`'s store) and read back.
pub fn files(count: u64, seed: u64) -> Figures {
    let start = Instant::now();
    let tally = Tally::default();
    let dir = tempfile::tempdir().expect("a temp dir");
    let cache: twat_cache::FileCache<Doc> = twat_cache::FileCache::builder(dir.path().join("f"))
        .max_bytes(1 << 20)
        .compress(true)
        .build();
    let genuine = genuine_entries(
        32,
        |k| cache.insert(&k, &doc(k)),
        || twat_cache_tests::entry_files(dir.path()),
        |path| std::fs::read(path).expect("the entry"),
    );
    let forged_read = plant_and_read(
        &genuine,
        count,
        &mut Rng::new(seed),
        |path, bytes| std::fs::write(path, bytes).expect("planting an entry"),
        |k| cache.get(k),
        &tally,
        "planted file",
    );
    let errors = cache.stats().errors;
    planted_figures("entry files", count, forged_read, errors, tally, start)
}

/// The same mutations planted as raw values in `#[bcache]`'s sled tree (written through a
/// second handle on the same database) and read back.
pub fn sled(count: u64, seed: u64) -> Figures {
    let start = Instant::now();
    let tally = Tally::default();
    let dir = tempfile::tempdir().expect("a temp dir");
    let location = (dir.path().join("db"), "hostile".to_string());
    let cache: twat_cache::SledCache<Doc> =
        twat_cache::SledCache::builder(&location.0, &location.1)
            .max_bytes(1 << 20)
            .compress(true)
            .build();
    let raw = SledStore::open(&location).expect("the cache's sled tree");
    let ids = || {
        let mut ids = Vec::new();
        raw.for_each(&mut |id, _| ids.push(id))
            .expect("listing the tree");
        ids
    };
    let read = |id: &EntryId| match raw.get(id, u64::MAX).expect("reading the tree") {
        Some(stored) => stored.to_vec(),
        None => panic!("the entry just listed"),
    };
    let genuine = genuine_entries(32, |k| cache.insert(&k, &doc(k)), ids, read);
    let forged_read = plant_and_read(
        &genuine,
        count,
        &mut Rng::new(seed),
        |id, bytes| {
            raw.put(id, &bytes).expect("planting a value");
        },
        |k| cache.get(k),
        &tally,
        "planted sled value",
    );
    let errors = cache.stats().errors;
    planted_figures("sled values", count, forged_read, errors, tally, start)
}

/// The same mutations planted under real Redis keys (`None`: no server to start).
pub fn redis(count: u64, seed: u64) -> Option<Figures> {
    let server = twat_cache_tests::RedisServer::start("reliability hostile")?;
    let start = Instant::now();
    let tally = Tally::default();
    let prefix = "twat-cache:reliability:hostile";
    let cache: twat_cache::RedisCache<Doc> = twat_cache::RedisCache::builder(&server.url(), prefix)
        .max_bytes(1 << 20)
        .build();
    let connection = std::cell::RefCell::new(server.connection());
    let genuine = genuine_entries(
        32,
        |k| cache.insert(&k, &doc(k)),
        || server.keys(&format!("{prefix}:*")),
        |key| {
            redis::cmd("GET")
                .arg(key)
                .query(&mut *connection.borrow_mut())
                .expect("the entry")
        },
    );
    let forged_read = plant_and_read(
        &genuine,
        count,
        &mut Rng::new(seed),
        |key, bytes| {
            let _: () = redis::cmd("SET")
                .arg(key)
                .arg(bytes.as_slice())
                .query(&mut *connection.borrow_mut())
                .expect("planting a value");
        },
        |k| cache.get(k),
        &tally,
        "planted Redis value",
    );
    let errors = cache.stats().errors;
    Some(planted_figures(
        "Redis values",
        count,
        forged_read,
        errors,
        tally,
        start,
    ))
}

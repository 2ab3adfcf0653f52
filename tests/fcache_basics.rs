//! `#[fcache]` and `FileCache` in one process.
#![deny(warnings)]

use std::time::{Duration, SystemTime};

use twat_cache::{CacheKind, Clock, FileCache, fcache, registry};
use twat_cache_tests::{Calls, entry_files, isolated_cache_root};

static RENDER_CALLS: Calls = Calls::new();

#[fcache(folder = "fbasics-render", compress = true)]
fn render(template: &str, n: u32) -> Result<String, String> {
    RENDER_CALLS.hit();
    if n == 0 {
        return Err("nothing to render".into());
    }
    Ok(template.repeat(n as usize))
}

#[test]
fn result_rules_compression_and_registry() {
    isolated_cache_root();
    assert_eq!(render("ab", 500).unwrap().len(), 1000);
    assert_eq!(render("ab", 500).unwrap().len(), 1000);
    assert!(render("ab", 0).is_err());
    assert!(render("ab", 0).is_err());
    assert_eq!(RENDER_CALLS.get(), 3, "Ok cached, Err never");
    let stats = render_cache().stats();
    assert!(
        stats.bytes < 1000,
        "compressed on disk: {} bytes",
        stats.bytes
    );
    let info = registry()
        .into_iter()
        .find(|c| c.name.ends_with("::render"))
        .unwrap();
    assert_eq!(info.kind, CacheKind::Fcache);
    assert!(info.folder.unwrap().ends_with("fbasics-render"));
    assert!(render_invalidate("ab", 500));
    render("ab", 500).unwrap();
    assert_eq!(RENDER_CALLS.get(), 4);
    render_cache().clear();
    assert_eq!(render_cache().len(), 0);
}

static ASYNC_CALLS: Calls = Calls::new();

#[fcache(folder = "fbasics-async")]
async fn lookup(id: u64) -> Option<String> {
    ASYNC_CALLS.hit();
    (id > 0).then(|| format!("#{id}"))
}

pub struct Repo {
    pub name: String,
}

static METHOD_CALLS: Calls = Calls::new();

impl Repo {
    #[fcache(folder = "fbasics-method", key = (self.name.clone(), rev))]
    pub fn tree(&self, rev: u32) -> Vec<String> {
        METHOD_CALLS.hit();
        vec![format!("{}@{rev}", self.name)]
    }
}

#[test]
fn async_fns_and_methods() {
    isolated_cache_root();
    futures::executor::block_on(async {
        assert_eq!(lookup(1).await.as_deref(), Some("#1"));
        assert_eq!(lookup(1).await.as_deref(), Some("#1"));
        assert_eq!(lookup(0).await, None);
        assert_eq!(lookup(0).await, None);
    });
    assert_eq!(
        ASYNC_CALLS.get(),
        3,
        "Some cached, None not (no cache_none)"
    );
    let r = Repo {
        name: "twat".into(),
    };
    assert_eq!(r.tree(3), vec!["twat@3".to_string()]);
    assert_eq!(r.tree(3), vec!["twat@3".to_string()]);
    assert_eq!(METHOD_CALLS.get(), 1);
    assert_eq!(
        Repo::tree_cache().name(),
        concat!(module_path!(), "::Repo::tree")
    );
}

#[test]
fn ttl_and_refresh_on_files() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual();
    let plain: FileCache<u32> = FileCache::builder(dir.path().join("ttl"))
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build();
    let sliding: FileCache<u32> = FileCache::builder(dir.path().join("refresh"))
        .ttl(Duration::from_secs(10))
        .refresh(true)
        .clock(clock.clone())
        .build();
    plain.insert(&1, &1);
    sliding.insert(&1, &1);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(6));
        let _ = plain.get(&1);
        assert_eq!(
            sliding.get(&1),
            Some(1),
            "each hit renews the sliding entry"
        );
    }
    assert_eq!(
        plain.get(&1),
        None,
        "18 s after insertion, the plain entry expired"
    );
    clock.advance(Duration::from_secs(11));
    assert_eq!(sliding.get(&1), None, "idle past the TTL");
    assert!(plain.stats().expirations >= 1);
}

#[test]
fn maxsize_prunes_oldest_access_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<u32> = FileCache::builder(dir.path().join("lru"))
        .maxsize(10)
        .build();
    for k in 0..10u32 {
        cache.insert(&k, &k);
    }
    // All written an hour ago: a use is recorded at most once per `TOUCH_RESOLUTION`, so
    // only an entry last used longer ago than that is marked used again by a hit.
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for path in entry_files(dir.path()) {
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(hour_ago).unwrap();
    }
    assert_eq!(
        cache.get(&0u32),
        Some(0),
        "touching key 0 makes it the most recent"
    );
    for k in 10..15u32 {
        cache.insert(&k, &k);
    }
    assert!(cache.len() <= 10);
    assert_eq!(
        cache.get(&0u32),
        Some(0),
        "recently used survives the prune"
    );
    let old_left = (1..10u32).filter(|k| cache.get(k).is_some()).count();
    assert!(
        old_left <= 4,
        "the least recently used went first: {old_left} left"
    );
}

#[test]
fn an_unusable_folder_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regular-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let cache: FileCache<String> = FileCache::builder(file.join("entries")).build();
    assert!(cache.is_fallback());
    assert_eq!(cache.get_or_insert_with("k", || "v".to_string()), "v");
    assert_eq!(
        cache.get_or_insert_with("k", || unreachable!("a repeated key is a hit, in memory")),
        "v"
    );
    let stats = cache.stats();
    assert!(stats.errors >= 1);
    assert_eq!((stats.hits, stats.len), (1, 1));
}

#[test]
fn fifo_policy_evicts_the_oldest_write_even_if_recently_read() {
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<u32> = FileCache::builder(dir.path().join("fifo"))
        .maxsize(10)
        .policy(twat_cache::Policy::Fifo)
        .build();
    for k in 0..10u32 {
        cache.insert(&k, &k);
    }
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(cache.get(&0u32), Some(0), "a read does not make it younger");
    for k in 10..12u32 {
        cache.insert(&k, &k);
    }
    assert_eq!(cache.get(&0u32), None, "the first write went first");
    assert_eq!(cache.get(&11u32), Some(11));
}

/// Prunes remove shard directories left empty; a writer (here another cache on the same
/// folder, as another process would be) that finds its shard gone creates it again.
#[test]
fn empty_shard_directories_are_removed_and_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("shards");
    let writer: FileCache<u32> = FileCache::builder(&folder).build();
    let pruner: FileCache<u32> = FileCache::builder(&folder).build();
    for k in 0..50u32 {
        writer.insert(&k, &k);
    }
    let shards = || {
        std::fs::read_dir(&folder)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().len() == 2)
            .count()
    };
    assert!(shards() > 10);
    pruner.core().clear();
    pruner.core().sweep_expired(); // a prune
    assert!(
        shards() > 10,
        "just-emptied shards are kept for a grace period"
    );
    // An hour later (their modification times moved back): removed.
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for shard in std::fs::read_dir(&folder).unwrap().flatten() {
        if shard.file_name().len() == 2 {
            let dir = std::fs::File::open(shard.path()).unwrap();
            dir.set_modified(hour_ago).unwrap();
        }
    }
    pruner.core().sweep_expired();
    assert_eq!(shards(), 0, "empty shard directories removed");
    for k in 0..50u32 {
        writer.insert(&k, &(k + 1)); // its shards were verified before they vanished
    }
    for k in 0..50u32 {
        assert_eq!(pruner.get(&k), Some(k + 1));
    }
    assert_eq!(
        writer.stats().errors,
        0,
        "recreated, not failed over to memory"
    );
    assert!(!writer.is_fallback());
}

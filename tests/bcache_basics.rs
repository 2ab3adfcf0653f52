//! `#[bcache]` in one process: return-type rules, methods, async, compression, custom keys.
//! Every test gets its own cache root through a separate `folder`; the root is set once.
#![deny(warnings)]

use serde::{Deserialize, Serialize};
use twat_cache::{CacheKind, bcache, registry};
use twat_cache_tests::{Calls, isolated_cache_root};

static PARSE_CALLS: Calls = Calls::new();

#[bcache(folder = "basics-result")]
fn parse(text: &str) -> Result<u32, String> {
    PARSE_CALLS.hit();
    text.parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())
}

#[test]
fn result_caches_ok_only_and_values_round_trip() {
    isolated_cache_root();
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(parse("12"), Ok(12));
    assert!(parse("x").is_err());
    assert!(parse("x").is_err());
    assert_eq!(PARSE_CALLS.get(), 3);
    let info = registry()
        .into_iter()
        .find(|c| c.name.ends_with("::parse"))
        .unwrap();
    assert_eq!(info.kind, CacheKind::Bcache);
    let folder = info.folder.expect("disk caches report their folder");
    assert!(folder.ends_with("basics-result") && folder.is_dir());
    assert_eq!(info.stats.len, 1);
    assert!(parse_invalidate("12"));
    assert!(!parse_invalidate("12"));
}

static OPTION_CALLS: Calls = Calls::new();

#[bcache(folder = "basics-option", cache_none = true)]
fn maybe(n: u8) -> Option<String> {
    OPTION_CALLS.hit();
    (n > 5).then(|| n.to_string())
}

#[test]
fn cache_none_stores_none_on_disk() {
    isolated_cache_root();
    assert_eq!(maybe(1), None);
    assert_eq!(maybe(1), None);
    assert_eq!(maybe(9).as_deref(), Some("9"));
    assert_eq!(maybe(9).as_deref(), Some("9"));
    assert_eq!(OPTION_CALLS.get(), 2);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Thumbnail {
    width: u32,
    pixels: Vec<u8>,
}

static THUMB_CALLS: Calls = Calls::new();

#[bcache(folder = "basics-compress", compress = true, maxsize = 100)]
fn thumbnail(path: &std::path::Path, width: u32) -> Thumbnail {
    THUMB_CALLS.hit();
    Thumbnail {
        width,
        pixels: path.to_string_lossy().bytes().cycle().take(4096).collect(),
    }
}

#[test]
fn compressed_values_round_trip() {
    isolated_cache_root();
    let p = std::path::Path::new("/photos/cat.png");
    let first = thumbnail(p, 64);
    assert_eq!(thumbnail(p, 64), first);
    assert_eq!(THUMB_CALLS.get(), 1);
    let stats = thumbnail_cache().stats();
    assert!(
        stats.bytes < 4096,
        "4 KiB of repetitive pixels compress: {} bytes",
        stats.bytes
    );
}

pub struct Account {
    pub id: u64,
}

static BALANCE_CALLS: Calls = Calls::new();

impl Account {
    #[bcache(folder = "basics-methods", key = self.id)]
    pub fn balance(&self) -> i64 {
        BALANCE_CALLS.hit();
        self.id as i64 * 100
    }
}

#[test]
fn methods_with_key() {
    isolated_cache_root();
    let a = Account { id: 3 };
    assert_eq!(a.balance(), 300);
    assert_eq!(a.balance(), 300);
    assert_eq!(BALANCE_CALLS.get(), 1);
    assert_eq!(
        Account::balance_cache().name(),
        concat!(module_path!(), "::Account::balance")
    );
    assert!(a.balance_invalidate());
}

static ASYNC_CALLS: Calls = Calls::new();

#[bcache(folder = "basics-async", ttl = "1h")]
async fn fetch(id: u64) -> Result<String, String> {
    ASYNC_CALLS.hit();
    Ok(format!("user {id}"))
}

#[test]
fn async_functions() {
    isolated_cache_root();
    futures::executor::block_on(async {
        assert_eq!(fetch(1).await.unwrap(), "user 1");
        assert_eq!(fetch(1).await.unwrap(), "user 1");
        let all = futures::future::join_all((0..8).map(|_| fetch(2))).await;
        assert!(all.iter().all(|r| r.as_deref() == Ok("user 2")));
    });
    assert_eq!(ASYNC_CALLS.get(), 2, "single-flight across futures too");
}

static CLEAR_CALLS: Calls = Calls::new();

#[bcache(folder = "basics-clear")]
fn cleared(n: u8) -> u8 {
    CLEAR_CALLS.hit();
    n
}

#[test]
fn clear_empties_the_disk_cache() {
    isolated_cache_root();
    cleared(1);
    cleared(2);
    assert_eq!(cleared_cache().len(), 2);
    cleared_cache().clear();
    assert_eq!(cleared_cache().len(), 0);
    cleared(1);
    assert_eq!(CLEAR_CALLS.get(), 3);
    assert_eq!(cleared_cache().stats().errors, 0);
}

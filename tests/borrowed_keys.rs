//! `key = (…)` with borrowed parts: looked up borrowed, owned only on a miss.
#![deny(warnings)]

use twat_cache::{bcache, mcache};
use twat_cache_tests::{Calls, isolated_cache_root};

struct Repo {
    id: u64,
}

static HEADS: Calls = Calls::new();
static FILES: Calls = Calls::new();

impl Repo {
    #[mcache(key = (self.id, branch))]
    fn head(&self, branch: &str) -> String {
        HEADS.hit();
        format!("{}@{branch}", self.id)
    }

    #[bcache(folder = "borrowed-keys", key = (self.id, path, depth))]
    fn listing(&self, path: &std::path::Path, depth: u8) -> Vec<String> {
        FILES.hit();
        vec![format!("{}:{}:{depth}", self.id, path.display())]
    }
}

#[test]
fn borrowed_parts_of_a_key_expression() {
    isolated_cache_root();
    let repo = Repo { id: 7 };
    let branch = String::from("main");
    assert_eq!(repo.head(&branch), "7@main");
    assert_eq!(repo.head("main"), "7@main");
    assert_eq!(repo.head("dev"), "7@dev");
    assert_eq!(Repo { id: 8 }.head("main"), "8@main");
    assert_eq!(HEADS.get(), 3, "(7, main) was a hit; other keys missed");
    assert!(repo.head_invalidate("main"));
    let path = std::path::Path::new("/src");
    assert_eq!(repo.listing(path, 1), vec!["7:/src:1".to_string()]);
    assert_eq!(repo.listing(path, 1), vec!["7:/src:1".to_string()]);
    assert_eq!(repo.listing(path, 2).len(), 1);
    assert_eq!(FILES.get(), 2);
}

static TAGGED: Calls = Calls::new();

#[mcache]
fn tagged(name: &str, tag: Option<&str>) -> String {
    TAGGED.hit();
    format!("{name}:{}", tag.unwrap_or("-"))
}

static FTAGGED: Calls = Calls::new();

#[twat_cache::fcache(folder = "borrowed-options")]
fn ftagged(tag: Option<&str>, n: u8) -> String {
    FTAGGED.hit();
    format!("{}{n}", tag.unwrap_or("-"))
}

#[test]
fn option_of_reference_arguments() {
    isolated_cache_root();
    let owned = String::from("beta");
    assert_eq!(tagged("a", Some("beta")), "a:beta");
    assert_eq!(tagged("a", Some(&owned)), "a:beta");
    assert_eq!(tagged("a", None), "a:-");
    assert_eq!(tagged("a", None), "a:-");
    assert_eq!(tagged("a", Some("gamma")), "a:gamma");
    assert_eq!(TAGGED.get(), 3, "(a, beta) and (a, None) were hits");
    assert!(tagged_invalidate("a", Some("beta")));
    assert_eq!(ftagged(Some("x"), 1), "x1");
    assert_eq!(ftagged(Some("x"), 1), "x1");
    assert_eq!(ftagged(None, 1), "-1");
    assert_eq!(FTAGGED.get(), 2);
}

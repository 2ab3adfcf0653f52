//! An argument named `_…` is deliberately left out of `key`: no warning.
#![deny(warnings)]

use twat_cache::mcache;

#[mcache(key = id)]
fn name(id: u64, _trace: &str) -> String { format!("user {id}") }

fn main() {
    assert_eq!(name(7, "a"), "user 7");
    assert_eq!(name(7, "b"), "user 7");
    assert_eq!(name_cache().stats().hits, 1);
}

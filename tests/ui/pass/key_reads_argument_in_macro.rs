//! An argument read only inside a macro call in `key` (as an argument, or captured by a format
//! string) counts as read: no warning.
#![deny(warnings)]

use twat_cache::mcache;

#[mcache(key = format!("{}/{name}:{width:>pad$}", dir, pad = 4))]
fn label(dir: &str, name: &str, width: u32) -> String { format!("{dir}/{name}:{width}") }

#[mcache(key = vec![a, b])]
fn sum(a: u32, b: u32) -> u32 { a + b }

fn main() {
    assert_eq!(label("d", "n", 3), "d/n:3");
    assert_eq!(label("d", "n", 4), "d/n:4");
    assert_eq!(sum(1, 2), 3);
    assert_eq!(sum(2, 1), 3);
}

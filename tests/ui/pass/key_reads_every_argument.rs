//! Every argument is read by `key`: no warning, even under `deny(warnings)`.
#![deny(warnings)]

use twat_cache::mcache;

struct Repo { id: u64 }

impl Repo {
    #[mcache(key = (self.id, path.to_string()))]
    fn get(&self, path: &str) -> String { format!("{}:{path}", self.id) }
}

#[mcache(key = (a, r#type))]
fn free(a: u32, r#type: u32) -> u32 { a + r#type }

fn main() {
    assert_eq!(Repo { id: 1 }.get("a"), "1:a");
    assert_eq!(Repo { id: 1 }.get("b"), "1:b");
    assert_eq!(free(1, 2), 3);
}

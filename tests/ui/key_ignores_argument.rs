#![deny(deprecated)]

use twat_cache::mcache;

struct Repo { id: u64 }

impl Repo {
    // `path` is left out: every path would get the first path's value.
    #[mcache(key = self.id)]
    fn get(&self, path: &str) -> String { format!("{}:{path}", self.id) }

    // `self` is left out: every instance shares one value per path.
    #[mcache(key = path.to_string())]
    fn shared(&self, path: &str) -> String { format!("{}:{path}", self.id) }
}

#[mcache(key = (a, format!("{}", b)))]
fn free(a: u32, b: u32, c: u32) -> u32 { a + b + c }

fn main() {}

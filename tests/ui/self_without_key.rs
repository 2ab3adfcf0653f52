use twat_cache::mcache;

struct S { id: u32 }

impl S {
    #[mcache]
    fn get(&self, x: u32) -> u32 { self.id + x }

    #[mcache(key = x)]
    fn bump(&mut self, x: u32) -> u32 { self.id += x; self.id }
}

fn main() {}

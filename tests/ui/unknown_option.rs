use twat_cache::mcache;

#[mcache(maxsiz = 10)]
fn f(x: u32) -> u32 { x }

fn main() { f(1); }

use twat_cache::mcache;

#[mcache(policy = "lruu")]
fn f(x: u32) -> u32 { x }

fn main() { f(1); }

use twat_cache::mcache;

#[mcache(tll = "10s")]
fn f(x: u32) -> u32 { x }

fn main() { f(1); }

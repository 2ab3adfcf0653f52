use twat_cache::mcache;

#[mcache(refresh = true)]
fn f(x: u32) -> u32 { x }

fn main() { f(1); }

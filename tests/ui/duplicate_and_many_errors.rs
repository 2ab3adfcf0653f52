use twat_cache::mcache;

#[mcache(ttl = "1s", ttl = "2s", maxsize = 0, colour = "red")]
fn f(x: u32) -> u32 { x }

fn main() { f(1); }

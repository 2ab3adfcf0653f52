use twat_cache::mcache;

#[mcache(maxsize = 0)]
fn f(x: u32) -> u32 { x }

#[mcache(max_bytes = "0KiB")]
fn g(x: u32) -> u32 { x }

fn main() { f(1); g(1); }

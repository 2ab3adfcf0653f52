use twat_cache::mcache;

#[mcache(folder = "geo", compress = true)]
fn f(x: u32) -> u32 { x }

#[mcache(backend = "redis")]
fn g(x: u32) -> u32 { x }

fn main() { f(1); g(1); }

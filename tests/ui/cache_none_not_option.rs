use twat_cache::mcache;

#[mcache(cache_none = true)]
fn f(x: u32) -> Result<u32, String> { Ok(x) }

fn main() { let _ = f(1); }

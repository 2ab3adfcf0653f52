use twat_cache::mcache;

#[mcache(ttl = "10 fortnights")]
fn f(x: u32) -> u32 { x }

#[mcache(ttl = "soon")]
fn g(x: u32) -> u32 { x }

#[mcache(max_bytes = "lots")]
fn h(x: u32) -> u32 { x }

fn main() { f(1); g(1); h(1); }

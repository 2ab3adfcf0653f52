use twat_cache::mcache;

#[mcache(maxsize = "ten")]
fn f(x: u32) -> u32 { x }

#[mcache(refresh = 1, ttl = "1s")]
fn g(x: u32) -> u32 { x }

#[mcache(policy = 3)]
fn h(x: u32) -> u32 { x }

fn main() { f(1); g(1); h(1); }

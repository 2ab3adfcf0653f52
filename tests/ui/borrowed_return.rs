use twat_cache::mcache;

#[mcache]
fn f(x: &str) -> &str { x }

fn main() {}

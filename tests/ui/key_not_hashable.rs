use twat_cache::mcache;

#[mcache]
fn f(x: f64) -> u32 { x as u32 }

fn main() { f(1.0); }

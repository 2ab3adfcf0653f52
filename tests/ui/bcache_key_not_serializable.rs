use twat_cache::bcache;

struct Opaque;

#[bcache]
fn f(x: &Opaque) -> u32 { let _ = x; 1 }

fn main() {}

use twat_cache::mcache;

struct NotClone;

#[mcache]
fn f(x: u32) -> NotClone { let _ = x; NotClone }

fn main() { let _ = f(1); }

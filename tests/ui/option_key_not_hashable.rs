// An `Option<&T>` argument whose `T` cannot key a memory cache: one error, on its type.
use twat_cache::mcache;

#[mcache]
fn scale(by: Option<&f64>, x: u32) -> u32 {
    x * by.map_or(1, |b| *b as u32)
}

fn main() {
    let _ = scale(Some(&2.0), 3);
}

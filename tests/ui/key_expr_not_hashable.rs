// A `key = …` element that cannot key a memory cache: one error, on that element, also for
// `async fn` (and none from the companions `_invalidate`, `_prime`, `_refresh`).
use twat_cache::mcache;

struct Point {
    x: f64,
    y: f64,
}

#[mcache(key = (p.x, label))]
async fn describe(p: &Point, label: &str) -> String {
    format!("{label}: {} {}", p.x, p.y)
}

fn main() {
    let _ = describe(&Point { x: 1.0, y: 2.0 }, "a");
}

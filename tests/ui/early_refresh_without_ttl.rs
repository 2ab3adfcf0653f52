use twat_cache::{fcache, mcache};

// Early refresh recomputes an entry shortly before its TTL ends: without a TTL there is no end.
#[mcache(early_refresh = true)]
fn parse(s: &str) -> usize {
    s.len()
}

#[fcache(maxsize = 10, early_refresh)]
fn render(n: u64) -> String {
    n.to_string()
}

// `early_refresh = false` needs nothing.
#[mcache(early_refresh = false)]
fn plain(n: u64) -> u64 {
    n
}

fn main() {
    let _ = (parse("a"), render(1), plain(1));
}

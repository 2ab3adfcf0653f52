// `cache_if` must be a function or closure taking `&V` (the stored value) and returning `bool`.
use twat_cache::{fcache, mcache};

fn takes_owned(v: String) -> bool {
    v.is_empty()
}

fn returns_count(v: &String) -> usize {
    v.len()
}

#[mcache(cache_if = "non_empty")]
fn literal(x: u32) -> String { x.to_string() }

#[mcache(cache_if = takes_owned)]
fn by_value(x: u32) -> String { x.to_string() }

#[mcache(cache_if = returns_count)]
fn not_bool(x: u32) -> String { x.to_string() }

// The predicate sees the `Ok` value, not the whole `Result`.
#[fcache(cache_if = |r: &Result<u32, String>| r.is_ok())]
fn whole_result(x: u32) -> Result<u32, String> { Ok(x) }

fn main() {
    let _ = (literal(1), by_value(1), not_bool(1), whole_result(1));
}

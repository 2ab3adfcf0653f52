use twat_cache::mcache;

#[mcache]
fn show(x: impl std::fmt::Display) -> String { x.to_string() }

#[mcache]
fn counter() -> impl Fn() -> u32 { || 1 }

fn main() {}

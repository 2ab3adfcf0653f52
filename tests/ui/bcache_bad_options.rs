use twat_cache::bcache;

#[bcache(folder = "../etc")]
fn escapes(x: u32) -> u32 { x }

#[bcache(folder = "a/b", version = "")]
fn nested(x: u32) -> u32 { x }

#[bcache(backend = "redis", compres = true)]
fn wrong_options(x: u32) -> u32 { x }

fn main() { escapes(1); nested(1); wrong_options(1); }

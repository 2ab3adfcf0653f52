use twat_cache::mcache;

fn computed() -> usize { 10 }
const NONE: usize = 0;

#[mcache(maxsize = computed())]
fn f(x: u32) -> u32 { x }

#[mcache(maxsize = NONE)]
fn g(x: u32) -> u32 { x }

#[mcache(ttl = 1.5f32)]
fn h(x: u32) -> u32 { x }

fn main() { f(1); g(1); h(1); }

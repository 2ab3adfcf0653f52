//! A child process for the per-entry bound tests (`review_bounds.rs`): reads one planted entry
//! in its own address space, so its peak memory (and a `ulimit -v` the test sets) is its own.
//!
//! `bounds_helper DIR KEY`: opens `FileCache<Vec<u8>>` at DIR, `get(KEY)`, and prints
//! `miss` or `hit LEN`, then `hwm_growth_kib N`: how far the peak resident set (`VmHWM`) rose
//! over the call, in KiB.

fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, key] = args.as_slice() else {
        panic!("usage: bounds_helper DIR KEY");
    };
    let cache: twat_cache::FileCache<Vec<u8>> = twat_cache::FileCache::builder(dir).build();
    let before = peak_kib();
    match cache.get(key.as_str()) {
        Some(value) => println!("hit {}", value.len()),
        None => println!("miss"),
    }
    println!("hwm_growth_kib {}", peak_kib().saturating_sub(before));
}

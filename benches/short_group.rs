//! The criterion group settings the disk benches share: storage calls take microseconds to
//! milliseconds, so 20 samples over 2 s are enough and keep `cargo bench` short.

use std::time::Duration;

use criterion::Criterion;
use criterion::measurement::WallTime;

/// A benchmark group of 20 samples, 0.3 s warm-up, 2 s measurement.
pub fn group<'a>(c: &'a mut Criterion, name: &str) -> criterion::BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g
}

//! Workloads shared by the comparison report (`cargo run --release -p twat-cache-bench-report`)
//! and the criterion benches.

pub mod traces;

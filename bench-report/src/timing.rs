//! Timing on a noisy machine: contenders take turns (each round runs every contender once, in
//! a rotating order), so a burst of noise lands on all of them; a figure is the fastest of the
//! rounds. Noise only ever adds time, so the fastest round is the most repeatable estimate of
//! the code's own cost (the advice of Python's `timeit`): on this shared 2-core machine the
//! median of 11 rounds swung ratios by up to 30% between two runs of the report.

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Rounds per measurement (the fastest is reported).
pub const ROUNDS: usize = 21;

/// One contender: `run(n)` performs `n` operations.
pub struct Contender<'a> {
    pub name: String,
    pub run: Box<dyn FnMut(u64) + 'a>,
}

impl<'a> Contender<'a> {
    pub fn new(name: impl Into<String>, run: impl FnMut(u64) + 'a) -> Self {
        Self {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// Nanoseconds per operation of each contender (the fastest of [`ROUNDS`] rounds of `ops`).
pub fn ns_per_op(contenders: &mut [Contender<'_>], ops: u64) -> Vec<(String, f64)> {
    for c in contenders.iter_mut() {
        (c.run)(ops / 4 + 1); // warm-up
    }
    let n = contenders.len();
    let mut samples = vec![Vec::with_capacity(ROUNDS); n];
    for round in 0..ROUNDS {
        for turn in 0..n {
            let i = (round + turn) % n;
            let start = Instant::now();
            (contenders[i].run)(ops);
            samples[i].push(start.elapsed().as_nanos() as f64 / ops as f64);
        }
    }
    contenders
        .iter()
        .zip(samples)
        .map(|(c, s)| (c.name.clone(), fastest(s)))
        .collect()
}

pub fn fastest(samples: Vec<f64>) -> f64 {
    samples.into_iter().fold(f64::INFINITY, f64::min)
}

/// Runs `per_thread(n, thread)` on two threads started together; returns the slower one's
/// time, so one "operation" is one call on each thread at once.
pub fn two_threads(n: u64, per_thread: &(dyn Fn(u64, usize) + Sync)) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let run = |thread: usize| {
            let barrier = &barrier;
            move || {
                barrier.wait();
                let start = Instant::now();
                per_thread(n, thread);
                start.elapsed()
            }
        };
        let a = s.spawn(run(0));
        let b = s.spawn(run(1));
        a.join().unwrap().max(b.join().unwrap())
    })
}

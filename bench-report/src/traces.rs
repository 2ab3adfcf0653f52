//! Seeded synthetic request traces for hit-ratio comparisons.
//!
//! - `zipf`: 2M requests, Zipf(s = 0.99) over 1M keys;
//! - `zipf+scans`: the same, with a 20k-key one-off sequential scan after every 100k requests;
//! - `loop`: keys `0..1.2 × capacity` requested in order, over and over — LRU's worst case.

/// splitmix64: a small, seeded, reproducible generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples ranks 0..n with probability ∝ 1/(rank+1)^s, by binary search in the CDF.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 1..=n {
            total += 1.0 / (rank as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Self { cdf }
    }

    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.next_f64();
        self.cdf.partition_point(|&c| c < u) as u64
    }
}

/// Scatters ranks over the key space so that popular keys are not numerically adjacent.
fn scatter(rank: u64) -> u64 {
    rank.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8
}

/// 2M Zipf(0.99) requests over 1M keys; with `scans`, a fresh 20k-key scan every 100k.
pub fn zipf(seed: u64, scans: bool) -> Vec<u64> {
    let zipf = Zipf::new(1_000_000, 0.99);
    let mut rng = Rng(seed);
    let mut trace = Vec::with_capacity(2_500_000);
    let mut scan_base = 1u64 << 60;
    for i in 0..2_000_000u64 {
        trace.push(scatter(zipf.sample(&mut rng)));
        if scans && i % 100_000 == 99_999 {
            trace.extend(scan_base..scan_base + 20_000);
            scan_base += 20_000;
        }
    }
    trace
}

/// Keys `0..1.2 × capacity` in order, repeated to at least 1.2M requests (10 rounds at least).
pub fn looping(capacity: usize) -> Vec<u64> {
    let n = (capacity as u64) * 12 / 10;
    let rounds = (1_200_000 / n).max(10);
    (0..rounds).flat_map(|_| 0..n).collect()
}

//! Probabilistic early refresh (XFetch; Vattani, Chierichetti and Lowenstein, "Optimal
//! Probabilistic Cache Stampede Prevention", VLDB 2015).
//!
//! An entry records δ, how long computing it took. A hit at `now` of an entry that expires at
//! `expiry` recomputes it early when `now − δ·β·ln(r) ≥ expiry`, with `r` uniform in (0, 1] and
//! β = 1: the closer the expiry and the slower the computation, the likelier. A hot key is then
//! recomputed by one caller shortly before it expires — while everyone else still hits — instead
//! of by every caller at once after. The caches make that one caller the only one: the early
//! recomputation takes the key's flight (and, on a shared store, its cross-process lock) without
//! waiting, and a caller that cannot take it returns the still-valid value.

use std::sync::atomic::{AtomicU64, Ordering};

/// Beyond `ln(2^53)` ≈ 36.7, `−ln(r)` of a 53-bit `r` cannot reach: no draw is needed.
const HORIZON: f64 = 37.0;

/// The draws of one cache: a SplitMix64 sequence, shared by its threads (one relaxed
/// `fetch_add` per draw — and a draw only happens within 37·δ of an expiry).
#[derive(Debug)]
pub(crate) struct EarlyRefresh {
    state: AtomicU64,
}

impl EarlyRefresh {
    /// Draws from `seed` (deterministic), or from a per-cache random seed.
    pub fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now())
        });
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// Whether a hit at `now` of an entry expiring at `expiry` (0 or `u64::MAX`: never), whose
    /// computation took `delta` nanoseconds, recomputes it now: `Some(−ln r)`, the draw that
    /// made it due, for judging another copy of the entry the same way ([`still_due`]).
    pub fn due(&self, now: u64, expiry: u64, delta: u64) -> Option<f64> {
        if delta == 0 || expiry == 0 || expiry == u64::MAX {
            return None;
        }
        let gap = expiry.saturating_sub(now) as f64 / delta as f64;
        // −δ·ln(r) ≥ expiry − now  ⇔  r ≤ exp(−(expiry − now)/δ).
        if gap >= HORIZON {
            return None;
        }
        let r = self.unit();
        (r <= (-gap).exp()).then(|| -r.ln())
    }

    /// A uniform draw in (0, 1].
    fn unit(&self) -> f64 {
        let x = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// Whether `draw` (from [`EarlyRefresh::due`]) makes an entry expiring `remaining` nanoseconds
/// from now, computed in `delta`, due: so a tier behind the one that drew can tell its own copy
/// — the same entry, or one refreshed meanwhile by another process — without a second draw.
pub(crate) fn still_due(draw: f64, remaining: u64, delta: u64) -> bool {
    draw * delta as f64 >= remaining as f64
}

/// δ in the two spare bytes of a memory slot: a float of 5 exponent and 11 mantissa bits over
/// microseconds — 0.05% precise, up to 2^42 µs (51 days); longer saturates.
pub(crate) fn pack_delta(nanos: u64) -> u16 {
    let micros = nanos / 1_000;
    if micros < 2048 {
        return micros as u16;
    }
    // The top bit goes to position 11, implicit; the 11 bits below it are kept.
    let shift = (63 - micros.leading_zeros()) - 11;
    if shift >= 31 {
        return u16::MAX;
    }
    ((shift as u16 + 1) << 11) | ((micros >> shift) as u16 & 0x7FF)
}

/// The nanoseconds [`pack_delta`] kept.
pub(crate) fn unpack_delta(packed: u16) -> u64 {
    let exponent = u64::from(packed >> 11);
    let mantissa = u64::from(packed & 0x7FF);
    let micros = if exponent == 0 {
        mantissa
    } else {
        (mantissa | 0x800) << (exponent - 1)
    };
    micros.saturating_mul(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_round_trips_within_a_twentieth_of_a_percent() {
        for nanos in [
            0,
            999,
            1_000,
            2_047_000,
            2_048_000,
            3_000_000,
            50_000_000,
            1_000_000_000,
            3_600_000_000_000,
        ] {
            let back = unpack_delta(pack_delta(nanos));
            let micros = nanos / 1000 * 1000;
            assert!(back <= micros, "{nanos}: {back}");
            assert!(micros - back <= micros / 2000, "{nanos}: {back}");
        }
        assert_eq!(pack_delta(u64::MAX), u16::MAX);
        assert!(unpack_delta(u16::MAX) > 2_000_000_000_000_000); // > 23 days
    }

    #[test]
    fn never_due_far_from_expiry_or_without_a_measure() {
        let early = EarlyRefresh::new(Some(1));
        for _ in 0..10_000 {
            assert!(early.due(0, 38_000, 1_000).is_none(), "38 δ before expiry");
            assert!(early.due(0, 1_000, 0).is_none(), "no δ recorded");
            assert!(early.due(0, 0, 1_000).is_none(), "no expiry");
        }
        assert!(
            early.due(1_000, 1_000, 1_000).is_some(),
            "at the expiry, always"
        );
    }

    /// The fraction of draws that are due `g·δ` before the expiry is `e^−g`.
    #[test]
    fn due_with_the_xfetch_probability() {
        let early = EarlyRefresh::new(Some(7));
        for gap in [0.1f64, 1.0, 3.0] {
            let n = 200_000;
            let remaining = (gap * 1_000_000.0) as u64;
            let due = (0..n)
                .filter(|_| {
                    early.due(0, remaining, 1_000_000).is_some_and(|draw| {
                        assert!(still_due(draw, remaining, 1_000_000), "judged alike");
                        true
                    })
                })
                .count();
            let observed = due as f64 / n as f64;
            let expected = (-gap).exp();
            assert!(
                (observed - expected).abs() < 0.005,
                "gap {gap}: {observed} vs {expected}"
            );
        }
    }

    #[test]
    fn a_seed_fixes_the_draws() {
        let (a, b) = (EarlyRefresh::new(Some(42)), EarlyRefresh::new(Some(42)));
        let draws = |e: &EarlyRefresh| (0..100).map(|_| e.unit()).collect::<Vec<_>>();
        let first = draws(&a);
        assert_eq!(first, draws(&b));
        assert!(first.iter().all(|&r| r > 0.0 && r <= 1.0));
    }
}

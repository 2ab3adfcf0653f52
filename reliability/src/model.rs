//! Model checks: random sequences of calls, reads, invalidations, clears, clock moves, reopens
//! and storage faults switched on and off, run against every engine and compared with a
//! reference model (proptest; a failure is shrunk to a short sequence and reported).
//!
//! The model knows when it cannot be sure: a value stored while faults were on may have gone
//! to the memory fallback or nowhere, so it may be absent later; a read may fail and recompute.
//! What it never allows: a value the function did not return for that key, an entry back after
//! its invalidation or a clear, or an entry past its TTL.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use twat_cache::fault::{self, Fault, Op as FaultOp};
use twat_cache::{Clock, FileCache, MemoryCache, SledCache, Tiered};

use crate::figures::Figures;

#[derive(Debug, Clone)]
enum Step {
    /// `get_or_insert_with(k, || v)`: what a cached call does.
    Call(u8, u32),
    Get(u8),
    Invalidate(u8),
    Clear,
    Advance(u16),
    /// Faults off, the storage back, then a new engine over the same storage.
    Reopen,
    /// Every read, write and removal fails with `EIO` with probability 0.3.
    FaultsOn,
    FaultsOff,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0u8..12, any::<u32>()).prop_map(|(k, v)| Step::Call(k, v)),
        3 => (0u8..12).prop_map(Step::Get),
        2 => (0u8..12).prop_map(Step::Invalidate),
        1 => Just(Step::Clear),
        2 => (0u16..400).prop_map(Step::Advance),
        1 => Just(Step::Reopen),
        1 => Just(Step::FaultsOn),
        1 => Just(Step::FaultsOff),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Memory,
    Sled,
    Files,
    Tiered,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Memory, Kind::Sled, Kind::Files, Kind::Tiered];

    fn name(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Sled => "sled",
            Kind::Files => "files",
            Kind::Tiered => "memory + files",
        }
    }

    fn persists(self) -> bool {
        self != Kind::Memory
    }
}

/// One engine of any kind, behind the calls the model makes.
enum Engine {
    Memory(MemoryCache<u8, u32>),
    Sled(SledCache<u32>),
    Files(FileCache<u32>),
    Tiered(Tiered<MemoryCache<u8, u32>, FileCache<u32>>),
}

impl Engine {
    fn open(kind: Kind, dir: &Path, clock: &Clock, ttl: Option<Duration>) -> Self {
        macro_rules! with_ttl {
            ($builder:expr) => {{
                let b = $builder.clock(clock.clone());
                match ttl {
                    Some(ttl) => b.ttl(ttl),
                    None => b,
                }
            }};
        }
        match kind {
            Kind::Memory => Engine::Memory(with_ttl!(MemoryCache::builder().maxsize(64)).build()),
            Kind::Sled => {
                Engine::Sled(with_ttl!(SledCache::builder(dir.join("sled"), "model")).build())
            }
            Kind::Files => Engine::Files(with_ttl!(FileCache::builder(dir.join("files"))).build()),
            Kind::Tiered => Engine::Tiered(Tiered::new(
                with_ttl!(MemoryCache::builder().maxsize(4)).build(),
                with_ttl!(FileCache::builder(dir.join("tiered"))).build(),
            )),
        }
    }

    fn call(&self, k: u8, v: u32) -> u32 {
        match self {
            Engine::Memory(c) => c.get_or_insert_with(k, || v),
            Engine::Sled(c) => c.get_or_insert_with(&k, || v),
            Engine::Files(c) => c.get_or_insert_with(&k, || v),
            Engine::Tiered(c) => c.get_or_insert_with(&k, || v),
        }
    }

    fn get(&self, k: u8) -> Option<u32> {
        match self {
            Engine::Memory(c) => c.get(&k),
            Engine::Sled(c) => c.get(&k),
            Engine::Files(c) => c.get(&k),
            Engine::Tiered(c) => c.get(&k),
        }
    }

    fn invalidate(&self, k: u8) {
        match self {
            Engine::Memory(c) => drop(c.remove(&k)),
            Engine::Sled(c) => drop(c.remove(&k)),
            Engine::Files(c) => drop(c.remove(&k)),
            Engine::Tiered(c) => drop(c.remove(&k)),
        }
    }

    fn clear(&self) {
        match self {
            Engine::Memory(c) => c.clear(),
            Engine::Sled(c) => c.clear(),
            Engine::Files(c) => c.clear(),
            Engine::Tiered(c) => c.clear(),
        }
    }

    fn is_fallback(&self) -> bool {
        match self {
            Engine::Memory(_) => false,
            Engine::Sled(c) => c.is_fallback(),
            Engine::Files(c) => c.is_fallback(),
            Engine::Tiered(c) => c.l2().is_fallback(),
        }
    }
}

/// What the model knows of a key.
#[derive(Clone, Copy, Debug)]
struct Known {
    value: u32,
    written: u64,
    /// Stored for sure (not while faults were on).
    certain: bool,
}

static OPERATIONS: AtomicU64 = AtomicU64::new(0);
static FAULTED: AtomicU64 = AtomicU64::new(0);

/// Runs `steps` on a fresh engine of `kind`; `Err` describes the first disagreement.
fn check(kind: Kind, ttl_ms: Option<u64>, steps: &[Step]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clock = Clock::manual();
    let ttl = ttl_ms.map(Duration::from_millis);
    let mut engine = Engine::open(kind, dir.path(), &clock, ttl);
    let mut model: HashMap<u8, Known> = HashMap::new();
    let mut now = 0u64; // ms since the start
    let mut faults = false;
    // Since faults were last on, the storage may be away (the cache works from memory, and a
    // stored entry may read as a miss) until a reopen waits out the backoff.
    let mut degraded = false;
    let live = |model: &HashMap<u8, Known>, k: u8, now: u64| {
        model
            .get(&k)
            .copied()
            .filter(|e| ttl_ms.is_none_or(|ttl| now < e.written + ttl))
    };
    for (i, step) in steps.iter().enumerate() {
        OPERATIONS.fetch_add(1, Ordering::Relaxed);
        let at = || format!("step {i} ({step:?}) of {steps:?}");
        match *step {
            Step::Call(k, v) => {
                let got = engine.call(k, v);
                match live(&model, k, now) {
                    Some(e) if e.certain && !degraded => {
                        prop_assert_eq!(got, e.value, "a stored value: {}", at())
                    }
                    Some(e) => prop_assert!(got == e.value || got == v, "{got}: {}", at()),
                    None => prop_assert_eq!(got, v, "nothing live to return: {}", at()),
                }
                if got == v && live(&model, k, now).is_none_or(|e| e.value != v) {
                    let certain = !degraded && !engine.is_fallback();
                    model.insert(
                        k,
                        Known {
                            value: v,
                            written: now,
                            certain,
                        },
                    );
                }
            }
            Step::Get(k) => {
                let got = engine.get(k);
                match live(&model, k, now) {
                    Some(e) if e.certain && !degraded => {
                        prop_assert_eq!(got, Some(e.value), "a stored value: {}", at())
                    }
                    Some(e) => prop_assert!(got.is_none() || got == Some(e.value), "{}", at()),
                    None => prop_assert_eq!(got, None, "nothing live: {}", at()),
                }
            }
            Step::Invalidate(k) => {
                engine.invalidate(k);
                model.remove(&k);
            }
            Step::Clear => {
                engine.clear();
                model.clear();
            }
            Step::Advance(ms) => {
                clock.advance(Duration::from_millis(u64::from(ms)));
                now += u64::from(ms);
            }
            Step::FaultsOn => {
                if !faults {
                    FAULTED.fetch_add(1, Ordering::Relaxed);
                    for op in [
                        FaultOp::Write,
                        FaultOp::Rename,
                        FaultOp::Read,
                        FaultOp::Remove,
                    ] {
                        fault::inject_random(op, dir.path(), Fault::Error(5), 0.3, i as u64);
                    }
                    faults = true;
                    degraded = true;
                }
            }
            Step::FaultsOff => {
                fault::clear();
                faults = false;
            }
            Step::Reopen => {
                fault::clear();
                faults = false;
                // Past the longest backoff: the storage comes back, with what it missed
                // applied (then nothing the model forgot can come back with a new engine).
                clock.advance(Duration::from_secs(120));
                now += 120_000;
                for _ in 0..3 {
                    let _ = engine.get(255);
                }
                drop(engine);
                engine = Engine::open(kind, dir.path(), &clock, ttl);
                degraded = false;
                if !kind.persists() {
                    model.clear();
                }
                // What was stored while faults were on may be on disk or may have been only in
                // the old engine's fallback: it stays uncertain.
            }
        }
    }
    fault::clear();
    Ok(())
}

/// `cases` random sequences per engine.
pub fn run(cases: u32, seed: u64) -> Vec<Figures> {
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let start = Instant::now();
            let mut figures = Figures::new("model check", kind.name());
            let (ops, faulted) = (
                OPERATIONS.load(Ordering::Relaxed),
                FAULTED.load(Ordering::Relaxed),
            );
            let config = Config {
                cases,
                failure_persistence: None,
                rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
                ..Config::default()
            };
            let mut runner = TestRunner::new_with_rng(
                config,
                proptest::test_runner::TestRng::from_seed(
                    proptest::test_runner::RngAlgorithm::ChaCha,
                    &seed_bytes(seed ^ kind as u64),
                ),
            );
            let strategy = (
                prop::option::of(50u64..500),
                prop::collection::vec(step(), 1..80),
            );
            if let Err(e) = runner.run(&strategy, |(ttl, steps)| check(kind, ttl, &steps)) {
                figures.wrong += 1;
                figures.fail(format!("{e}"));
            }
            figures.operations = OPERATIONS.load(Ordering::Relaxed) - ops;
            figures.faults = FAULTED.load(Ordering::Relaxed) - faulted;
            figures.notes = format!(
                "{cases} random sequences of up to 80 steps; faults: sequences' fault phases"
            );
            figures.elapsed = start.elapsed();
            figures
        })
        .collect()
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed.wrapping_mul(i as u64 * 2 + 1)).to_le_bytes());
    }
    bytes
}

//! `twat-cache-reliability`: runs twat-cache's reliability suites — hostile input, crash loops,
//! fault injection, concurrency stress, model checks — prints their figures, and with
//! `--out FILE` writes the report (RELIABILITY.md is this command's output:
//! `cargo run -p twat-cache-reliability -- --out RELIABILITY.md`).
//!
//! Counts are the CI's by default (the whole run takes a few minutes on two cores);
//! `TWAT_CACHE_RELIABILITY_SCALE=N` (or `--scale N`) multiplies them. Exits 1 if any suite
//! returned a wrong value, lost data beyond its durability window, or broke another guarantee.
//! Needs `redis-server` for the Redis parts (SKIPPED without it, a failure with
//! `TWAT_CACHE_REQUIRE_SERVERS=1`).

mod budget;
mod crash;
mod faults;
mod figures;
mod hostile;
mod model;
mod report;
mod rng;
mod stress;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use figures::Figures;

#[derive(Parser)]
#[command(about = "twat-cache's reliability suites and their figures")]
struct Args {
    /// Write the report (Markdown) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Multiply every suite's counts (default: `TWAT_CACHE_RELIABILITY_SCALE`, else 1).
    #[arg(long)]
    scale: Option<u64>,
    /// Run only the suites whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// The seed every suite's choices follow.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    #[command(subcommand)]
    role: Option<Role>,
}

/// The processes the crash loops start (not for people).
#[derive(Subcommand)]
enum Role {
    #[command(hide = true)]
    Child { variant: String, seed: u64 },
    #[command(hide = true)]
    Verify { variant: String, expected: Vec<u64> },
}

/// The CI's counts (scaled by `--scale`).
const HOSTILE_IN_MEMORY: u64 = 1_000_000;
const HOSTILE_FILES: u64 = 20_000;
const HOSTILE_SLED: u64 = 20_000;
const HOSTILE_REDIS: u64 = 5_000;
const CRASHES_PER_VARIANT: u64 = 100;
const FAULT_OPS_PER_THREAD: u64 = 20_000;
const STRESS_OPS_PER_THREAD: u64 = 50_000;
const ASYNC_TASKS: u64 = 4_000;
const MODEL_CASES: u32 = 500;

fn main() {
    let args = Args::parse();
    match args.role {
        Some(Role::Child { variant, seed }) => return crash::child(&variant, seed),
        Some(Role::Verify { variant, expected }) => return crash::verify(&variant, &expected),
        None => {}
    }
    let scale = args.scale.unwrap_or_else(|| {
        std::env::var("TWAT_CACHE_RELIABILITY_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
    });
    // The attributes' caches (stress suite) live in a root of their own.
    let root = tempfile::tempdir().expect("a temp dir");
    // SAFETY: set before any cache reads it, while this process has one thread.
    unsafe { std::env::set_var("TWAT_CACHE_DIR", root.path()) };
    let wanted = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let seed = args.seed;
    let started = Instant::now();
    let mut all: Vec<Figures> = Vec::new();
    // (suite, budget, took) of each suite run, for the report.
    let mut timings: Vec<(&'static str, Duration, Duration)> = Vec::new();
    let mut run = |name: &'static str, suite: &mut dyn FnMut() -> Vec<Figures>| {
        if !wanted(name) {
            return;
        }
        eprintln!("== {name}");
        let budget = budget::of(name, scale);
        let watchdog = budget::Watchdog::start(name, budget);
        let mut figures = suite();
        let took = watchdog.elapsed();
        drop(watchdog);
        for f in &figures {
            eprintln!(
                "   {} / {}: {} ops, {} wrong, {} lost, {:.1} s; {}",
                f.suite,
                f.engine,
                f.operations,
                f.wrong,
                f.lost,
                f.elapsed.as_secs_f64(),
                f.notes
            );
        }
        if took > budget
            && let Some(last) = figures.last_mut()
        {
            last.fail(format!(
                "the {name} suites took {:.0} s, over their budget of {} s",
                took.as_secs_f64(),
                budget.as_secs()
            ));
        }
        timings.push((name, budget, took));
        all.extend(figures);
    };
    run("hostile", &mut || {
        let mut v = vec![
            hostile::planted(HOSTILE_IN_MEMORY * scale, seed),
            hostile::files(HOSTILE_FILES * scale, seed),
            hostile::sled(HOSTILE_SLED * scale, seed),
        ];
        v.extend(redis_or_skip(
            "hostile",
            hostile::redis(HOSTILE_REDIS * scale, seed),
        ));
        v
    });
    run("crash", &mut || {
        crash::Variant::ALL
            .into_iter()
            .map(|variant| crash::run(variant, CRASHES_PER_VARIANT * scale, seed))
            .collect()
    });
    run("faults", &mut || {
        faults::run(FAULT_OPS_PER_THREAD * scale, seed)
    });
    run("stress", &mut || {
        stress::run(STRESS_OPS_PER_THREAD * scale, ASYNC_TASKS * scale, seed)
    });
    run("model", &mut || {
        model::run(MODEL_CASES * scale as u32, seed)
    });

    print!("{}", figures::table(&all));
    let passed = all.iter().all(Figures::passed);
    if let Some(out) = &args.out {
        let text = report::render(&all, &timings, scale, seed, started.elapsed());
        std::fs::write(out, text).expect("writing the report");
        eprintln!("wrote {}", out.display());
    }
    if !passed {
        eprintln!("RELIABILITY SUITE FAILED");
        std::process::exit(1);
    }
}

/// A Redis suite's figures, or a loud SKIPPED line (a failure when servers are required).
fn redis_or_skip(suite: &str, figures: Option<Figures>) -> Option<Figures> {
    if figures.is_none() {
        let required = std::env::var_os("TWAT_CACHE_REQUIRE_SERVERS").is_some();
        eprintln!("SKIPPED: {suite} on Redis (no redis-server)");
        if required {
            let mut failed = Figures::new(leak(suite), "Redis");
            failed.fail("redis-server is required (TWAT_CACHE_REQUIRE_SERVERS)".into());
            return Some(failed);
        }
    }
    figures
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

//! `twat-cache-bench-report`: runs twat-cache's comparison with `cached`, `moka`,
//! `quick_cache`, a bare `HashMap` and the raw stores (sled, files, Redis), and writes
//! `benches/RESULTS.md` with SVG plots in `benches/plots/`.
//!
//! Run: `cargo run --release -p twat-cache-bench-report` (about three minutes on two cores;
//! `--only NAME` runs the sections whose name contains NAME, `--out DIR` writes elsewhere).
//! The Redis figure needs `redis-server` (SKIPPED without it).

mod disk;
mod figure;
mod footprint;
mod instructions;
mod memory;
mod plot;
mod probe;
mod ratio;
mod results;
mod tiers;
mod timing;

use std::path::PathBuf;
use std::time::Instant;

use figure::{Bars, Curves};

#[global_allocator]
static GLOBAL: footprint::Counting = footprint::Counting;

struct Args {
    out: PathBuf,
    only: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches"),
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => args.out = it.next().expect("--out DIR").into(),
            "--only" => args.only = Some(it.next().expect("--only NAME")),
            other => panic!("unknown argument {other} (use --out DIR, --only NAME)"),
        }
    }
    args
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("probe") {
        let mut it = std::env::args().skip(2);
        let name = it.next().expect("probe NAME OPS");
        let ops = it
            .next()
            .and_then(|o| o.parse().ok())
            .expect("probe NAME OPS");
        return probe::run(&name, ops);
    }
    let args = args();
    let started = Instant::now();
    let root = tempfile::tempdir().expect("a temp dir");
    let server = twat_cache_tests::RedisServer::start("bench report");
    // SAFETY: set before any cache reads them, while this process has one thread.
    unsafe {
        std::env::set_var("TWAT_CACHE_DIR", root.path().join("caches"));
        if let Some(server) = &server {
            std::env::set_var("TWAT_CACHE_REDIS_URL", server.url());
        }
    }
    let wanted = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let mut bars: Vec<Bars> = Vec::new();
    let mut curves: Vec<Curves> = Vec::new();
    let mut skipped = Vec::new();
    let mut section = |name: &str, run: &mut dyn FnMut(&mut Vec<Bars>, &mut Vec<Curves>)| {
        if wanted(name) {
            eprintln!("== {name}");
            let start = Instant::now();
            run(&mut bars, &mut curves);
            eprintln!("   {:.0} s", start.elapsed().as_secs_f64());
        }
    };
    section("memory", &mut |b, _| {
        b.extend(memory::hit_u64());
        b.extend(memory::hit_str());
        b.push(memory::mixed());
        b.push(memory::miss_insert());
    });
    section("footprint", &mut |b, _| {
        b.push(footprint::bytes_per_entry())
    });
    section("instructions", &mut |b, _| {
        if instructions::available() {
            b.extend(instructions::figures());
        } else {
            skipped.push("instruction counts (no valgrind on PATH)".to_string());
        }
    });
    section("hit-ratio", &mut |_, c| c.extend(ratio::curves()));
    section("disk", &mut |b, _| {
        let dir = tempfile::tempdir_in(root.path()).expect("a temp dir");
        b.push(disk::small_hits(dir.path()));
        b.extend(disk::file_hits(dir.path()));
        b.extend(disk::inserts(dir.path()));
    });
    section("tiers", &mut |b, _| {
        b.push(tiers::overhead());
        b.extend(tiers::ucache_tiers());
        match &server {
            Some(server) => b.push(tiers::redis(server)),
            None => skipped.push("Redis-tier hit (no redis-server)".to_string()),
        }
    });

    for b in &bars {
        eprintln!("{}:", b.title);
        for (name, value) in &b.rows {
            eprintln!("   {name:<50} {:>10} {}", results::number(*value), b.unit);
        }
    }
    let plots = args.out.join("plots");
    std::fs::create_dir_all(&plots).expect("the plots folder");
    for b in &bars {
        plot::bars(b, &plots).expect("a bar plot");
    }
    for c in &curves {
        plot::curves(c, &plots).expect("a curve plot");
    }
    let context = results::Context {
        machine: machine(),
        took_s: started.elapsed().as_secs_f64(),
        skipped,
    };
    let path = args.out.join("RESULTS.md");
    std::fs::write(&path, results::render(&bars, &curves, &context)).expect("writing RESULTS.md");
    eprintln!("wrote {} and {}", path.display(), plots.display());
}

/// Cores, OS and CPU model, for the record.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu}), {}", std::env::consts::OS)
}

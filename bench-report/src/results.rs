//! benches/RESULTS.md: every figure as a table with its ratio to the best peer, its plot, and
//! the goals of the comparison checked against the figures.

use std::fmt::Write as _;

use crate::figure::{Bars, Curves, Role, role_of};

/// A value with as many digits as it deserves.
pub fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The goals this report checks: figure, our row, the goal's ratio, and whether the ratio must
/// stay under it (`≤`) or over it (`≥`); the ratio is ours ÷ the row named (or the best peer).
pub struct Goal {
    pub what: &'static str,
    pub figure: &'static str,
    pub ours: &'static str,
    pub against: Option<&'static str>,
    pub at_most: Option<f64>,
    pub at_least: Option<f64>,
}

pub const GOALS: &[Goal] = &[
    Goal {
        what: "`u64` hit, 10k entries, 1 thread (`#[mcache]`)",
        figure: "hit_u64_1t",
        ours: "twat_cache #[mcache]",
        against: None,
        at_most: Some(1.0),
        at_least: None,
    },
    Goal {
        what: "`u64` hit, 10k entries, 1 thread (`MemoryCache::get`)",
        figure: "hit_u64_1t",
        ours: "twat_cache MemoryCache::get",
        against: None,
        at_most: Some(1.0),
        at_least: None,
    },
    Goal {
        what: "`&str` hit, 10k keys of 32–64 B, 1 thread (`#[mcache]`)",
        figure: "hit_str_1t",
        ours: "twat_cache #[mcache]",
        against: None,
        at_most: Some(1.0),
        at_least: None,
    },
    Goal {
        what: "`u64` hit, instructions (`MemoryCache::get`; callgrind, stable)",
        figure: "instr_hit_u64",
        ours: "twat_cache MemoryCache::get",
        against: None,
        at_most: Some(1.0),
        at_least: None,
    },
    Goal {
        what: "`u64` hit, instructions (`#[mcache]`; callgrind, stable)",
        figure: "instr_hit_u64",
        ours: "twat_cache #[mcache]",
        against: None,
        at_most: Some(1.0),
        at_least: None,
    },
    Goal {
        what: "`&str` hit, instructions (`#[mcache]`; callgrind, stable)",
        figure: "instr_hit_str",
        ours: "twat_cache #[mcache]",
        against: None,
        at_most: Some(1.0),
        at_least: None,
    },
    Goal {
        what: "2-thread pure hits, `u64` (`#[mcache]`)",
        figure: "hit_u64_2t",
        ours: "twat_cache #[mcache]",
        against: None,
        at_most: Some(1.0),
        at_least: None,
    },
    Goal {
        what: "2 threads, 90% hits / 10% inserts (throughput)",
        figure: "mixed_2t",
        ours: "twat_cache MemoryCache",
        against: None,
        at_most: None,
        at_least: Some(1.10),
    },
    Goal {
        what: "heap bytes per entry, 1M bounded `u64 → u64`",
        figure: "bytes_per_entry",
        ours: "twat_cache MemoryCache",
        against: None,
        at_most: Some(0.95),
        at_least: None,
    },
    Goal {
        what: "`#[bcache]` hot hit, 32 B, 20k entries, vs redb",
        figure: "disk_hit_small",
        ours: "twat_cache #[bcache]",
        against: Some("cached RedbCache::cache_get"),
        at_most: Some(0.50),
        at_least: None,
    },
    Goal {
        what: "`#[bcache]` hot hit, 32 B, 20k entries, vs raw sled",
        figure: "disk_hit_small",
        ours: "twat_cache #[bcache]",
        against: Some("raw sled get, 32-byte key (floor)"),
        at_most: Some(1.5),
        at_least: None,
    },
    Goal {
        what: "`#[fcache]` small hit vs `std::fs::read` (keep at the floor)",
        figure: "disk_hit_100b",
        ours: "twat_cache FileCache::get (#[fcache])",
        against: Some("std::fs::read of the same bytes (floor)"),
        at_most: Some(1.2),
        at_least: None,
    },
    Goal {
        what: "Redis-tier hit vs a bare `GET`",
        figure: "redis_hit",
        ours: "twat_cache #[ucache(backend = \"redis\")] Redis hit",
        against: None,
        at_most: Some(1.3),
        at_least: None,
    },
];

/// One goal's ratio, if its figure was measured.
fn goal_ratio(goal: &Goal, bars: &[Bars]) -> Option<(f64, String)> {
    let figure = bars.iter().find(|b| b.id == goal.figure)?;
    let ours = figure.rows.iter().find(|r| r.0 == goal.ours)?.1;
    let (name, value) = match goal.against {
        Some(name) => figure.rows.iter().find(|r| r.0 == name)?.clone(),
        None => figure.best_peer()?.clone(),
    };
    Some((ours / value, name))
}

pub struct Context {
    pub machine: String,
    pub took_s: f64,
    pub skipped: Vec<String>,
}

pub fn render(bars: &[Bars], curves: &[Curves], context: &Context) -> String {
    let mut out = String::from("# Benchmark results\n\n");
    let _ = writeln!(
        out,
        "Produced by `cargo run --release -p twat-cache-bench-report` (this file and `plots/`; \
         do not edit by hand) on {}, in {:.0} s. Every contender is measured in the same run, \
         taking turns round by round; each figure is the fastest of {} rounds (noise only adds \
         time). The machine is shared and noisy: the ratios are what count, not the absolute \
         times.\n",
        context.machine,
        context.took_s,
        crate::timing::ROUNDS
    );
    for skipped in &context.skipped {
        let _ = writeln!(out, "- SKIPPED: {skipped}");
    }
    out.push_str("\n## Goals\n\n| goal | ratio | compared with | target | met |\n|---|---:|---|---:|:---:|\n");
    for goal in GOALS {
        let target = match (goal.at_most, goal.at_least) {
            (Some(m), _) => format!("≤ {m:.2}×"),
            (_, Some(l)) => format!("≥ {l:.2}×"),
            _ => String::new(),
        };
        match goal_ratio(goal, bars) {
            Some((ratio, against)) => {
                let met = goal.at_most.is_none_or(|m| ratio <= m)
                    && goal.at_least.is_none_or(|l| ratio >= l);
                let _ = writeln!(
                    out,
                    "| {} | {ratio:.2}× | {against} | {target} | {} |",
                    goal.what,
                    if met { "✅" } else { "❌" }
                );
            }
            None => {
                let _ = writeln!(out, "| {} | not measured | | {target} | |", goal.what);
            }
        }
    }
    out.push_str(
        "\nRatios are ours ÷ the best peer (or the row named); for throughput, higher is \
         better.\n",
    );
    for figure in bars {
        let better = if figure.lower_is_better {
            "lower"
        } else {
            "higher"
        };
        let _ = writeln!(
            out,
            "\n## {}\n\n{} ({}; {better} is better.)\n\n![{}](plots/{}.svg)\n",
            figure.title, figure.how, figure.unit, figure.title, figure.id
        );
        let against = figure.best_peer().map(|p| p.0.clone()).unwrap_or_default();
        let _ = writeln!(
            out,
            "| contender | {} | ÷ {} |\n|---|---:|---:|",
            figure.unit,
            if against.is_empty() {
                "best peer"
            } else {
                &against
            }
        );
        for (name, value) in &figure.rows {
            let ratio = figure
                .ratio(*value)
                .map(|r| format!("{r:.2}×"))
                .unwrap_or_default();
            let name = if role_of(name) == Role::Ours {
                format!("**{name}**")
            } else {
                name.clone()
            };
            let _ = writeln!(out, "| {name} | {} | {ratio} |", number(*value));
        }
    }
    for figure in curves {
        let _ = writeln!(
            out,
            "\n## {}\n\n{}\n\n![{}](plots/{}.svg)\n",
            figure.title, figure.how, figure.title, figure.id
        );
        let Some((_, first)) = figure.series.first() else {
            continue;
        };
        out.push_str("| cache |");
        for (x, _) in first {
            let _ = write!(out, " {}k |", x / 1000.0);
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(first.len()));
        out.push('\n');
        for (name, points) in &figure.series {
            let _ = write!(out, "| {name} |");
            for (_, y) in points {
                let _ = write!(out, " {y:.2} |");
            }
            out.push('\n');
        }
    }
    out
}

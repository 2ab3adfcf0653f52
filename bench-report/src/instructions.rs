//! Instructions per operation, counted by callgrind over the `probe` contenders: unlike times,
//! these counts are the same from run to run on a shared, noisy machine, so they settle what
//! a timing ratio within ±10% cannot. They count user-space instructions only — not cache
//! misses, lock contention or system calls — so they stand beside the timings, not for them.

use std::process::Command;

use crate::figure::Bars;

/// Operations per probe run (the first ones warm the caches up; they are counted too).
const OPS: u64 = 100_000;

/// Instructions per operation of probe `name`, or `None` when callgrind cannot run.
fn per_op(name: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out_file = tempfile::NamedTempFile::new().ok()?;
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=*probe::hits*")
        .arg(format!(
            "--callgrind-out-file={}",
            out_file.path().display()
        ))
        .arg(exe)
        .args(["probe", name, &OPS.to_string()])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "   callgrind failed on probe {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    // `==PID== Collected : N`
    let stderr = String::from_utf8_lossy(&output.stderr);
    let collected = stderr
        .lines()
        .find_map(|l| l.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().parse::<u64>().ok())?;
    Some(collected as f64 / OPS as f64)
}

/// Whether valgrind is installed.
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn figure(id: &'static str, title: &str, how: &str, probes: &[(&str, &str)]) -> Option<Bars> {
    let rows = probes
        .iter()
        .map(|(probe, row)| Some((row.to_string(), per_op(probe)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(Bars {
        id,
        title: title.into(),
        unit: "instructions",
        lower_is_better: true,
        rows,
        how: how.into(),
    })
}

/// The hit and insert figures, counted (empty if callgrind fails).
pub fn figures() -> Vec<Bars> {
    [
        figure(
            "instr_hit_u64",
            "instructions per u64 hit (callgrind)",
            "The `u64` hit figure's workload (10k entries, a shuffled order), one thread, counted \
             by `valgrind --tool=callgrind` over `twat-cache-bench-report probe NAME 100000`.",
            &[
                ("hashmap", "HashMap::get (floor)"),
                ("mcache", "twat_cache #[mcache]"),
                ("ours", "twat_cache MemoryCache::get"),
                ("quick", "quick_cache::sync::Cache"),
            ],
        ),
        figure(
            "instr_hit_str",
            "instructions per &str hit (callgrind)",
            "The `&str` hit figure's 10k keys of 32–64 bytes, one thread, counted as above.",
            &[
                ("mcache-str", "twat_cache #[mcache]"),
                ("ours-str", "twat_cache MemoryCache::get"),
                ("quick-str", "quick_cache::sync::Cache"),
            ],
        ),
        figure(
            "instr_insert",
            "instructions per insert into a full cache (callgrind)",
            "Inserts of new `u64` keys into a full cache of 10k entries, counted as above.",
            &[
                ("ours-insert", "twat_cache MemoryCache::insert"),
                ("quick-insert", "quick_cache::sync::Cache insert"),
            ],
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

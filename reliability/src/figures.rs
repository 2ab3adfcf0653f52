//! What a suite counts, and the report made of every suite's counts.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One suite's counts on one engine, as the report shows them.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub suite: &'static str,
    pub engine: &'static str,
    /// Calls and other cache operations made.
    pub operations: u64,
    /// Storage faults injected (I/O errors, short writes, slow calls, server outages).
    pub faults: u64,
    /// Processes killed with SIGKILL mid-work, each followed by a verification.
    pub crashes: u64,
    /// Random or mutated stored entries read through the cache.
    pub hostile: u64,
    /// Values returned that were not what the function computes (must be 0).
    pub wrong: u64,
    /// Entries lost beyond the documented durability window (must be 0).
    pub lost: u64,
    /// Errors the caches counted (they must count faults, not hide them).
    pub errors_counted: u64,
    pub elapsed: Duration,
    /// What else the suite checked, in a few words.
    pub notes: String,
    /// Guarantees other than values and data that did not hold (memory bounds, recovery, …).
    pub failures: Vec<String>,
}

impl Figures {
    pub fn new(suite: &'static str, engine: &'static str) -> Self {
        Self {
            suite,
            engine,
            ..Self::default()
        }
    }

    /// Whether the suite met every guarantee.
    pub fn passed(&self) -> bool {
        self.wrong == 0 && self.lost == 0 && self.failures.is_empty()
    }

    /// Records a guarantee that did not hold.
    pub fn fail(&mut self, why: String) {
        eprintln!("FAILED ({} / {}): {why}", self.suite, self.engine);
        self.failures.push(why);
    }
}

/// Counts shared by a suite's threads.
#[derive(Default)]
pub struct Tally {
    pub operations: AtomicU64,
    pub faults: AtomicU64,
    pub wrong: AtomicU64,
}

impl Tally {
    pub fn op(&self) {
        self.operations.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one value returned by the cache against the true one.
    pub fn check<T: PartialEq + std::fmt::Debug>(&self, got: &T, truth: &T, what: &str) {
        self.op();
        if got != truth {
            self.wrong.fetch_add(1, Ordering::Relaxed);
            eprintln!("WRONG VALUE ({what}): got {got:?}, expected {truth:?}");
        }
    }

    pub fn into_figures(self, mut figures: Figures) -> Figures {
        figures.operations += self.operations.into_inner();
        figures.faults += self.faults.into_inner();
        figures.wrong += self.wrong.into_inner();
        figures
    }
}

/// Thousands separators, for the tables.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The figures as a Markdown table, with a totals row.
pub fn table(all: &[Figures]) -> String {
    let mut out = String::from(
        "| suite | engine | operations | faults injected | crashes survived | hostile inputs | wrong values | lost beyond window | errors counted | time |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut total = Figures::new("**total**", "");
    for f in all {
        row(&mut out, f);
        total.operations += f.operations;
        total.faults += f.faults;
        total.crashes += f.crashes;
        total.hostile += f.hostile;
        total.wrong += f.wrong;
        total.lost += f.lost;
        total.errors_counted += f.errors_counted;
        total.elapsed += f.elapsed;
    }
    row(&mut out, &total);
    out
}

fn row(out: &mut String, f: &Figures) {
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s |",
        f.suite,
        f.engine,
        count(f.operations),
        count(f.faults),
        count(f.crashes),
        count(f.hostile),
        f.wrong,
        f.lost,
        count(f.errors_counted),
        f.elapsed.as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }
}

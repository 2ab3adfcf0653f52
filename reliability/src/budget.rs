//! Time budgets: each suite must finish within its budget (times the scale), so that the whole
//! run fits CI's 15 minutes on two cores (the budgets add up to 14). A suite over its budget
//! fails the run — a slowdown is a finding too — and a suite still running at twice its budget
//! (hung: a deadlock, a wait that never ends) is stopped by a watchdog that exits the process.

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Each suite's budget at scale 1, as measured on a busy 2-core machine in a debug build
/// (`.ci/run`'s), about twice what it took.
pub const BUDGETS: [(&str, Duration); 5] = [
    ("hostile", Duration::from_secs(60)),
    ("crash", Duration::from_secs(360)),
    ("faults", Duration::from_secs(60)),
    ("stress", Duration::from_secs(240)),
    ("model", Duration::from_secs(120)),
];

/// The budget of `suite` at `scale`.
pub fn of(suite: &str, scale: u64) -> Duration {
    let (_, base) = BUDGETS
        .iter()
        .find(|(name, _)| *name == suite)
        .expect("every suite has a budget");
    *base * u32::try_from(scale).unwrap_or(u32::MAX)
}

/// Watches one suite: dropped when the suite is done; if that has not happened by twice the
/// budget, prints why and exits with status 1.
pub struct Watchdog {
    done: Option<mpsc::Sender<()>>,
    started: Instant,
}

impl Watchdog {
    pub fn start(suite: &str, budget: Duration) -> Self {
        let (done, finished) = mpsc::channel::<()>();
        let suite = suite.to_string();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(budget * 2) {
                eprintln!(
                    "RELIABILITY SUITE FAILED: {suite} still running after {} s (budget {} s): hung",
                    (budget * 2).as_secs(),
                    budget.as_secs()
                );
                std::process::exit(1);
            }
        });
        Self {
            done: Some(done),
            started: Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budgets_fit_fifteen_minutes() {
        let total: Duration = BUDGETS.iter().map(|(_, b)| *b).sum();
        assert!(total <= Duration::from_secs(14 * 60), "{total:?}");
        assert_eq!(of("crash", 3), Duration::from_secs(1080));
    }
}

//! Time as the engines see it: nanoseconds on a monotonic clock that tests can move.
//!
//! TTLs are checked against [`Clock::now_nanos`]. The system clock is monotonic (immune to
//! wall-clock jumps) and, on Linux, `CLOCK_BOOTTIME`, which keeps counting while the machine is
//! suspended — `Instant` (`CLOCK_MONOTONIC`) stops, so an entry would outlive its TTL by the
//! length of every suspend. A process-wide offset that [`Clock::advance_system`] moves forward
//! lets a test expire entries of attribute-generated caches without sleeping. A
//! [`Clock::manual`] clock is private to the caches built with it and starts at zero.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Offset added to the system clock, moved only by [`Clock::advance_system`].
static SYSTEM_OFFSET_NANOS: AtomicU64 = AtomicU64::new(0);

/// The OS clock the system [`Clock`] reads, for tests and diagnostics.
///
/// ```
/// # #[cfg(target_os = "linux")]
/// assert_eq!(twat_cache::Clock::SYSTEM_SOURCE, "CLOCK_BOOTTIME");
/// ```
#[cfg(target_os = "linux")]
const SOURCE: &str = "CLOCK_BOOTTIME";
#[cfg(not(target_os = "linux"))]
const SOURCE: &str = "Instant";

/// The clock id [`monotonic_nanos`] reads on Linux.
#[cfg(target_os = "linux")]
const CLOCK_ID: libc::clockid_t = libc::CLOCK_BOOTTIME;

/// Nanoseconds on the monotonic clock that counts suspend (Linux), since an arbitrary origin.
#[cfg(target_os = "linux")]
fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on every Linux since
    // 2.6.39, and clock_gettime cannot fail for a valid clock id and pointer.
    unsafe { libc::clock_gettime(CLOCK_ID, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn monotonic_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// A source of monotonic time for TTL checks.
///
/// ```
/// use std::time::Duration;
/// use twat_cache::Clock;
///
/// let clock = Clock::manual();
/// let t0 = clock.now_nanos();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now_nanos() - t0, 5_000_000_000);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// Which OS clock [`Clock::system`] reads: `"CLOCK_BOOTTIME"` on Linux, else `"Instant"`.
    pub const SYSTEM_SOURCE: &'static str = SOURCE;

    /// The process's monotonic clock (plus the offset moved by [`Clock::advance_system`]).
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that starts at 1ns and moves only when [`Clock::advance`] is called.
    pub fn manual() -> Self {
        Self {
            manual: Some(Arc::new(AtomicU64::new(1))),
        }
    }

    /// Nanoseconds since an arbitrary fixed origin; never decreases.
    #[inline]
    pub fn now_nanos(&self) -> u64 {
        match &self.manual {
            Some(t) => t.load(Ordering::Acquire),
            None => {
                let real = monotonic_nanos();
                // +1 so that "now" is never 0, which entries use to mean "never expires".
                real + SYSTEM_OFFSET_NANOS.load(Ordering::Acquire) + 1
            }
        }
    }

    /// Wall-clock nanoseconds since the Unix epoch (plus the offset moved by
    /// [`Clock::advance_system`]); a manual clock returns its own time. Disk entries store these,
    /// because they outlive the process and its monotonic clock.
    ///
    /// ```
    /// use twat_cache::Clock;
    ///
    /// let year_2020 = 1_577_836_800_000_000_000;
    /// assert!(Clock::system().unix_nanos() > year_2020);
    /// ```
    pub fn unix_nanos(&self) -> u64 {
        match &self.manual {
            Some(t) => t.load(Ordering::Acquire),
            None => {
                let since_epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, duration_nanos);
                since_epoch.saturating_add(SYSTEM_OFFSET_NANOS.load(Ordering::Acquire))
            }
        }
    }

    /// Moves a manual clock forward. On a system clock this moves the whole process's time,
    /// exactly like [`Clock::advance_system`].
    pub fn advance(&self, by: Duration) {
        match &self.manual {
            Some(t) => {
                t.fetch_add(duration_nanos(by), Ordering::AcqRel);
            }
            None => Self::advance_system(by),
        }
    }

    /// Moves the system clock of this process forward by `by`: every cache on the system clock
    /// (all attribute-generated caches) sees the time jump. Meant for tests of TTL behaviour.
    ///
    /// ```
    /// use std::time::Duration;
    /// use twat_cache::Clock;
    ///
    /// let before = Clock::system().now_nanos();
    /// Clock::advance_system(Duration::from_secs(3600));
    /// assert!(Clock::system().now_nanos() - before >= 3_600_000_000_000);
    /// ```
    pub fn advance_system(by: Duration) {
        SYSTEM_OFFSET_NANOS.fetch_add(duration_nanos(by), Ordering::AcqRel);
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (≈ 584 years).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The system clock is the one that counts suspend: its readings fall between two direct
    /// `CLOCK_BOOTTIME` readings (which differ from `CLOCK_MONOTONIC` by the time suspended).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_system_clock_reads_clock_boottime() {
        assert_eq!(Clock::SYSTEM_SOURCE, "CLOCK_BOOTTIME");
        assert_eq!(
            CLOCK_ID,
            libc::CLOCK_BOOTTIME,
            "not CLOCK_MONOTONIC, which stops in suspend"
        );
        let read = |id| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid clock id and a writable timespec.
            unsafe { libc::clock_gettime(id, &mut ts) };
            ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
        };
        let offset = SYSTEM_OFFSET_NANOS.load(Ordering::Acquire) + 1;
        let before = read(libc::CLOCK_BOOTTIME);
        let ours = Clock::system().now_nanos() - offset;
        let after = read(libc::CLOCK_BOOTTIME);
        assert!(
            before <= ours && ours <= after,
            "{before} <= {ours} <= {after}"
        );
    }
}

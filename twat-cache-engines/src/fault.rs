//! A seam in the storage calls that tests use to make them fail as a real disk or server would:
//! `ENOSPC`, `EIO`, `EACCES`, `EMFILE`, … (which permissions cannot produce when tests run as
//! root), short writes, slow calls, a Redis that stops answering — at a chosen call or at random.
//! Compiled only with the `fault-injection` feature; without it the call sites compile to
//! nothing.
//!
//! ```
//! use std::time::Duration;
//! use twat_cache::fault::{self, Fault, Op};
//!
//! let dir = tempfile::tempdir().unwrap();
//! const ENOSPC: i32 = 28;
//! fault::inject(Op::Write, dir.path(), ENOSPC, 1);
//! assert!(fault::check(Op::Write, &dir.path().join("x")).is_err());
//! assert!(fault::check(Op::Write, &dir.path().join("x")).is_ok(), "one failure was armed");
//! // Every read under `dir` fails with probability ½, reproducibly from the seed.
//! fault::inject_random(Op::Read, dir.path(), Fault::Error(5), 0.5, 42);
//! let failed = (0..1000).filter(|_| fault::check(Op::Read, &dir.path().join("x")).is_err());
//! assert!((400..600).contains(&failed.count()));
//! fault::clear();
//! assert!(fault::fired() >= 401);
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A storage call that can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Writing an entry (a temporary file, or a sled insert).
    Write,
    /// Publishing a written entry (the rename of its temporary file).
    Rename,
    /// Reading an entry (opening its file, or a sled get).
    Read,
    /// Removing an entry.
    Remove,
    /// Opening a sled database.
    Open,
    /// A Redis command (the path is the cache's folder, `redis://host:port/prefix`).
    Redis,
}

/// What an armed call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fails with this OS error number.
    Error(i32),
    /// A write stores only half of its bytes, then fails with this error number (other calls:
    /// fail with it).
    ShortWrite(i32),
    /// Succeeds after this long (slow I/O, a stalled server).
    Delay(Duration),
}

struct Armed {
    op: Op,
    under: PathBuf,
    fault: Fault,
    /// Calls left to fail (`u32::MAX`: until cleared).
    remaining: u32,
    /// With a probability, each call fails with it (a SplitMix64 draw from `state`).
    random: Option<(f64, u64)>,
}

static ANY: AtomicBool = AtomicBool::new(false);
static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());
static FIRED: AtomicU64 = AtomicU64::new(0);

fn arm(armed: Armed) {
    ARMED.lock().unwrap_or_else(|e| e.into_inner()).push(armed);
    ANY.store(true, Ordering::Release);
}

/// Makes the next `times` calls of `op` on paths under `under` fail with `errno`
/// (`u32::MAX`: until [`clear`]).
pub fn inject(op: Op, under: &Path, errno: i32, times: u32) {
    inject_fault(op, under, Fault::Error(errno), times);
}

/// Makes the next `times` calls of `op` on paths under `under` do `fault`.
pub fn inject_fault(op: Op, under: &Path, fault: Fault, times: u32) {
    arm(Armed {
        op,
        under: under.to_path_buf(),
        fault,
        remaining: times,
        random: None,
    });
}

/// Makes each call of `op` under `under` do `fault` with `probability`, until [`clear`]; the
/// draws follow from `seed`.
pub fn inject_random(op: Op, under: &Path, fault: Fault, probability: f64, seed: u64) {
    arm(Armed {
        op,
        under: under.to_path_buf(),
        fault,
        remaining: u32::MAX,
        random: Some((probability, seed)),
    });
}

/// Disarms every injected fault.
pub fn clear() {
    ARMED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    ANY.store(false, Ordering::Release);
}

/// How many faults have fired in this process.
pub fn fired() -> u64 {
    FIRED.load(Ordering::Relaxed)
}

/// `path` as the directories a test names: stores reach their files through the directory they
/// hold open (`/proc/self/fd/<n>/…`, see `disk/anchor.rs`), which is matched as its real path.
fn named(path: &Path) -> std::borrow::Cow<'_, Path> {
    let fds = Path::new("/proc/self/fd");
    let Ok(rest) = path.strip_prefix(fds) else {
        return path.into();
    };
    let mut components = rest.components();
    let Some(fd) = components.next() else {
        return path.into();
    };
    match std::fs::read_link(fds.join(fd)) {
        Ok(real) => real.join(components.as_path()).into(),
        Err(_) => path.into(),
    }
}

/// The fault armed for this call of `op` on `path`, if any (consuming one of its calls).
fn take(op: Op, path: &Path) -> Option<Fault> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    let path = named(path);
    let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
    let fault = armed
        .iter_mut()
        .filter(|a| a.op == op && a.remaining > 0 && path.starts_with(&a.under))
        .find_map(|a| {
            if let Some((probability, state)) = &mut a.random {
                *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                if unit(*state) >= *probability {
                    return None;
                }
            } else if a.remaining != u32::MAX {
                a.remaining -= 1;
            }
            Some(a.fault)
        })?;
    drop(armed);
    FIRED.fetch_add(1, Ordering::Relaxed);
    Some(fault)
}

fn unit(state: u64) -> f64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The injected error for `op` on `path`, if one is armed (a delay sleeps, then succeeds).
pub fn check(op: Op, path: &Path) -> std::io::Result<()> {
    match take(op, path) {
        None => Ok(()),
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            Ok(())
        }
        Some(Fault::Error(errno) | Fault::ShortWrite(errno)) => {
            Err(std::io::Error::from_raw_os_error(errno))
        }
    }
}

/// For a write of `len` bytes under `path`: `Ok(None)` to write them all, `Ok(Some(n))` to
/// write only the first `n` and then fail with the error returned by [`check`]… which this
/// returns as `Err` for a plain failure.
pub fn check_write(path: &Path, len: usize) -> std::io::Result<Option<(usize, i32)>> {
    match take(Op::Write, path) {
        None => Ok(None),
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            Ok(None)
        }
        Some(Fault::Error(errno)) => Err(std::io::Error::from_raw_os_error(errno)),
        Some(Fault::ShortWrite(errno)) => Ok(Some((len / 2, errno))),
    }
}

//! A seam in the storage calls that tests use to make them fail as a real disk would: `ENOSPC`,
//! `EIO`, `EROFS`, … (which permissions cannot produce when tests run as root). Compiled only
//! with the `fault-injection` feature; without it the call sites compile to nothing.
//!
//! ```
//! use twat_cache::fault::{self, Op};
//!
//! let dir = tempfile::tempdir().unwrap();
//! const ENOSPC: i32 = 28;
//! fault::inject(Op::Write, dir.path(), ENOSPC, 1);
//! assert!(fault::check(Op::Write, &dir.path().join("x")).is_err());
//! assert!(fault::check(Op::Write, &dir.path().join("x")).is_ok(), "one failure was armed");
//! fault::clear();
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// A storage call that can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Writing an entry (a temporary file, or a sled insert).
    Write,
    /// Removing an entry.
    Remove,
    /// Opening a sled database.
    Open,
}

struct Armed {
    op: Op,
    under: PathBuf,
    errno: i32,
    remaining: u32,
}

static ANY: AtomicBool = AtomicBool::new(false);
static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());

/// Makes the next `times` calls of `op` on paths under `under` fail with `errno`
/// (`u32::MAX`: until [`clear`]).
pub fn inject(op: Op, under: &Path, errno: i32, times: u32) {
    ARMED.lock().unwrap_or_else(|e| e.into_inner()).push(Armed {
        op,
        under: under.to_path_buf(),
        errno,
        remaining: times,
    });
    ANY.store(true, Ordering::Release);
}

/// Disarms every injected fault.
pub fn clear() {
    ARMED.lock().unwrap_or_else(|e| e.into_inner()).clear();
    ANY.store(false, Ordering::Release);
}

/// The injected error for `op` on `path`, if one is armed.
pub fn check(op: Op, path: &Path) -> std::io::Result<()> {
    if !ANY.load(Ordering::Acquire) {
        return Ok(());
    }
    let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(fault) = armed
        .iter_mut()
        .find(|a| a.op == op && a.remaining > 0 && path.starts_with(&a.under))
    else {
        return Ok(());
    };
    if fault.remaining != u32::MAX {
        fault.remaining -= 1;
    }
    Err(std::io::Error::from_raw_os_error(fault.errno))
}

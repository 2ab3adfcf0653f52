//! Whether the storage is in use, and getting it back: a disk cache whose storage cannot be
//! opened (or stopped working) caches in its fallback (memory, or local files for Redis; see
//! `fallback.rs`) and tries the storage again with backoff — 1 s after the failure, doubling
//! up to a minute.
//!
//! While the storage is away, removals and clears cannot reach it, and a value written to
//! the fallback instead would be shadowed by the older one still stored. So the cache records what
//! the storage missed — the ids removed or rewritten, or that everything was cleared — and
//! applies it before the storage is read again; if that fails, the storage stays away. The
//! record is bounded: past [`MAX_MISSED`] ids it becomes "everything was cleared".

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::core::DiskCore;
use crate::clock::duration_nanos;
use crate::disk::backend::{Backend, EntryId};
use crate::disk::error::StoreError;

/// First retry delay; each failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Most ids recorded while the storage is away before a clear is recorded instead.
pub(super) const MAX_MISSED: usize = 100_000;

/// What the storage missed while it was away, and when to try it again.
#[derive(Default)]
pub(super) struct Attach {
    /// Everything of this namespace must be removed before the storage is used again.
    cleared: bool,
    /// These entries must be removed before the storage is used again.
    removed: HashSet<EntryId>,
    /// When (the cache clock's `now_nanos`) to try the storage again.
    next_attempt: u64,
    /// Failed attempts in a row.
    failures: u32,
}

/// A change the storage could not see.
pub(super) enum Missed {
    /// One entry was removed or written elsewhere.
    Entry(EntryId),
    /// Every entry was removed.
    All,
    /// Nothing (a read failed).
    Nothing,
}

impl Attach {
    fn record(&mut self, missed: Missed) {
        match missed {
            Missed::All => {
                self.cleared = true;
                self.removed.clear();
            }
            Missed::Nothing => {}
            Missed::Entry(_) if self.cleared => {}
            Missed::Entry(id) => {
                if self.removed.len() >= MAX_MISSED {
                    self.cleared = true;
                    self.removed.clear();
                } else {
                    self.removed.insert(id);
                }
            }
        }
    }

    fn backoff(&self) -> u64 {
        let delay = FIRST_BACKOFF
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF);
        duration_nanos(delay)
    }
}

impl<S: Backend> DiskCore<S> {
    /// The storage, unless it is away (never opened, or given up after a fault); then, once
    /// the backoff has passed, one caller tries to get it back.
    #[inline]
    pub(super) fn store(&self) -> Option<&S> {
        if self.online.load(Ordering::Acquire) {
            self.store.get()
        } else {
            self.reattach()
        }
    }

    /// [`DiskCore::store`], or, when the storage is away, records that it missed `missed`
    /// (atomically with respect to a reattach, so nothing recorded is ever lost).
    pub(super) fn store_or_record(&self, missed: Missed) -> Option<&S> {
        if let Some(store) = self.store() {
            return Some(store);
        }
        let mut attach = self.attach.lock();
        if self.online.load(Ordering::Acquire) {
            return self.store.get();
        }
        attach.record(missed);
        None
    }

    /// Stops using the storage until a retry succeeds; `missed` is applied first.
    pub(super) fn go_offline(&self, doing: &str, why: &StoreError, missed: Missed) {
        self.fault(doing, why);
        let mut attach = self.attach.lock();
        self.online.store(false, Ordering::Release);
        attach.record(missed);
        attach.next_attempt = self.clock.now_nanos().saturating_add(attach.backoff());
    }

    #[cold]
    #[inline(never)]
    pub(super) fn reattach(&self) -> Option<&S> {
        // One caller tries; the others carry on from memory meanwhile.
        let mut attach = self.attach.try_lock()?;
        if self.online.load(Ordering::Acquire) {
            return self.store.get();
        }
        let now = self.clock.now_nanos();
        if now < attach.next_attempt {
            return None;
        }
        match self.attach_store(&attach) {
            Ok(store) => {
                let first = attach.failures == 0 && !self.warned.load(Ordering::Relaxed);
                *attach = Attach::default();
                self.empty_fallback();
                self.online.store(true, Ordering::Release);
                if !first {
                    tracing::info!(location = %self.folder.display(),
                        "twat-cache: the cache storage works again; using it");
                    self.warned.store(false, Ordering::Relaxed); // warn again on a new outage
                }
                Some(store)
            }
            Err(why) => {
                self.fault("opening the cache storage", &why);
                attach.next_attempt = now.saturating_add(attach.backoff());
                attach.failures = attach.failures.saturating_add(1);
                None
            }
        }
    }

    /// Empties the fallback as the storage comes into use: the storage is the truth again,
    /// and what the fallback holds may have been changed there meanwhile (by other processes
    /// or machines). A local file fallback left by processes that died during an outage is
    /// emptied on the first attach too (and so opened; otherwise it is opened on first need).
    fn empty_fallback(&self) {
        let left_over = || {
            self.fallback_files
                .lock()
                .as_ref()
                .is_some_and(|files| files.dir.exists())
        };
        if self.fallback.get().is_some() || left_over() {
            self.fallback().clear();
        }
    }

    /// Opens the storage if it never was, applies what it missed, and recounts its entries.
    /// Runs under the `attach` lock with the storage still away: whatever it calls must use
    /// `store`, never [`DiskCore::store`] (which would find the storage away).
    fn attach_store(&self, attach: &Attach) -> Result<&S, StoreError> {
        let store = match self.store.get() {
            Some(store) => store,
            None => {
                let opened = (self.opener)()?;
                self.store.get_or_init(|| opened)
            }
        };
        if attach.cleared {
            self.clear_entries(store)?;
        }
        for id in &attach.removed {
            store.remove(id)?;
        }
        if S::PRUNES {
            // Shared stores are pruned on open: counts what is there (reading headers only)
            // and removes what killed writers, expiry and edits left behind.
            self.prune_with(store);
        } else {
            self.scan_with(store)?;
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_of_missed_changes_is_bounded() {
        let mut attach = Attach::default();
        for i in 0..=MAX_MISSED {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            attach.record(Missed::Entry(id));
        }
        assert!(attach.cleared, "too many ids become one clear");
        assert!(attach.removed.is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let mut attach = Attach::default();
        let mut delays = Vec::new();
        for failures in [0, 1, 2, 6, 30] {
            attach.failures = failures;
            delays.push(attach.backoff() / 1_000_000_000);
        }
        assert_eq!(delays, [1, 2, 4, 60, 60]);
    }
}

//! The sled-backed disk engine behind `#[bcache]`.
//!
//! `record.rs` is the entry format (checked on every read), `sled_db.rs` the process-wide set of
//! open databases (privacy, corruption recovery, exit flush), `sled_cache.rs` the cache.

mod record;
mod sled_cache;
mod sled_db;

pub use sled_cache::{DiskEntry, DiskVacant, SledCache, SledCacheBuilder};
pub use sled_db::{FLUSH_EVERY_MS, OpenError};

//! Options every engine builder shares, and their setters (written once, by a macro).

use std::time::Duration;

use crate::{Clock, Policy};

/// Bounds, expiry, policy, clock and single-flight: what `maxsize`, `max_bytes`, `ttl`,
/// `refresh`, `policy` and `single_flight` mean for every engine.
#[derive(Clone, Debug)]
pub(crate) struct CommonOptions {
    pub maxsize: Option<usize>,
    pub max_bytes: Option<u64>,
    pub ttl: Option<Duration>,
    pub refresh: bool,
    pub policy: Policy,
    pub clock: Clock,
    pub single_flight: bool,
}

impl Default for CommonOptions {
    fn default() -> Self {
        Self {
            maxsize: None,
            max_bytes: None,
            ttl: None,
            refresh: false,
            policy: Policy::default(),
            clock: Clock::system(),
            single_flight: true,
        }
    }
}

/// The shared setters, for a builder with a `common: CommonOptions` field.
macro_rules! common_setters {
    () => {
        /// Most entries held; `len() <= maxsize` after every call.
        pub fn maxsize(mut self, entries: usize) -> Self {
            self.common.maxsize = Some(entries);
            self
        }

        /// Most bytes held: estimated in memory (see the weigher), stored bytes on disk.
        pub fn max_bytes(mut self, bytes: u64) -> Self {
            self.common.max_bytes = Some(bytes);
            self
        }

        /// Entry lifetime from insertion; expired entries are never returned.
        pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
            self.common.ttl = Some(ttl);
            self
        }

        /// Whether a hit restarts the entry's TTL (sliding expiry).
        pub fn refresh(mut self, refresh: bool) -> Self {
            self.common.refresh = refresh;
            self
        }

        /// The eviction policy (default [`Policy::TinyLfu`](crate::Policy::TinyLfu)).
        pub fn policy(mut self, policy: crate::Policy) -> Self {
            self.common.policy = policy;
            self
        }

        /// The clock TTLs are measured on (default [`Clock::system`](crate::Clock::system)).
        pub fn clock(mut self, clock: crate::Clock) -> Self {
            self.common.clock = clock;
            self
        }

        /// Whether concurrent misses of one key through `entry` wait for a single computation
        /// (default `true`).
        pub fn single_flight(mut self, on: bool) -> Self {
            self.common.single_flight = on;
            self
        }
    };
}
pub(crate) use common_setters;

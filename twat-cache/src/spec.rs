//! [`HandleSpec`]: what an attribute tells the runtime about its function — identity, where its
//! entries live, and the options it was given, as a list the runtime applies to the engine
//! builders.
//!
//! An option reaches an engine through three places: its declaration in the macro crate
//! (`twat-cache-macros/src/attr.rs`, `DECLARED`: name, attributes, value, example, and the
//! [`SpecOption`] it becomes), its [`SpecOption`] variant here with the arm of
//! [`SpecOption::apply`] that hands it to a builder, and the builder's setter.

use std::time::Duration;

use twat_cache_engines::{BuilderOptions, DEFAULT_MAX_ENTRY_BYTES, Policy};

use crate::registry::CacheKind;
use crate::tiers::Tier;

/// Compile-time description of one cached function, written by the attribute macros.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct HandleSpec {
    pub kind: CacheKind,
    /// `module_path!()` of the function.
    pub module: &'static str,
    /// The function's name.
    pub function: &'static str,
    /// `name = "…"`, if given.
    pub name: Option<&'static str>,
    /// Sub-folder of the cache root (disk caches).
    pub folder: &'static str,
    /// `version = "…"`, or a fingerprint of the function's signature and body (disk caches).
    pub namespace: &'static str,
    /// The engine options given, in the order written.
    pub options: &'static [SpecOption],
}

/// One engine option as the attribute was given it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecOption {
    Maxsize(u64),
    MaxBytes(u64),
    DiskMaxBytes(u64),
    TtlNanos(u64),
    Refresh(bool),
    Policy(Policy),
    SingleFlight(bool),
    EarlyRefresh(bool),
    Compress(bool),
    MaxEntryBytes(u64),
    /// `#[ucache(backend = "redis")]`: the second tier is Redis.
    RedisTier,
}

/// `#[ucache]`'s memory tier bound when none is given.
const UCACHE_MAXSIZE: usize = 10_000;
/// `#[ucache]`'s disk tier bound when none is given (diskcache's default too).
const UCACHE_DISK_MAX_BYTES: u64 = 1 << 30;

impl SpecOption {
    /// Hands this option to the builder of `tier` of a `kind` cache: `#[ucache]`'s `maxsize`
    /// and `max_bytes` bound its memory tier, `disk_max_bytes` its disk tier.
    fn apply<B: BuilderOptions>(self, kind: CacheKind, tier: Tier, builder: B) -> B {
        let tiered_disk = kind == CacheKind::Ucache && tier == Tier::Disk;
        match self {
            SpecOption::Maxsize(_) | SpecOption::MaxBytes(_) if tiered_disk => builder,
            SpecOption::Maxsize(n) => {
                builder.with_maxsize(usize::try_from(n).unwrap_or(usize::MAX))
            }
            SpecOption::MaxBytes(n) => builder.with_max_bytes(n),
            SpecOption::DiskMaxBytes(n) if tiered_disk => builder.with_max_bytes(n),
            SpecOption::DiskMaxBytes(_) => builder,
            SpecOption::TtlNanos(n) => builder.with_ttl(Duration::from_nanos(n)),
            SpecOption::Refresh(on) => builder.with_refresh(on),
            SpecOption::Policy(policy) => builder.with_policy(policy),
            SpecOption::SingleFlight(on) => builder.with_single_flight(on),
            SpecOption::EarlyRefresh(on) => builder.with_early_refresh(on),
            SpecOption::Compress(on) => builder.with_compress(on),
            SpecOption::MaxEntryBytes(n) => builder.with_max_entry_bytes(n),
            // Chooses the store (see `CacheHandle`), not a builder setting.
            SpecOption::RedisTier => builder,
        }
    }
}

impl HandleSpec {
    /// `builder` with the defaults of `tier` of this kind of cache and every option given.
    pub(crate) fn configure<B: BuilderOptions>(&self, tier: Tier, builder: B) -> B {
        let builder = match (self.kind, tier) {
            (CacheKind::Ucache, Tier::Memory) => builder.with_maxsize(UCACHE_MAXSIZE),
            // A default byte bound is not a wish for 1 GiB entries: the per-entry bound stays
            // the default unless `disk_max_bytes` (or `max_entry_bytes`) is given.
            (CacheKind::Ucache, Tier::Disk) if !self.gives_disk_max_bytes() => builder
                .with_max_bytes(UCACHE_DISK_MAX_BYTES)
                .with_max_entry_bytes(DEFAULT_MAX_ENTRY_BYTES),
            (CacheKind::Ucache, Tier::Disk) => builder.with_max_bytes(UCACHE_DISK_MAX_BYTES),
            _ => builder,
        };
        self.options
            .iter()
            .fold(builder, |b, option| option.apply(self.kind, tier, b))
    }

    fn gives_disk_max_bytes(&self) -> bool {
        self.options
            .iter()
            .any(|option| matches!(option, SpecOption::DiskMaxBytes(_)))
    }

    /// Whether `#[ucache]`'s second tier is Redis (`backend = "redis"`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn redis_tier(&self) -> bool {
        self.options.contains(&SpecOption::RedisTier)
    }

    /// The entry lifetime, if any.
    pub(crate) fn ttl(&self) -> Option<Duration> {
        self.options.iter().find_map(|option| match option {
            SpecOption::TtlNanos(n) => Some(Duration::from_nanos(*n)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucache_bounds_split_between_tiers() {
        use SpecOption::*;
        let spec = HandleSpec {
            kind: CacheKind::Ucache,
            module: "m",
            function: "f",
            name: None,
            folder: "",
            namespace: "",
            options: &[
                Maxsize(5),
                MaxBytes(100),
                DiskMaxBytes(1000),
                TtlNanos(7),
                EarlyRefresh(true),
            ],
        };
        let set = |tier| spec.configure(tier, Probe::default()).0;
        assert_eq!(
            set(Tier::Memory),
            [
                "maxsize 10000",
                "maxsize 5",
                "max_bytes 100",
                "ttl 7ns",
                "early_refresh true"
            ]
        );
        assert_eq!(
            set(Tier::Disk),
            [
                "max_bytes 1073741824",
                "max_bytes 1000",
                "ttl 7ns",
                "early_refresh true"
            ]
        );
        assert_eq!(spec.ttl(), Some(Duration::from_nanos(7)));
    }

    #[test]
    fn the_ucache_disk_tier_keeps_the_default_entry_bound_under_its_default_byte_bound() {
        use SpecOption::*;
        let spec = |options: &'static [SpecOption]| HandleSpec {
            kind: CacheKind::Ucache,
            module: "m",
            function: "f",
            name: None,
            folder: "",
            namespace: "",
            options,
        };
        let disk = |options| spec(options).configure(Tier::Disk, Probe::default()).0;
        assert_eq!(
            disk(&[]),
            ["max_bytes 1073741824", "max_entry_bytes 268435456"]
        );
        assert_eq!(
            disk(&[DiskMaxBytes(1000)]),
            ["max_bytes 1073741824", "max_bytes 1000"]
        );
        assert_eq!(
            disk(&[MaxEntryBytes(5000)]),
            [
                "max_bytes 1073741824",
                "max_entry_bytes 268435456",
                "max_entry_bytes 5000"
            ]
        );
    }

    /// A builder that records what was set.
    #[derive(Clone, Default, PartialEq, Debug)]
    struct Probe(Vec<String>);

    impl BuilderOptions for Probe {
        fn with_maxsize(mut self, entries: usize) -> Self {
            self.0.push(format!("maxsize {entries}"));
            self
        }
        fn with_max_bytes(mut self, bytes: u64) -> Self {
            self.0.push(format!("max_bytes {bytes}"));
            self
        }
        fn with_ttl(mut self, ttl: Duration) -> Self {
            self.0.push(format!("ttl {ttl:?}"));
            self
        }
        fn with_refresh(mut self, refresh: bool) -> Self {
            self.0.push(format!("refresh {refresh}"));
            self
        }
        fn with_policy(mut self, policy: Policy) -> Self {
            self.0.push(format!("policy {policy}"));
            self
        }
        fn with_single_flight(mut self, on: bool) -> Self {
            self.0.push(format!("single_flight {on}"));
            self
        }
        fn with_early_refresh(mut self, on: bool) -> Self {
            self.0.push(format!("early_refresh {on}"));
            self
        }
        fn with_compress(mut self, compress: bool) -> Self {
            self.0.push(format!("compress {compress}"));
            self
        }
        fn with_max_entry_bytes(mut self, bytes: u64) -> Self {
            self.0.push(format!("max_entry_bytes {bytes}"));
            self
        }
    }
}

//! The layout fingerprint of a stored value type: a hash of its serde data model, so an entry
//! written by a type whose layout has since changed (fields swapped, a variant inserted, a
//! field's type changed) reads as a miss instead of decoding into a wrong value — postcard is
//! not self-describing and would decode it happily.
//!
//! The model is traced once per cache with `serde-reflection`, which drives the type's
//! `Deserialize` impl through a recording deserializer: struct and field names and order,
//! variant names and order, and every field's type, recursively. Types that cannot be traced
//! (a `Deserialize` that validates its input, or one that needs a self-describing format) fall
//! back to their type name, which still catches a changed return type, though not a reordered
//! struct of the same name.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::de::DeserializeOwned;
use serde_reflection::{Samples, Tracer, TracerConfig};

/// Most tracing passes spent on a type whose nested enums need one pass per variant.
const MAX_PASSES: usize = 1 << 10;

/// A stable 64-bit tag of some bytes.
pub(crate) fn tag(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(
        blake3::hash(bytes).as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

/// The layout fingerprint of `V` (see the module docs).
pub(crate) fn fingerprint<V: DeserializeOwned>() -> u64 {
    match catch_unwind(AssertUnwindSafe(traced::<V>)) {
        Ok(Some(model)) => tag(model.as_bytes()),
        _ => tag(format!("type name:{}", std::any::type_name::<V>()).as_bytes()),
    }
}

/// `V`'s data model as text, or `None` if it cannot be traced.
fn traced<V: DeserializeOwned>() -> Option<String> {
    let samples = Samples::new();
    // The tracer explores one more variant of an enum per pass, but an enum nested below the
    // top level only when its "incomplete" mark is cleared between passes, and it names such
    // enums only when it is consumed. So: trace, learn the incomplete names from the error,
    // and trace again clearing those marks after every pass, until nothing is incomplete.
    let mut nested: Vec<String> = Vec::new();
    let mut passes = 0;
    loop {
        let mut tracer = Tracer::new(TracerConfig::default());
        let format = loop {
            passes += 1;
            if passes > MAX_PASSES {
                return None;
            }
            let (format, _) = tracer.trace_type::<V>(&samples).ok()?;
            let mut progressed = false;
            for name in &nested {
                progressed |= tracer.check_incomplete_enum(name).is_some();
            }
            if !progressed {
                break format;
            }
        };
        match tracer.registry() {
            Ok(registry) => return Some(format!("{format:?}|{registry:?}")),
            Err(serde_reflection::Error::MissingVariants(names)) => {
                let before = nested.len();
                nested.extend(
                    names
                        .into_iter()
                        .filter(|n| !nested.contains(n))
                        .collect::<Vec<_>>(),
                );
                if nested.len() == before {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[allow(dead_code)]
    mod before {
        #[derive(serde::Deserialize)]
        pub struct Pair {
            pub a: u64,
            pub b: u64,
        }
        #[derive(serde::Deserialize)]
        pub enum Shape {
            Circle(f64),
            Square(f64),
        }
        #[derive(serde::Deserialize)]
        pub struct Holder {
            pub shape: Shape,
        }
    }

    #[allow(dead_code)]
    mod after {
        #[derive(serde::Deserialize)]
        pub struct Pair {
            pub b: u64,
            pub a: u64,
        }
        #[derive(serde::Deserialize)]
        pub enum Shape {
            Point,
            Circle(f64),
            Square(f64),
        }
        #[derive(serde::Deserialize)]
        pub struct Holder {
            pub shape: Shape,
        }
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Tree {
        Leaf(u8),
        Node(Box<Tree>, Box<Tree>),
    }

    #[test]
    fn a_changed_layout_changes_the_fingerprint() {
        assert_ne!(fingerprint::<before::Pair>(), fingerprint::<after::Pair>());
        assert_ne!(
            fingerprint::<before::Holder>(),
            fingerprint::<after::Holder>(),
            "a variant inserted in a nested enum"
        );
        assert_ne!(fingerprint::<u32>(), fingerprint::<u64>());
        assert_ne!(fingerprint::<Vec<u8>>(), fingerprint::<String>());
    }

    #[test]
    fn the_fingerprint_is_the_layout_not_the_path() {
        assert!(
            traced::<before::Holder>().is_some(),
            "nested enums are traced"
        );
        assert!(traced::<Tree>().is_some(), "recursive types are traced");
        assert!(traced::<(String, Option<Vec<u64>>)>().is_some());
        assert_eq!(fingerprint::<u64>(), fingerprint::<u64>());
    }
}

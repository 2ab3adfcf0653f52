//! The checks that a function's key parts and stored value fit its attribute, written so that a
//! mistake is reported once, on the argument or return type, and nothing downstream of it.
//!
//! Each check is a conversion `&T → &U` through a trait with two impls: `U = T` when `T` meets
//! the attribute's bounds, and `U = Unfit<T>` under a bound nothing can meet. With two
//! candidates the compiler evaluates each one's where-clauses before choosing, so for a `T`
//! that does not fit, *no* impl applies: the check reports the trait's worded message on the
//! user's span and leaves `U` unknown. The call trait (`MemoryCall<U>`, …) then sees an unknown
//! type, which is ambiguous rather than unmet, and the compiler does not report ambiguities in
//! a function that already has an error. (With one blanket impl, `U = T` would be chosen
//! regardless, and every later use of `T` would fail again.)

use std::hash::Hash;
use std::marker::PhantomData;

use serde::Serialize;
use twat_cache_engines::OptionPart;

use super::{CacheValue, DiskValue};

/// The other side of a failed check (never built: its impls need `sealed::Unreachable`).
pub struct Unfit<T: ?Sized>(PhantomData<T>);

mod sealed {
    /// Implemented by no type; unnameable outside this module.
    pub trait Unreachable {}
}

/// Declares one check: a trait `$check<U>` (with the message the user reads) and its two impls.
macro_rules! fit_check {
    (
        $(#[$attr:meta])*
        $check:ident, where T: $($bounds:tt)*
    ) => {
        $(#[$attr])*
        pub trait $check<U: ?Sized> {
            /// `self`, seen as the type its engine stores.
            fn fit(&self) -> &U;
            /// A value the engine returns, as the function's type.
            fn unfit(value: U) -> Self
            where
                Self: Sized,
                U: Sized;
        }

        #[diagnostic::do_not_recommend]
        impl<T: ?Sized> $check<T> for T
        where
            T: $($bounds)*
        {
            #[inline(always)]
            fn fit(&self) -> &T {
                self
            }
            #[inline(always)]
            fn unfit(value: T) -> T
            where
                T: Sized,
            {
                value
            }
        }

        #[diagnostic::do_not_recommend]
        impl<T: ?Sized + sealed::Unreachable> $check<Unfit<T>> for T {
            fn fit(&self) -> &Unfit<T> {
                unreachable!("no type implements `Unreachable`")
            }
            fn unfit(_: Unfit<T>) -> T
            where
                T: Sized,
            {
                unreachable!("no type implements `Unreachable`")
            }
        }

    };
}

fit_check! {
    /// What a memory cache needs of one argument (or `key` element).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be part of a memory-cache key",
        label = "not `Hash + Eq`, or its owned form is not `Send + Sync + 'static`",
        note = "a key part must be `Hash + Eq` (`&str` keys by `String`); a float can be keyed by `x.to_bits()` with `key = …`"
    )]
    MemoryKeyPart, where T: Hash + Eq + ToOwned, T::Owned: Hash + Eq + Send + Sync + 'static
}

fit_check! {
    /// What a disk cache needs of one argument (or `key` element).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be part of a disk-cache key",
        label = "not `serde::Serialize`",
        note = "derive `serde::Serialize` for it, or choose what identifies the call with `key = …`"
    )]
    DiskKeyPart, where T: Serialize
}

fit_check! {
    /// What `#[ucache]` needs of one argument (or `key` element).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be part of a #[ucache] key",
        label = "not `Hash + Eq + serde::Serialize`, or its owned form is not `Send + Sync + 'static`",
        note = "a key part must be `Hash + Eq` for the memory tier and `Serialize` for the disk tier (`&str` keys by `String`)"
    )]
    TieredKeyPart, where T: Hash + Eq + ToOwned + Serialize, T::Owned: Hash + Eq + Send + Sync + 'static
}

fit_check! {
    /// What a memory cache needs of the stored value.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be stored in a memory cache",
        label = "not `Clone + Send + Sync + 'static`",
        note = "a memory cache hands out clones: derive `Clone`, or return an `Arc<…>`"
    )]
    MemoryValue, where T: CacheValue
}

fit_check! {
    /// What a disk cache needs of the stored value.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be stored in a disk cache",
        label = "not `serde::Serialize + serde::de::DeserializeOwned + Send + 'static`",
        note = "derive `serde::Serialize` and `serde::Deserialize` for it (no borrowed fields)"
    )]
    DiskStoredValue, where T: DiskValue + Send
}

fit_check! {
    /// What `#[ucache]` needs of the stored value.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be stored by #[ucache]",
        label = "not `Clone + Send + Sync + 'static + serde::Serialize + serde::de::DeserializeOwned`",
        note = "the memory tier hands out clones and the disk tier serializes: derive `Clone`, `serde::Serialize` and `serde::Deserialize`"
    )]
    TieredValue, where T: CacheValue + DiskValue
}

/// The stored type `U` of a function as its engine sees it: the type itself when it fits,
/// unknown when it does not (see the module docs). Zero-sized; passed to every call so that the
/// engine's value type is the checked one.
pub struct StoredType<U>(PhantomData<fn() -> U>);

// By hand: a derive would ask `U: Copy`. The wrapper passes it to two calls (`quick_hit`, then
// the lookup).
impl<U> Clone for StoredType<U> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<U> Copy for StoredType<U> {}

// The checks generated code calls, on the user's spans. Written out (not by a macro) so that
// the compiler's "required by a bound in …" note shows a plain signature.

/// One argument (or `key` element) of an `#[mcache]` function, as its key part.
#[inline(always)]
pub fn key_part<T: ?Sized + MemoryKeyPart<U>, U: ?Sized>(part: &T) -> &U {
    part.fit()
}

/// One argument (or `key` element) of a `#[bcache]`/`#[fcache]` function, as its key part.
#[inline(always)]
pub fn key_part_disk<T: ?Sized + DiskKeyPart<U>, U: ?Sized>(part: &T) -> &U {
    part.fit()
}

/// One argument (or `key` element) of a `#[ucache]` function, as its key part.
#[inline(always)]
pub fn key_part_tiered<T: ?Sized + TieredKeyPart<U>, U: ?Sized>(part: &T) -> &U {
    part.fit()
}

/// An `Option<&T>` argument of an `#[mcache]` function, as its key part (see [`OptionPart`]).
#[inline(always)]
pub fn key_part_option<'a, T: ?Sized + MemoryKeyPart<U>, U: ?Sized>(
    part: Option<&'a T>,
) -> OptionPart<'a, U> {
    OptionPart(part.map(T::fit))
}

/// An `Option<&T>` argument of a `#[bcache]`/`#[fcache]` function, as its key part.
#[inline(always)]
pub fn key_part_option_disk<'a, T: ?Sized + DiskKeyPart<U>, U: ?Sized>(
    part: Option<&'a T>,
) -> OptionPart<'a, U> {
    OptionPart(part.map(T::fit))
}

/// An `Option<&T>` argument of a `#[ucache]` function, as its key part.
#[inline(always)]
pub fn key_part_option_tiered<'a, T: ?Sized + TieredKeyPart<U>, U: ?Sized>(
    part: Option<&'a T>,
) -> OptionPart<'a, U> {
    OptionPart(part.map(T::fit))
}

/// The stored type of an `#[mcache]` function.
#[inline(always)]
pub fn stored_type<S: MemoryValue<U>, U>() -> StoredType<U> {
    StoredType(PhantomData)
}

/// The stored type of a `#[bcache]`/`#[fcache]` function.
#[inline(always)]
pub fn stored_type_disk<S: DiskStoredValue<U>, U>() -> StoredType<U> {
    StoredType(PhantomData)
}

/// The stored type of a `#[ucache]` function.
#[inline(always)]
pub fn stored_type_tiered<S: TieredValue<U>, U>() -> StoredType<U> {
    StoredType(PhantomData)
}

/// Declares `fn $name::<S, _>(U) -> S`, a value from the engine as the function's stored type.
macro_rules! from_engine {
    ($name:ident, $check:ident) => {
        /// A value the engine returned, as the function's stored type.
        #[inline(always)]
        pub fn $name<S: $check<U>, U>(value: U) -> S {
            S::unfit(value)
        }
    };
}

from_engine!(from_engine, MemoryValue);
from_engine!(from_engine_disk, DiskStoredValue);
from_engine!(from_engine_tiered, TieredValue);

/// Declares `fn $name::<S, _>(Option<&S>) -> Option<&U>`, the value to store as the engine's.
macro_rules! to_engine {
    ($name:ident, $check:ident) => {
        /// The value to store, as the engine's type.
        #[inline(always)]
        pub fn $name<S: $check<U>, U>(value: Option<&S>) -> Option<&U> {
            value.map(S::fit)
        }
    };
}

to_engine!(to_engine, MemoryValue);
to_engine!(to_engine_disk, DiskStoredValue);
to_engine!(to_engine_tiered, TieredValue);

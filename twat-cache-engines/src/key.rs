//! Looking entries up by a borrowed form of their key, so that a hit never allocates.
//!
//! A cache keyed by `(String, u32)` must answer a lookup made with `(&str, &u32)` without building
//! the `String`. [`Lookup`] ties a borrowed query to the owned key type `K`: it hashes exactly like
//! `K` (the `Borrow` contract guarantees that for `str`/`String`, `[T]`/`Vec<T>`, `Path`/`PathBuf`,
//! and any `T: Clone` with itself), compares against a stored `K`, and builds the owned `K` only when
//! the value has to be inserted.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// A query that can find, and on a miss create, a key of type `K`.
///
/// Implemented for every `Q: ToOwned<Owned = K>` (so `&str` finds `String` keys and any
/// `K: Clone` finds itself) and for [`Borrowed`] tuples of references.
///
/// ```
/// use twat_cache::{Borrowed, Lookup};
///
/// let query = Borrowed((&"user-7"[..], &3u32));
/// let key: (String, u32) = query.to_key();
/// assert!(query.matches(&key));
/// assert!(!Borrowed((&"user-8"[..], &3u32)).matches(&key));
/// ```
pub trait Lookup<K>: Hash {
    /// Whether `key` is the key this query denotes.
    fn matches(&self, key: &K) -> bool;
    /// The owned key, built only on a miss.
    fn to_key(&self) -> K;
}

impl<Q> Lookup<Q::Owned> for Q
where
    Q: ?Sized + Hash + Eq + ToOwned,
{
    #[inline]
    fn matches(&self, key: &Q::Owned) -> bool {
        self == key.borrow()
    }

    #[inline]
    fn to_key(&self) -> Q::Owned {
        self.to_owned()
    }
}

/// One element of a [`Borrowed`] query: how it hashes (exactly like its owned form), compares
/// with its owned form, and becomes it on a miss.
///
/// Implemented for every `T: ToOwned` (`str` → `String`, `[T]` → `Vec<T>`, `u64` → `u64`) and
/// for [`OptionPart`] (`Option<&str>` → `Option<String>`).
pub trait KeyPart: Hash {
    /// The owned form stored in the cache.
    type Owned: Hash + Eq;
    /// Whether `owned` is this part's owned form.
    fn matches(&self, owned: &Self::Owned) -> bool;
    /// The owned form, built only on a miss.
    fn to_owned_part(&self) -> Self::Owned;
}

impl<T: ?Sized + Hash + Eq + ToOwned> KeyPart for T
where
    T::Owned: Hash + Eq,
{
    type Owned = T::Owned;
    #[inline]
    fn matches(&self, owned: &T::Owned) -> bool {
        self == owned.borrow()
    }
    #[inline]
    fn to_owned_part(&self) -> T::Owned {
        self.to_owned()
    }
}

/// An `Option<&T>` argument as a key part: looked up borrowed, stored as `Option<T::Owned>`
/// (so `Option<&str>` keys by `Option<String>`).
///
/// ```
/// use twat_cache::{Borrowed, Lookup, OptionPart};
///
/// let query = Borrowed((&OptionPart(Some("main")),));
/// let key: (Option<String>,) = query.to_key();
/// assert_eq!(key, (Some("main".to_string()),));
/// assert!(query.matches(&key));
/// assert!(!Borrowed((&OptionPart::<str>(None),)).matches(&key));
/// ```
#[derive(Debug)]
pub struct OptionPart<'a, T: ?Sized>(pub Option<&'a T>);

impl<T: ?Sized + Hash> Hash for OptionPart<'_, T> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // `Option` hashes its discriminant, then the value: `Option<&T>` like `Option<T::Owned>`.
        self.0.hash(state);
    }
}

impl<T: ?Sized + Hash + Eq + ToOwned> KeyPart for OptionPart<'_, T>
where
    T::Owned: Hash + Eq,
{
    type Owned = Option<T::Owned>;
    #[inline]
    fn matches(&self, owned: &Option<T::Owned>) -> bool {
        match (self.0, owned) {
            (Some(part), Some(owned)) => part == owned.borrow(),
            (None, None) => true,
            _ => false,
        }
    }
    #[inline]
    fn to_owned_part(&self) -> Option<T::Owned> {
        self.0.map(ToOwned::to_owned)
    }
}

impl<T: ?Sized + serde::Serialize> serde::Serialize for OptionPart<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A tuple of references used as a query for the tuple of their owned forms.
///
/// `Borrowed((&a, &b))` hashes like `(a.to_owned(), b.to_owned())` and matches it, which is how
/// attribute-generated code looks a call's arguments up without cloning them.
///
/// ```
/// use twat_cache::{Borrowed, MemoryCache};
///
/// let cache: MemoryCache<(String, Vec<u8>), usize> = MemoryCache::builder().build();
/// cache.insert(("a".to_string(), vec![1, 2]), 7);
/// let bytes: &[u8] = &[1, 2];
/// assert_eq!(cache.get(&Borrowed(("a", bytes))), Some(7));
/// ```
#[derive(Debug)]
pub struct Borrowed<T>(pub T);

// Disk caches identify keys by their serialization; a tuple of references serializes exactly
// like the tuple of owned values.
impl<T: serde::Serialize> serde::Serialize for Borrowed<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The owned key type a [`Borrowed`] query stands for, so generic code can name it.
///
/// ```
/// use twat_cache::{Borrowed, BorrowedKey};
///
/// fn owned_of<Q: BorrowedKey>(_: &Q) -> &'static str { std::any::type_name::<Q::Owned>() }
/// assert_eq!(owned_of(&Borrowed(("x", &1u8))), "(alloc::string::String, u8)");
/// ```
pub trait BorrowedKey: Lookup<Self::Owned> {
    /// The tuple of owned forms.
    type Owned;
}

macro_rules! borrowed_tuple {
    ($($b:ident $i:tt),*) => {
        impl<$($b: ?Sized + Hash),*> Hash for Borrowed<($(&$b,)*)> {
            #[inline]
            #[allow(unused_variables)]
            fn hash<H: Hasher>(&self, state: &mut H) {
                // Same byte stream as hashing the owned tuple: tuples hash field by field.
                $( self.0.$i.hash(state); )*
            }
        }

        impl<$($b: ?Sized + KeyPart),*> BorrowedKey for Borrowed<($(&$b,)*)> {
            type Owned = ($($b::Owned,)*);
        }

        impl<$($b: ?Sized + KeyPart),*> Lookup<($($b::Owned,)*)> for Borrowed<($(&$b,)*)> {
            #[inline]
            #[allow(unused_variables)]
            fn matches(&self, key: &($($b::Owned,)*)) -> bool {
                true $( && self.0.$i.matches(&key.$i) )*
            }

            #[inline]
            #[allow(clippy::unused_unit)]
            fn to_key(&self) -> ($($b::Owned,)*) {
                ($( self.0.$i.to_owned_part(), )*)
            }
        }
    };
}

borrowed_tuple!();
borrowed_tuple!(B0 0);
borrowed_tuple!(B0 0, B1 1);
borrowed_tuple!(B0 0, B1 1, B2 2);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8, B9 9);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8, B9 9, B10 10);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8, B9 9, B10 10, B11 11);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8, B9 9, B10 10, B11 11, B12 12);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8, B9 9, B10 10, B11 11, B12 12, B13 13);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8, B9 9, B10 10, B11 11, B12 12, B13 13, B14 14);
borrowed_tuple!(B0 0, B1 1, B2 2, B3 3, B4 4, B5 5, B6 6, B7 7, B8 8, B9 9, B10 10, B11 11, B12 12, B13 13, B14 14, B15 15);

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn borrowed_hashes_like_owned() {
        let s = foldhash::fast::FixedState::with_seed(7);
        let owned = (
            "abc".to_string(),
            vec![1u8, 2],
            5u64,
            std::path::PathBuf::from("/x"),
        );
        let q = Borrowed(("abc", &[1u8, 2][..], &5u64, std::path::Path::new("/x")));
        assert_eq!(s.hash_one(&owned), s.hash_one(&q));
        assert!(q.matches(&owned));
        assert_eq!(q.to_key(), owned);
        assert_eq!(s.hash_one(()), s.hash_one(Borrowed(())));
        let owned = (Some("x".to_string()), None::<String>);
        let q = Borrowed((&OptionPart(Some("x")), &OptionPart::<str>(None)));
        assert_eq!(s.hash_one(&owned), s.hash_one(&q));
        assert!(q.matches(&owned));
        assert_eq!(q.to_key(), owned);
    }
}

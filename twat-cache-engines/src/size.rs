//! Estimating how many bytes a value holds, for `max_bytes` on memory caches.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

/// The bytes a value occupies: its inline size plus what it owns on the heap.
///
/// An estimate (allocator overhead and spare capacity are ignored), used to enforce `max_bytes`
/// in memory. A memory cache with `max_bytes` requires it of its key and value types (a type
/// without an impl is a compile error): `#[derive(EstimateSize)]` sums the fields' heap bytes,
/// or implement `heap_size` by hand (the default, 0, suits types that own no heap memory).
///
/// ```
/// use twat_cache::EstimateSize;
///
/// let s = String::from("hello");
/// assert_eq!(s.estimate_size(), size_of::<String>() + 5);
/// assert_eq!(vec![1u32, 2, 3].estimate_size(), size_of::<Vec<u32>>() + 12);
/// ```
pub trait EstimateSize {
    /// Inline plus owned heap bytes.
    fn estimate_size(&self) -> usize {
        size_of_val(self) + self.heap_size()
    }

    /// Bytes owned on the heap (0 for plain values).
    fn heap_size(&self) -> usize {
        0
    }
}

macro_rules! inline_only {
    ($($t:ty),*) => { $( impl EstimateSize for $t {} )* };
}
inline_only!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    std::time::Duration
);

impl EstimateSize for String {
    fn heap_size(&self) -> usize {
        self.len()
    }
}

impl EstimateSize for str {
    fn estimate_size(&self) -> usize {
        self.len()
    }
}

impl EstimateSize for PathBuf {
    fn heap_size(&self) -> usize {
        self.as_os_str().len()
    }
}

impl<T: EstimateSize> EstimateSize for Vec<T> {
    fn heap_size(&self) -> usize {
        self.iter().map(EstimateSize::estimate_size).sum()
    }
}

impl<T: EstimateSize> EstimateSize for VecDeque<T> {
    fn heap_size(&self) -> usize {
        self.iter().map(EstimateSize::estimate_size).sum()
    }
}

impl<T: EstimateSize> EstimateSize for [T] {
    fn estimate_size(&self) -> usize {
        self.iter().map(EstimateSize::estimate_size).sum()
    }
}

impl<T: EstimateSize + ?Sized> EstimateSize for Box<T> {
    fn heap_size(&self) -> usize {
        (**self).estimate_size()
    }
}

// Shared values are counted in full by every holder: the cache cannot know who else holds them,
// and over-estimating keeps `max_bytes` a true bound.
impl<T: EstimateSize + ?Sized> EstimateSize for Arc<T> {
    fn heap_size(&self) -> usize {
        (**self).estimate_size()
    }
}

impl<T: EstimateSize + ?Sized> EstimateSize for Rc<T> {
    fn heap_size(&self) -> usize {
        (**self).estimate_size()
    }
}

impl<T: EstimateSize> EstimateSize for Option<T> {
    fn heap_size(&self) -> usize {
        self.as_ref().map_or(0, EstimateSize::heap_size)
    }
}

impl<T: EstimateSize, E: EstimateSize> EstimateSize for Result<T, E> {
    fn heap_size(&self) -> usize {
        match self {
            Ok(v) => v.heap_size(),
            Err(e) => e.heap_size(),
        }
    }
}

impl<K: EstimateSize, V: EstimateSize, S> EstimateSize for HashMap<K, V, S> {
    fn heap_size(&self) -> usize {
        self.iter()
            .map(|(k, v)| k.estimate_size() + v.estimate_size())
            .sum()
    }
}

impl<K: EstimateSize, S> EstimateSize for HashSet<K, S> {
    fn heap_size(&self) -> usize {
        self.iter().map(EstimateSize::estimate_size).sum()
    }
}

impl<K: EstimateSize, V: EstimateSize> EstimateSize for BTreeMap<K, V> {
    fn heap_size(&self) -> usize {
        self.iter()
            .map(|(k, v)| k.estimate_size() + v.estimate_size())
            .sum()
    }
}

impl<T: EstimateSize, const N: usize> EstimateSize for [T; N] {
    fn heap_size(&self) -> usize {
        self.iter().map(EstimateSize::heap_size).sum()
    }
}

macro_rules! tuple_size {
    ($($t:ident $i:tt),+) => {
        impl<$($t: EstimateSize),+> EstimateSize for ($($t,)+) {
            fn heap_size(&self) -> usize {
                0 $( + self.$i.heap_size() )+
            }
        }
    };
}
tuple_size!(A 0);
tuple_size!(A 0, B 1);
tuple_size!(A 0, B 1, C 2);
tuple_size!(A 0, B 1, C 2, D 3);
tuple_size!(A 0, B 1, C 2, D 3, E 4);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
tuple_size!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

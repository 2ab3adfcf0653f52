//! A value's payload: postcard, except that a `Vec<u8>` value is written and read as one block
//! of bytes rather than byte by byte (the same bytes on disk — postcard encodes a sequence of
//! `u8` exactly like a byte string — so entries of either path read back with the other). In a
//! debug build the byte-by-byte path made a hit of a large buffer slower than recomputing it.

use std::any::{Any, TypeId};

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Appends `value`'s encoding to `out`.
pub(super) fn encode_into<V: Serialize + 'static>(
    value: &V,
    out: Vec<u8>,
) -> Result<Vec<u8>, postcard::Error> {
    match (value as &dyn Any).downcast_ref::<Vec<u8>>() {
        Some(bytes) => postcard::to_extend(&ByteBlock(bytes), out),
        None => postcard::to_extend(value, out),
    }
}

/// The value encoded by `bytes`, which must be used up exactly.
pub(super) fn decode<V: DeserializeOwned + 'static>(bytes: &[u8]) -> Option<V> {
    if TypeId::of::<V>() == TypeId::of::<Vec<u8>>() {
        let (OwnedBlock(block), []) = postcard::take_from_bytes::<OwnedBlock>(bytes).ok()? else {
            return None;
        };
        let boxed: Box<dyn Any> = Box::new(block);
        return boxed.downcast::<V>().ok().map(|v| *v);
    }
    match postcard::take_from_bytes::<V>(bytes) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}

struct ByteBlock<'a>(&'a [u8]);

impl Serialize for ByteBlock<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

struct OwnedBlock(Vec<u8>);

impl<'de> Deserialize<'de> for OwnedBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Block;
        impl<'de> Visitor<'de> for Block {
            type Value = OwnedBlock;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<OwnedBlock, E> {
                Ok(OwnedBlock(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<OwnedBlock, E> {
                Ok(OwnedBlock(v))
            }
        }
        deserializer.deserialize_bytes(Block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_buffers_keep_postcards_sequence_encoding() {
        let value: Vec<u8> = (0..=255).collect();
        let block = encode_into(&value, Vec::new()).unwrap();
        assert_eq!(
            block,
            postcard::to_allocvec(&value).unwrap(),
            "same bytes on disk"
        );
        assert_eq!(decode::<Vec<u8>>(&block), Some(value.clone()));
        assert_eq!(postcard::from_bytes::<Vec<u8>>(&block).unwrap(), value);
        let mut longer = block.clone();
        longer.push(0);
        assert_eq!(decode::<Vec<u8>>(&longer), None, "trailing bytes");
        assert_eq!(decode::<Vec<u8>>(&block[..10]), None, "truncated");
        let other = encode_into(&vec![1u16, 2], Vec::new()).unwrap();
        assert_eq!(decode::<Vec<u16>>(&other), Some(vec![1, 2]));
    }
}

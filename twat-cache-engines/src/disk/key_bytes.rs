//! Disk keys as self-describing bytes: what an entry's id is hashed from and what is stored
//! with the entry and compared on every read.
//!
//! postcard alone is not enough for identity: `5u8` and `5u32` both encode as `[5]`, and a
//! struct whose fields were swapped encodes like the old one. So every value is written with a
//! tag for its serde data-model type, and structs, enums and their fields and variants with
//! their names: keys of different types or layouts can never be equal bytes. Borrowed and owned
//! forms still agree, because serde gives them one data model (`&str`/`String` are strings,
//! `&[T]`/`Vec<T>` sequences, `&Path`/`PathBuf` strings). The encoding is prefix-free (tags,
//! then lengths before contents), so two different keys never produce the same bytes. It is only
//! ever written and compared, never decoded.

use serde::ser::{self, Serialize};

/// Serialized keys up to this size stay on the stack.
const SMALL_KEY: usize = 192;

/// A serialized key, on the stack when small.
pub(crate) struct KeyBytes {
    small: [u8; SMALL_KEY],
    len: usize,
    large: Option<Vec<u8>>,
}

impl KeyBytes {
    fn new() -> Self {
        Self {
            small: [0; SMALL_KEY],
            len: 0,
            large: None,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if let Some(large) = &mut self.large {
            large.extend_from_slice(bytes);
        } else if self.len + bytes.len() <= SMALL_KEY {
            self.small[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            let mut large = Vec::with_capacity((self.len + bytes.len()) * 2);
            large.extend_from_slice(&self.small[..self.len]);
            large.extend_from_slice(bytes);
            self.large = Some(large);
        }
    }

    fn tag(&mut self, tag: Tag) {
        self.push(&[tag as u8]);
    }

    fn len_prefix(&mut self, len: usize) {
        // LEB128: short for the usual small lengths, unambiguous for any.
        let mut n = len as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.push(&[byte]);
                return;
            }
            self.push(&[byte | 0x80]);
        }
    }

    fn text(&mut self, s: &str) {
        self.len_prefix(s.len());
        self.push(s.as_bytes());
    }
}

impl std::ops::Deref for KeyBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.large {
            Some(large) => large,
            None => &self.small[..self.len],
        }
    }
}

/// Encodes `key`; an error if its `Serialize` impl fails (e.g. a non-UTF-8 path).
pub(crate) fn encode<Q: ?Sized + Serialize>(key: &Q) -> Result<KeyBytes, KeyError> {
    let mut out = KeyBytes::new();
    key.serialize(&mut out)?;
    Ok(out)
}

/// Why a key could not be serialized.
#[derive(Debug, thiserror::Error)]
#[error("cannot serialize the cache key: {0}")]
pub struct KeyError(String);

impl ser::Error for KeyError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// One byte per serde data-model type. Never renumber: stored keys contain these.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Tag {
    Bool = 1,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    Bytes,
    None,
    Some,
    Unit,
    UnitStruct,
    UnitVariant,
    NewtypeStruct,
    NewtypeVariant,
    Seq,
    SeqUnsized,
    Tuple,
    TupleStruct,
    TupleVariant,
    Map,
    MapUnsized,
    Struct,
    StructVariant,
    End,
    Field,
    SkippedField,
}

macro_rules! fixed {
    ($($method:ident($ty:ty) => $tag:ident),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<(), KeyError> {
            self.tag(Tag::$tag);
            self.push(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<'a> ser::Serializer for &'a mut KeyBytes {
    type Ok = ();
    type Error = KeyError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fixed! {
        serialize_i8(i8) => I8, serialize_i16(i16) => I16, serialize_i32(i32) => I32,
        serialize_i64(i64) => I64, serialize_i128(i128) => I128,
        serialize_u8(u8) => U8, serialize_u16(u16) => U16, serialize_u32(u32) => U32,
        serialize_u64(u64) => U64, serialize_u128(u128) => U128,
        serialize_f32(f32) => F32, serialize_f64(f64) => F64,
    }

    fn serialize_bool(self, v: bool) -> Result<(), KeyError> {
        self.tag(Tag::Bool);
        self.push(&[u8::from(v)]);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), KeyError> {
        self.tag(Tag::Char);
        self.push(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), KeyError> {
        self.tag(Tag::Str);
        self.text(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), KeyError> {
        self.tag(Tag::Bytes);
        self.len_prefix(v.len());
        self.push(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), KeyError> {
        self.tag(Tag::None);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), KeyError> {
        self.tag(Tag::Some);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), KeyError> {
        self.tag(Tag::Unit);
        Ok(())
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<(), KeyError> {
        self.tag(Tag::UnitStruct);
        self.text(name);
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<(), KeyError> {
        self.variant(Tag::UnitVariant, name, index, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.tag(Tag::NewtypeStruct);
        self.text(name);
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.variant(Tag::NewtypeVariant, name, index, variant);
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, KeyError> {
        Ok(self.sized(Tag::Seq, Tag::SeqUnsized, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, KeyError> {
        self.tag(Tag::Tuple);
        self.len_prefix(len);
        Ok(Compound::sized(self))
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, KeyError> {
        self.tag(Tag::TupleStruct);
        self.text(name);
        self.len_prefix(len);
        Ok(Compound::sized(self))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, KeyError> {
        self.variant(Tag::TupleVariant, name, index, variant);
        self.len_prefix(len);
        Ok(Compound::sized(self))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>, KeyError> {
        Ok(self.sized(Tag::Map, Tag::MapUnsized, len))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a>, KeyError> {
        self.tag(Tag::Struct);
        self.text(name);
        self.len_prefix(len);
        Ok(Compound::sized(self))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, KeyError> {
        self.variant(Tag::StructVariant, name, index, variant);
        self.len_prefix(len);
        Ok(Compound::sized(self))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

impl KeyBytes {
    fn variant(&mut self, tag: Tag, name: &str, index: u32, variant: &str) {
        self.tag(tag);
        self.text(name);
        self.push(&index.to_le_bytes());
        self.text(variant);
    }

    /// A sequence or map: its length up front when known, else an end tag after it.
    fn sized(&mut self, tag: Tag, unsized_tag: Tag, len: Option<usize>) -> Compound<'_> {
        match len {
            Some(len) => {
                self.tag(tag);
                self.len_prefix(len);
                Compound::sized(self)
            }
            None => {
                self.tag(unsized_tag);
                Compound {
                    out: self,
                    terminated: true,
                }
            }
        }
    }
}

/// The serializer of a sequence, tuple, map or struct.
pub(crate) struct Compound<'a> {
    out: &'a mut KeyBytes,
    /// Whether an end tag closes it (its length was not known up front).
    terminated: bool,
}

impl<'a> Compound<'a> {
    fn sized(out: &'a mut KeyBytes) -> Self {
        Self {
            out,
            terminated: false,
        }
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut *self.out)
    }

    fn field<T: ?Sized + Serialize>(&mut self, name: &str, value: &T) -> Result<(), KeyError> {
        self.out.tag(Tag::Field);
        self.out.text(name);
        value.serialize(&mut *self.out)
    }

    fn skip(&mut self, name: &str) {
        self.out.tag(Tag::SkippedField);
        self.out.text(name);
    }

    fn finish(self) -> Result<(), KeyError> {
        if self.terminated {
            self.out.tag(Tag::End);
        }
        Ok(())
    }
}

macro_rules! sequence_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = KeyError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), KeyError> {
                self.element(value)
            }
            fn end(self) -> Result<(), KeyError> {
                self.finish()
            }
        }
    )*};
}

sequence_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), KeyError> {
        self.element(key)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), KeyError> {
        self.element(value)
    }
    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

macro_rules! struct_like {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = KeyError;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                name: &'static str,
                value: &T,
            ) -> Result<(), KeyError> {
                self.field(name, value)
            }
            fn skip_field(&mut self, name: &'static str) -> Result<(), KeyError> {
                self.skip(name);
                Ok(())
            }
            fn end(self) -> Result<(), KeyError> {
                self.finish()
            }
        }
    )*};
}

struct_like!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn bytes<Q: ?Sized + Serialize>(key: &Q) -> Vec<u8> {
        encode(key).unwrap().to_vec()
    }

    #[derive(serde::Serialize)]
    struct Ab {
        a: u64,
        b: u64,
    }

    #[derive(serde::Serialize)]
    #[serde(rename = "Ab")]
    struct Ba {
        b: u64,
        a: u64,
    }

    #[test]
    fn borrowed_and_owned_forms_agree() {
        assert_eq!(bytes("abc"), bytes(&"abc".to_string()));
        assert_eq!(bytes(&[1u8, 2][..]), bytes(&vec![1u8, 2]));
        assert_eq!(bytes(Path::new("/x")), bytes(&PathBuf::from("/x")));
        assert_eq!(bytes(&("a", &5u32)), bytes(&("a".to_string(), 5u32)));
    }

    #[test]
    fn types_and_layouts_never_collide() {
        assert_ne!(bytes(&5u8), bytes(&5u32));
        assert_ne!(bytes(&5u32), bytes(&5i32));
        assert_ne!(bytes(&Ab { a: 1, b: 2 }), bytes(&Ba { b: 1, a: 2 }));
        assert_ne!(bytes(&Ab { a: 1, b: 2 }), bytes(&(1u64, 2u64)));
        assert_ne!(bytes(&Some(0u8)), bytes(&0u8));
        assert_ne!(bytes(&("ab", "c")), bytes(&("a", "bc")));
        assert!(
            !bytes(&()).is_empty(),
            "the key of a function without arguments"
        );
    }

    #[test]
    fn large_keys_spill_to_the_heap() {
        let long = "x".repeat(1000);
        assert_eq!(bytes(&long).len(), 1 + 2 + 1000);
        assert_eq!(&bytes(&long)[3..], long.as_bytes());
    }
}

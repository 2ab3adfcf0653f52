//! The bytes of one disk entry, and the checks that make a damaged one a miss.
//!
//! ```text
//! magic "TWCE" | format u8 | flags u8 | value type u64 | namespace u64 | created u64 |
//! expires u64 | key length u32 | key | payload | checksum u32
//! ```
//!
//! All integers little-endian. `checksum` is CRC-32 over everything before it: it guards
//! against damage, not against an adversary (keys are found by BLAKE3, and the stored key is
//! compared on every read). A reader that sees another magic, another format, a short buffer, a bad checksum, another
//! value type (the function's return type changed under a pinned `version`) or another key (a
//! hash collision) treats the entry as absent. `expires` 0 means never.

pub(crate) const MAGIC: [u8; 4] = *b"TWCE";
pub(crate) const FORMAT: u8 = 2;
/// `flags` bit: the payload is a zstd frame.
pub(crate) const COMPRESSED: u8 = 1;

const FIXED: usize = 4 + 1 + 1 + 8 + 8 + 8 + 8 + 4;
const CHECKSUM: usize = 4;

/// The metadata of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub flags: u8,
    pub value_type: u64,
    pub namespace: u64,
    /// Wall-clock nanoseconds since the Unix epoch.
    pub created: u64,
    /// Wall-clock nanoseconds since the Unix epoch; 0 = never.
    pub expires: u64,
}

impl Header {
    pub fn is_expired(&self, now: u64) -> bool {
        expired(self.expires, now)
    }
}

/// Whether a deadline (`0` = never) has passed at `now`.
pub(crate) fn expired(expires: u64, now: u64) -> bool {
    expires != 0 && now >= expires
}

/// A decoded entry borrowing from the stored bytes.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub header: Header,
    pub key: &'a [u8],
    pub payload: &'a [u8],
}

fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
pub(crate) fn encode(header: &Header, key: &[u8], payload: &[u8]) -> Vec<u8> {
    encode_with::<()>(header, key, payload.len(), |out| {
        out.extend_from_slice(payload);
        Ok(())
    })
    .expect("infallible")
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Decodes and verifies an entry; `None` for anything that is not an intact entry of this
/// format.
pub(crate) fn decode(bytes: &[u8]) -> Option<Record<'_>> {
    if bytes.len() < FIXED + CHECKSUM || bytes[..4] != MAGIC || bytes[4] != FORMAT {
        return None;
    }
    let body = &bytes[..bytes.len() - CHECKSUM];
    let stored_sum = u32::from_le_bytes(bytes[bytes.len() - CHECKSUM..].try_into().ok()?);
    if checksum(body) != stored_sum {
        return None;
    }
    let key_len = u32::from_le_bytes(body[FIXED - 4..FIXED].try_into().ok()?) as usize;
    let key_end = FIXED.checked_add(key_len)?;
    if key_end > body.len() {
        return None;
    }
    Some(Record {
        header: Header {
            flags: body[5],
            value_type: u64_at(body, 6),
            namespace: u64_at(body, 14),
            created: u64_at(body, 22),
            expires: u64_at(body, 30),
        },
        key: &body[FIXED..key_end],
        payload: &body[key_end..],
    })
}

/// Builds an entry in one buffer: `append_payload` writes the payload straight after the key,
/// so a large value is serialized once, into the bytes that go to storage.
pub(crate) fn encode_with<E>(
    header: &Header,
    key: &[u8],
    payload_len_hint: usize,
    append_payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    // Sized up front: growing by doubling would briefly hold a large value twice over.
    let mut out = Vec::with_capacity(FIXED + key.len() + payload_len_hint + CHECKSUM);
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT);
    out.push(header.flags);
    out.extend_from_slice(&header.value_type.to_le_bytes());
    out.extend_from_slice(&header.namespace.to_le_bytes());
    out.extend_from_slice(&header.created.to_le_bytes());
    out.extend_from_slice(&header.expires.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    append_payload(&mut out)?;
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// The namespace and expiry from the first [`HEADER_LEN`] bytes of an entry, without checking
/// the checksum: for pruning, which must not read whole files. `None` if it is not an entry.
pub(crate) fn peek(prefix: &[u8]) -> Option<(u64, u64)> {
    if prefix.len() < HEADER_LEN || prefix[..4] != MAGIC || prefix[4] != FORMAT {
        return None;
    }
    Some((u64_at(prefix, 14), u64_at(prefix, 30)))
}

/// Bytes of an entry that [`peek`] needs.
pub(crate) const HEADER_LEN: usize = FIXED;

/// Rewrites the `expires` field of an intact entry in place (for `refresh`).
pub(crate) fn set_expires(bytes: &mut [u8], expires: u64) {
    bytes[30..38].copy_from_slice(&expires.to_le_bytes());
    let end = bytes.len() - CHECKSUM;
    let sum = checksum(&bytes[..end]);
    bytes[end..].copy_from_slice(&sum.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> Header {
        Header {
            flags: 0,
            value_type: 7,
            namespace: 9,
            created: 100,
            expires: 200,
        }
    }

    #[test]
    fn round_trip_and_refresh() {
        let mut bytes = encode(&header(), b"key", b"payload");
        let r = decode(&bytes).unwrap();
        assert_eq!(
            (r.header, r.key, r.payload),
            (header(), &b"key"[..], &b"payload"[..])
        );
        set_expires(&mut bytes, 500);
        assert_eq!(decode(&bytes).unwrap().header.expires, 500);
    }

    #[test]
    fn every_single_flipped_bit_is_detected() {
        let bytes = encode(&header(), b"some key", b"some payload bytes");
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(decode(&damaged).is_none(), "bit {i} flipped went unnoticed");
        }
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_none(),
                "truncation to {len} went unnoticed"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn damaged_records_never_decode(key in prop::collection::vec(any::<u8>(), 0..40), payload in prop::collection::vec(any::<u8>(), 0..100), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut bytes = encode(&header(), &key, &payload);
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(decode(&bytes).is_none());
        }
    }
}

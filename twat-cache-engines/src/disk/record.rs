//! The bytes of one disk entry, and the checks that make a damaged one a miss.
//!
//! ```text
//! magic "TWCE" | format u8 | flags u8 | value layout u64 | namespace u64 | created u64 |
//! renewed u64 | expires u64 | took u64 | key length u32 | payload length u64 |
//! raw length u64 | renewal slot × 2 | key | payload | checksum u32
//!
//! renewal slot: renewed u64 | expires u64 | sequence u32 | slot checksum u32
//! ```
//!
//! All integers little-endian. `checksum` is CRC-32 over everything before it except the two
//! renewal slots: it guards against damage, not against an adversary (keys are found by BLAKE3,
//! and the stored key is compared on every read). A reader that sees another magic, another
//! format, lengths that do not add up to the buffer, a bad checksum, another value layout (the
//! function's return type changed under a pinned `version`) or another key (a hash collision)
//! treats the entry as absent. `expires` 0 means never; `renewed` is the write or the latest
//! `refresh`, which the *current* TTL is counted from (see [`deadline`]). `raw length` is the
//! payload's length once decompressed: decompression stops there, so a damaged or hostile frame
//! cannot expand without bound. `took` is how long computing the value took, in nanoseconds
//! (0: not measured), for early refresh.
//!
//! A `refresh` renews an entry by writing one renewal slot (24 bytes, in the first
//! [`HEADER_LEN`] bytes) in place, not the whole entry: the slot with the highest sequence whose
//! own checksum (over the header's fixed fields and the slot) holds gives the entry's `renewed`
//! and `expires`, else the write's own fields do. A renewal writes the other slot, so a torn
//! renewal (a crash, or a reader racing the write) leaves the previous renewal or the write in
//! force: an earlier deadline, never a wrong one. Format 5; entries of older formats read as
//! absent.

pub(crate) const MAGIC: [u8; 4] = *b"TWCE";
pub(crate) const FORMAT: u8 = 5;
/// `flags` bit: the payload is a zstd frame.
pub(crate) const COMPRESSED: u8 = 1;

/// The fixed fields before the renewal slots.
const FIELDS: usize = 4 + 1 + 1 + 8 + 8 + 8 + 8 + 8 + 8 + 4 + 8 + 8;
/// One renewal slot: renewed, expires, sequence, slot checksum.
const SLOT: usize = 8 + 8 + 4 + 4;
const SLOTS: std::ops::Range<usize> = FIELDS..FIELDS + 2 * SLOT;
const FIXED: usize = SLOTS.end;
const CHECKSUM: usize = 4;

/// The metadata of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub flags: u8,
    pub value_layout: u64,
    pub namespace: u64,
    /// Wall-clock nanoseconds since the Unix epoch.
    pub created: u64,
    /// Wall-clock nanoseconds since the Unix epoch of the write or the latest renewal.
    pub renewed: u64,
    /// Wall-clock nanoseconds since the Unix epoch; 0 = never.
    pub expires: u64,
    /// Nanoseconds computing the value took; 0 = not measured.
    pub took: u64,
    /// The payload's length before compression (its length when not compressed).
    pub raw_len: u64,
}

impl Header {
    /// Whether the entry has expired at `now` under the TTL in force now (`ttl` 0 = none).
    pub fn is_expired(&self, now: u64, ttl: u64) -> bool {
        expired(self.renewed, self.expires, now, ttl)
    }
}

/// When an entry stops being valid: the stored deadline, or its last renewal plus the TTL in
/// force *now*, whichever is first, so adding or shortening `ttl` bounds old entries too.
/// `u64::MAX` = never. (`0` stored or given means "no deadline" / "no ttl".)
pub(crate) fn deadline(renewed: u64, expires: u64, ttl: u64) -> u64 {
    let stored = if expires == 0 { u64::MAX } else { expires };
    let current = if ttl == 0 {
        u64::MAX
    } else {
        renewed.saturating_add(ttl)
    };
    stored.min(current)
}

/// Whether an entry renewed at `renewed` with stored deadline `expires` is expired at `now`
/// under the current `ttl`. An entry renewed in the future (the wall clock was stepped back
/// since) that has any deadline is expired: its lifetime cannot be trusted to end within a
/// TTL from now.
pub(crate) fn expired(renewed: u64, expires: u64, now: u64, ttl: u64) -> bool {
    let deadline = deadline(renewed, expires, ttl);
    deadline != u64::MAX && (now >= deadline || renewed > now)
}

/// A decoded entry borrowing from the stored bytes.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub header: Header,
    pub key: &'a [u8],
    pub payload: &'a [u8],
}

/// The entry's checksum: over `body` (everything before the checksum) but the renewal slots,
/// which renewals rewrite in place.
fn body_checksum(body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&body[..SLOTS.start]);
    hasher.update(&body[SLOTS.end..]);
    hasher.finalize()
}

/// A renewal slot's checksum: over the header's fixed fields (so a slot holds only for the
/// entry it was written in) and the slot's renewed, expires and sequence.
fn slot_checksum(fields: &[u8], slot: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&fields[..FIELDS]);
    hasher.update(&slot[..SLOT - 4]);
    hasher.finalize()
}

/// The renewal in force in a header (`prefix`: at least [`HEADER_LEN`] bytes): the intact slot
/// with the highest sequence, as `(slot index, sequence, renewed, expires)`; `None` if no
/// renewal holds (never renewed, or every renewal torn or damaged).
fn renewal(prefix: &[u8]) -> Option<(usize, u32, u64, u64)> {
    (0..2)
        .filter_map(|i| {
            let slot = &prefix[SLOTS.start + i * SLOT..SLOTS.start + (i + 1) * SLOT];
            let sequence = u32::from_le_bytes(slot[16..20].try_into().expect("4 bytes"));
            let sum = u32::from_le_bytes(slot[20..24].try_into().expect("4 bytes"));
            (sequence != 0 && sum == slot_checksum(prefix, slot))
                .then(|| (i, sequence, u64_at(slot, 0), u64_at(slot, 8)))
        })
        .max_by_key(|&(_, sequence, ..)| sequence)
}

/// `renewed` and `expires` in force: the latest intact renewal's, else the write's.
fn lifetime(prefix: &[u8]) -> (u64, u64) {
    match renewal(prefix) {
        Some((_, _, renewed, expires)) => (renewed, expires),
        None => (u64_at(prefix, 30), u64_at(prefix, 38)),
    }
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
    if body_checksum(body) != stored_sum {
        return None;
    }
    let (key_len, payload_len) = lengths(body)?;
    let key_end = FIXED.checked_add(key_len)?;
    if key_end.checked_add(payload_len)? != body.len() {
        return None;
    }
    let (renewed, expires) = lifetime(body);
    Some(Record {
        header: Header {
            flags: body[5],
            value_layout: u64_at(body, 6),
            namespace: u64_at(body, 14),
            created: u64_at(body, 22),
            renewed,
            expires,
            took: u64_at(body, 46),
            raw_len: u64_at(body, RAW_LEN_AT),
        },
        key: &body[FIXED..key_end],
        payload: &body[key_end..],
    })
}

const KEY_LEN_AT: usize = 54;
const PAYLOAD_LEN_AT: usize = 58;
const RAW_LEN_AT: usize = 66;

/// The declared key and payload lengths of a header.
fn lengths(header: &[u8]) -> Option<(usize, usize)> {
    let key_len = u32::from_le_bytes(header[KEY_LEN_AT..KEY_LEN_AT + 4].try_into().ok()?);
    let payload_len = u64_at(header, PAYLOAD_LEN_AT);
    Some((key_len as usize, usize::try_from(payload_len).ok()?))
}

/// The whole entry's length as its first [`HEADER_LEN`] bytes declare it, so a reader can
/// check a file's size and read no more than that; `None` if it is not an entry header.
pub(crate) fn declared_len(header: &[u8]) -> Option<u64> {
    if header.len() < HEADER_LEN || header[..4] != MAGIC || header[4] != FORMAT {
        return None;
    }
    let (key_len, payload_len) = lengths(header)?;
    (FIXED as u64)
        .checked_add(key_len as u64)?
        .checked_add(payload_len as u64)?
        .checked_add(CHECKSUM as u64)
}

/// Builds an entry in one buffer: `append_payload` writes the payload straight after the key,
/// so a large value is serialized once, into the bytes that go to storage. The payload and raw
/// lengths are filled in from what was appended (raw = payload unless `header.raw_len` says
/// otherwise for a compressed payload).
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
    out.extend_from_slice(&header.value_layout.to_le_bytes());
    out.extend_from_slice(&header.namespace.to_le_bytes());
    out.extend_from_slice(&header.created.to_le_bytes());
    out.extend_from_slice(&header.renewed.to_le_bytes());
    out.extend_from_slice(&header.expires.to_le_bytes());
    out.extend_from_slice(&header.took.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 16]); // payload and raw lengths, once known
    out.extend_from_slice(&[0; 2 * SLOT]); // never renewed
    out.extend_from_slice(key);
    append_payload(&mut out)?;
    let payload_len = (out.len() - FIXED - key.len()) as u64;
    let raw_len = if header.flags & COMPRESSED != 0 {
        header.raw_len
    } else {
        payload_len
    };
    out[PAYLOAD_LEN_AT..PAYLOAD_LEN_AT + 8].copy_from_slice(&payload_len.to_le_bytes());
    out[RAW_LEN_AT..RAW_LEN_AT + 8].copy_from_slice(&raw_len.to_le_bytes());
    let sum = body_checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// What a prune needs of an entry, from its first [`HEADER_LEN`] bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peek {
    pub namespace: u64,
    pub created: u64,
    pub renewed: u64,
    pub expires: u64,
}

/// The namespace and lifetime from the first [`HEADER_LEN`] bytes of an entry, without checking
/// the checksum: for pruning, which must not read whole files. `None` if it is not an entry.
pub(crate) fn peek(prefix: &[u8]) -> Option<Peek> {
    declared_len(prefix)?;
    let (renewed, expires) = lifetime(prefix);
    Some(Peek {
        namespace: u64_at(prefix, 14),
        created: u64_at(prefix, 22),
        renewed,
        expires,
    })
}

/// Bytes of an entry that [`peek`] needs.
pub(crate) const HEADER_LEN: usize = FIXED;

/// Renews an intact entry (for `refresh`): writes `renewed` and `expires` into the renewal
/// slot not in force, leaving the rest of the bytes (and the slot in force) as they are, so a
/// store can write just the changed range in place. Returns that range (empty: not renewed, the
/// sequence is exhausted).
pub(crate) fn renew(bytes: &mut [u8], renewed: u64, expires: u64) -> std::ops::Range<usize> {
    let (slot, sequence) = match renewal(bytes) {
        Some((i, sequence, ..)) => (1 - i, sequence.checked_add(1)),
        None => (0, Some(1)),
    };
    let Some(sequence) = sequence else {
        return 0..0;
    };
    let at = SLOTS.start + slot * SLOT;
    let mut new = [0u8; SLOT];
    new[..8].copy_from_slice(&renewed.to_le_bytes());
    new[8..16].copy_from_slice(&expires.to_le_bytes());
    new[16..20].copy_from_slice(&sequence.to_le_bytes());
    let sum = slot_checksum(bytes, &new);
    new[20..].copy_from_slice(&sum.to_le_bytes());
    bytes[at..at + SLOT].copy_from_slice(&new);
    at..at + SLOT
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> Header {
        Header {
            flags: 0,
            value_layout: 7,
            namespace: 9,
            created: 100,
            renewed: 100,
            expires: 200,
            took: 3,
            raw_len: 7,
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
        renew(&mut bytes, 300, 500);
        let h = decode(&bytes).unwrap().header;
        assert_eq!((h.renewed, h.expires), (300, 500));
        assert_eq!(declared_len(&bytes), Some(bytes.len() as u64));
    }

    #[test]
    fn the_current_ttl_bounds_every_entry() {
        // Written without a TTL, read with one: expires a TTL after its write.
        assert!(!expired(100, 0, 150, 100));
        assert!(expired(100, 0, 200, 100));
        // Written with a long TTL, read with a shorter one.
        assert!(expired(100, 10_000, 200, 100));
        // No TTL now and none stored: never.
        assert!(!expired(100, 0, u64::MAX - 1, 0));
        // Stored deadline still counts when the TTL was removed.
        assert!(expired(100, 200, 200, 0));
        // Renewed in the future (clock stepped back): expired, not alive for TTL + the step.
        assert!(expired(1_000, 0, 500, 100));
        assert!(
            !expired(1_000, 0, 500, 0),
            "no deadline at all: nothing to bound"
        );
    }

    /// Entries of the previous format (3: no `took`) are absent, never misread; a valid
    /// checksum does not make them current.
    #[test]
    fn entries_of_an_older_format_are_absent() {
        let mut bytes = encode(&header(), b"key", b"payload");
        bytes[4] = FORMAT - 1;
        let end = bytes.len() - CHECKSUM;
        let sum = body_checksum(&bytes[..end]);
        bytes[end..].copy_from_slice(&sum.to_le_bytes());
        assert!(decode(&bytes).is_none());
        assert!(peek(&bytes).is_none() && declared_len(&bytes).is_none());
    }

    /// A flipped bit outside the renewal slots makes the entry absent; one inside them voids
    /// that renewal, leaving an earlier one in force: never a later deadline, never other bytes.
    #[test]
    fn every_single_flipped_bit_is_detected() {
        let mut bytes = encode(&header(), b"some key", b"some payload bytes");
        let written = decode(&bytes).unwrap().header;
        renew(&mut bytes, 300, 500);
        renew(&mut bytes, 400, 600);
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            let decoded = decode(&damaged);
            if !SLOTS.contains(&(i / 8)) {
                assert!(decoded.is_none(), "bit {i} flipped went unnoticed");
                continue;
            }
            let r = decoded.expect("a damaged renewal leaves the entry");
            assert_eq!(
                (r.key, r.payload),
                (&b"some key"[..], &b"some payload bytes"[..])
            );
            let lifetime = (r.header.renewed, r.header.expires);
            assert!(
                [(400, 600), (300, 500)].contains(&lifetime),
                "bit {i}: {lifetime:?}"
            );
            let rest = Header {
                renewed: 100,
                expires: 200,
                ..r.header
            };
            assert_eq!(rest, written, "bit {i}");
        }
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_none(),
                "truncation to {len} went unnoticed"
            );
        }
    }

    /// A renewal torn anywhere (a prefix of its bytes written, as a crash or a racing reader
    /// sees it) reads as the renewal before it, or as itself once whole.
    #[test]
    fn a_torn_renewal_leaves_the_previous_one_in_force() {
        for earlier in 0..3u64 {
            let mut before = encode(&header(), b"key", b"payload");
            let mut previous = (100, 200);
            for j in 0..earlier {
                previous = (300 + 100 * j, 500 + 100 * j);
                renew(&mut before, previous.0, previous.1);
            }
            let mut after = before.clone();
            let range = renew(&mut after, 700, 900);
            assert_eq!(range.len(), SLOT);
            assert!(range.end <= HEADER_LEN, "the slot is in the header");
            assert_eq!(before[..range.start], after[..range.start]);
            assert_eq!(before[range.end..], after[range.end..]);
            for cut in range.start..=range.end {
                let mut torn = before.clone();
                torn[range.start..cut].copy_from_slice(&after[range.start..cut]);
                let h = decode(&torn).expect("still an entry").header;
                let p = peek(&torn[..HEADER_LEN]).unwrap();
                assert_eq!((h.renewed, h.expires), (p.renewed, p.expires));
                let expected = if cut == range.end {
                    (700, 900)
                } else {
                    previous
                };
                assert_eq!((h.renewed, h.expires), expected, "cut at {cut}");
            }
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
            let written = decode(&bytes).unwrap().header;
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            if SLOTS.contains(&i) {
                // An unwritten renewal slot stays void: the entry as written.
                prop_assert_eq!(decode(&bytes).map(|r| r.header), Some(written));
            } else {
                prop_assert!(decode(&bytes).is_none());
            }
        }
    }
}

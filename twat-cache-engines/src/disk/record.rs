//! The bytes of one disk entry, and the checks that make a damaged one a miss.
//!
//! ```text
//! magic "TWCE" | format u8 | flags u8 | value layout u64 | namespace u64 | created u64 |
//! renewed u64 | expires u64 | took u64 | key length u32 | payload length u64 |
//! raw length u64 | renewal: renewed u64 | expires u64 | renewal checksum u32 |
//! key | payload | checksum u32
//! ```
//!
//! All integers little-endian. `checksum` is CRC-32 over everything before it except the
//! renewal: it guards against damage, not against an adversary (keys are found by BLAKE3,
//! and the stored key is compared on every read). A reader that sees another magic, another
//! format, lengths that do not add up to the buffer, a bad checksum, another value layout (the
//! function's return type changed under a pinned `version`) or another key (a hash collision)
//! treats the entry as absent. `expires` 0 means never; `renewed` is the write or the latest
//! `refresh`, which the *current* TTL is counted from (see [`deadline`]). `raw length` is the
//! payload's length once decompressed: decompression stops there, so a damaged or hostile frame
//! cannot expand without bound. `took` is how long computing the value took, in nanoseconds
//! (0: not measured), for early refresh.
//!
//! A `refresh` renews an entry by writing its renewal (20 bytes, within the first
//! [`HEADER_LEN`] bytes) in place, not the whole entry. All zeros: never renewed, the write's
//! own `renewed` and `expires` are in force; else the renewal's, if its own checksum (over the
//! header's fixed fields and the renewal) holds. A renewal that is neither — damaged, or torn
//! by a crash mid-write — makes the entry absent, like any other damage: never a wrong
//! deadline. Format 5; entries of older formats read as absent.

pub(crate) const MAGIC: [u8; 4] = *b"TWCE";
pub(crate) const FORMAT: u8 = 5;
/// `flags` bit: the payload is a zstd frame.
pub(crate) const COMPRESSED: u8 = 1;

/// The fixed fields before the renewal.
const FIELDS: usize = 4 + 1 + 1 + 8 + 8 + 8 + 8 + 8 + 8 + 4 + 8 + 8;
/// The renewal: renewed, expires, its checksum.
const RENEWAL: std::ops::Range<usize> = FIELDS..FIELDS + 8 + 8 + 4;
const FIXED: usize = RENEWAL.end;
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
    /// Whether the entry has expired at `now` under the TTL in force now (`ttl` 0 = none),
    /// trusting a renewal up to `skew` nanoseconds in the future (see [`expired_with_skew`]).
    pub fn is_expired(&self, now: u64, ttl: u64, skew: u64) -> bool {
        expired_with_skew(self.renewed, self.expires, now, ttl, skew)
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
    expired_with_skew(renewed, expires, now, ttl, 0)
}

/// [`expired`] for an entry another machine may have written: its renewal may lie up to
/// `skew` nanoseconds in this clock's future (the machines' clocks differ) before its
/// lifetime is distrusted.
pub(crate) fn expired_with_skew(renewed: u64, expires: u64, now: u64, ttl: u64, skew: u64) -> bool {
    let deadline = deadline(renewed, expires, ttl);
    deadline != u64::MAX && (now >= deadline || renewed > now.saturating_add(skew))
}

/// A decoded entry borrowing from the stored bytes.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub header: Header,
    pub key: &'a [u8],
    pub payload: &'a [u8],
}

/// The entry's checksum: over `body` (everything before the checksum) but the renewal, which
/// renewals rewrite in place.
fn body_checksum(body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&body[..RENEWAL.start]);
    hasher.update(&body[RENEWAL.end..]);
    hasher.finalize()
}

/// A renewal's checksum: over the header's fixed fields (so a renewal holds only for the entry
/// it was written in) and the renewal's `renewed` and `expires` (`renewal`'s first 16 bytes).
fn renewal_checksum(fields: &[u8], renewal: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&fields[..FIELDS]);
    hasher.update(&renewal[..16]);
    hasher.finalize()
}

/// `renewed` and `expires` in force in a header (`prefix`: at least [`HEADER_LEN`] bytes): the
/// renewal's, or the write's if it was never renewed; `None` if the renewal is damaged or torn.
fn lifetime(prefix: &[u8]) -> Option<(u64, u64)> {
    let renewal = &prefix[RENEWAL];
    if renewal.iter().all(|&b| b == 0) {
        return Some((u64_at(prefix, 30), u64_at(prefix, 38)));
    }
    let sum = u32::from_le_bytes(renewal[16..20].try_into().expect("4 bytes"));
    (sum == renewal_checksum(prefix, renewal)).then(|| (u64_at(renewal, 0), u64_at(renewal, 8)))
}

/// Whether `bytes` are an intact entry but for its renewal: what a reader sees for an instant
/// while another thread or process renews the entry in place (worth reading again before
/// treating it as damage).
pub(crate) fn renewal_torn(bytes: &[u8]) -> bool {
    bytes.len() >= FIXED + CHECKSUM
        && bytes[..4] == MAGIC
        && bytes[4] == FORMAT
        && lifetime(bytes).is_none()
        && {
            let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
            body_checksum(body).to_le_bytes() == sum
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
    let (renewed, expires) = lifetime(body)?;
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
    out.extend_from_slice(&[0; RENEWAL.end - RENEWAL.start]); // never renewed
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
    pub flags: u8,
    pub namespace: u64,
    pub created: u64,
    pub renewed: u64,
    pub expires: u64,
}

/// The namespace and lifetime from the first [`HEADER_LEN`] bytes of an entry, without checking
/// the checksum: for pruning, which must not read whole files. `None` if it is not an entry.
pub(crate) fn peek(prefix: &[u8]) -> Option<Peek> {
    declared_len(prefix)?;
    let (renewed, expires) = lifetime(prefix)?;
    Some(Peek {
        flags: prefix[5],
        namespace: u64_at(prefix, 14),
        created: u64_at(prefix, 22),
        renewed,
        expires,
    })
}

/// Bytes of an entry that [`peek`] needs (the renewal included, which a store rewrites in
/// place within them).
pub(crate) const HEADER_LEN: usize = FIXED;
const _: () = assert!(RENEWAL.end <= HEADER_LEN);

/// Renews an intact entry (for `refresh`): writes `renewed` and `expires` into its renewal,
/// leaving every other byte as it is (so a store can write just those in place).
pub(crate) fn renew(bytes: &mut [u8], renewed: u64, expires: u64) {
    let mut renewal = [0u8; RENEWAL.end - RENEWAL.start];
    renewal[..8].copy_from_slice(&renewed.to_le_bytes());
    renewal[8..16].copy_from_slice(&expires.to_le_bytes());
    let sum = renewal_checksum(bytes, &renewal);
    renewal[16..].copy_from_slice(&sum.to_le_bytes());
    bytes[RENEWAL].copy_from_slice(&renewal);
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

    /// Every flipped bit is detected, in the renewal too (written or not).
    #[test]
    fn every_single_flipped_bit_is_detected() {
        let fresh = encode(&header(), b"some key", b"some payload bytes");
        let mut renewed = fresh.clone();
        renew(&mut renewed, 300, 500);
        for bytes in [fresh, renewed] {
            assert!(decode(&bytes).is_some());
            for i in 0..bytes.len() * 8 {
                let mut damaged = bytes.clone();
                damaged[i / 8] ^= 1 << (i % 8);
                assert!(decode(&damaged).is_none(), "bit {i} flipped went unnoticed");
                assert!(peek(&damaged).is_none_or(|_| !RENEWAL.contains(&(i / 8))));
            }
            for len in 0..bytes.len() {
                assert!(
                    decode(&bytes[..len]).is_none(),
                    "truncation to {len} went unnoticed"
                );
            }
        }
    }

    /// A renewal torn anywhere (a prefix of its bytes written, as a crash leaves it, or as a
    /// reader racing the write sees it) reads as absent, or as the entry before or after the
    /// renewal: never with another deadline. Torn, it is told apart from other damage.
    #[test]
    fn a_torn_renewal_reads_as_absent_never_as_another_deadline() {
        for earlier in [None, Some((300, 500))] {
            let mut before = encode(&header(), b"key", b"payload");
            if let Some((renewed, expires)) = earlier {
                renew(&mut before, renewed, expires);
            }
            let previous = earlier.unwrap_or((100, 200));
            let mut after = before.clone();
            renew(&mut after, 700, 900);
            assert_eq!(before[..RENEWAL.start], after[..RENEWAL.start]);
            assert_eq!(before[RENEWAL.end..], after[RENEWAL.end..]);
            for cut in RENEWAL.start..=RENEWAL.end {
                let mut torn = before.clone();
                torn[RENEWAL.start..cut].copy_from_slice(&after[RENEWAL.start..cut]);
                let lifetime = decode(&torn).map(|r| (r.header.renewed, r.header.expires));
                let peeked = peek(&torn[..HEADER_LEN]).map(|p| (p.renewed, p.expires));
                assert_eq!(lifetime, peeked);
                match lifetime {
                    None => assert!(renewal_torn(&torn), "cut at {cut}"),
                    Some(l) if torn == before => assert_eq!(l, previous),
                    Some(l) => assert_eq!((l, &torn), ((700, 900), &after), "cut at {cut}"),
                }
            }
        }
        let mut damaged = encode(&header(), b"key", b"payload");
        damaged[FIXED] ^= 1;
        assert!(
            !renewal_torn(&damaged),
            "damage elsewhere is not a torn renewal"
        );
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

//! The byte forms a [`DiskCache`](super::DiskCache) handles: serialized keys (on the stack when
//! small) and compressed payloads.

/// zstd level for `compress = true`: level 1 measured 4× the ratio of LZ4 on JSON and text at
/// ~1 GB/s compress / ~2 GB/s decompress (`cargo bench --bench compression`), faster than the
/// disk writes it saves.
const ZSTD_LEVEL: i32 = 1;

/// The compressed payload, or `None` when compression saves less than 10% (incompressible data
/// is stored as is and decoded without a decompression pass).
pub(super) fn compress(payload: &[u8]) -> Option<Vec<u8>> {
    let packed = zstd::bulk::compress(payload, ZSTD_LEVEL).ok()?;
    (packed.len() * 10 < payload.len() * 9).then_some(packed)
}

/// Every this many inserts, a TTL'd cache sweeps a sample of entries for expired ones.
pub(super) const SWEEP_EVERY: u64 = 256;

/// Serialized keys up to this size stay on the stack.
pub(super) const SMALL_KEY: usize = 128;

/// A serialized key, on the stack when small.
pub(super) enum KeyBytes {
    Small([u8; SMALL_KEY], usize),
    Large(Vec<u8>),
}

impl std::ops::Deref for KeyBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            KeyBytes::Small(bytes, len) => &bytes[..*len],
            KeyBytes::Large(bytes) => bytes,
        }
    }
}

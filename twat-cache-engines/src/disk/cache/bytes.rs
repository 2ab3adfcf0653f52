//! The payload forms a [`DiskCache`](super::DiskCache) handles: compressed, and decompressed
//! within the length the entry declares.

use std::io::Read;

/// zstd level for `compress = true`: level 1 measured 4× the ratio of LZ4 on JSON and text at
/// ~1 GB/s compress / ~2 GB/s decompress (`cargo bench --bench compression`), faster than the
/// disk writes it saves.
const ZSTD_LEVEL: i32 = 1;

/// Every this many inserts, a cache sweeps a sample of entries for expired and stale ones.
pub(super) const SWEEP_EVERY: u64 = 256;

/// The compressed payload, or `None` when compression saves less than 10% (incompressible data
/// is stored as is and decoded without a decompression pass).
pub(super) fn compress(payload: &[u8]) -> Option<Vec<u8>> {
    let packed = zstd::bulk::compress(payload, ZSTD_LEVEL).ok()?;
    (packed.len() * 10 < payload.len() * 9).then_some(packed)
}

/// Decompresses a payload that declares `raw_len` bytes; `None` unless it yields exactly that
/// many. The output grows only as data really decompresses (never preallocated from the
/// declared length beyond 1 MiB) and stops one byte past the declared length, so neither a
/// damaged header nor a decompression bomb can exhaust memory.
pub(super) fn decompress(payload: &[u8], raw_len: u64) -> Option<Vec<u8>> {
    let decoder = zstd::stream::read::Decoder::with_buffer(payload).ok()?;
    let mut out = Vec::with_capacity(raw_len.min(1 << 20) as usize);
    decoder
        .take(raw_len.saturating_add(1))
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 == raw_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompression_stops_at_the_declared_length() {
        let bomb = zstd::bulk::compress(&vec![0u8; 8 << 20], 1).unwrap();
        assert!(bomb.len() < 4096);
        assert_eq!(
            decompress(&bomb, 100),
            None,
            "declared 100 bytes, holds 8 MiB"
        );
        assert_eq!(decompress(&bomb, 8 << 20).map(|v| v.len()), Some(8 << 20));
        assert_eq!(decompress(b"not zstd", 8), None);
    }
}

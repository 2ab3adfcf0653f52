//! Which compressor `compress = true` uses: speed against ratio on typical cached values.
//! `cargo bench --bench compression` prints MB/s (compress, decompress) and the ratio.
//!
//! Inputs: JSON-like API responses, a numeric array (postcard-encoded `Vec<f64>`) and text.

use std::hint::black_box;
use std::time::Instant;

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let json: String = (0..2000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"user-{i}\",\"active\":{},\"score\":{}.5}},",
                i % 3 == 0,
                i * 7 % 100
            )
        })
        .collect();
    let floats: Vec<f64> = (0..20_000).map(|i| (i as f64 * 0.01).sin()).collect();
    let text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ".repeat(500);
    vec![
        ("json 100KB", json.into_bytes()),
        ("f64 array 160KB", postcard::to_allocvec(&floats).unwrap()),
        ("text 60KB", text.into_bytes()),
    ]
}

fn measure(
    name: &str,
    data: &[u8],
    compress: impl Fn(&[u8]) -> Vec<u8>,
    decompress: impl Fn(&[u8]) -> Vec<u8>,
) {
    let rounds = 50;
    let packed = compress(data);
    assert_eq!(decompress(&packed), data);
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(compress(black_box(data)));
    }
    let c = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(decompress(black_box(&packed)));
    }
    let d = start.elapsed().as_secs_f64();
    let mb = (data.len() * rounds) as f64 / 1e6;
    println!(
        "  {name:<10} compress {:>7.0} MB/s   decompress {:>7.0} MB/s   ratio {:>5.2}",
        mb / c,
        mb / d,
        data.len() as f64 / packed.len() as f64
    );
}

fn main() {
    for (label, data) in inputs() {
        println!("{label}");
        measure("lz4_flex", &data, lz4_flex::compress_prepend_size, |p| {
            lz4_flex::decompress_size_prepended(p).unwrap()
        });
        measure(
            "zstd -1",
            &data,
            |d| zstd::encode_all(d, 1).unwrap(),
            |p| zstd::decode_all(p).unwrap(),
        );
        measure(
            "zstd -3",
            &data,
            |d| zstd::encode_all(d, 3).unwrap(),
            |p| zstd::decode_all(p).unwrap(),
        );
    }
}

//! `#[derive(EstimateSize)]` weighs user types for `max_bytes` on memory caches.
#![deny(warnings)]

use twat_cache::{EstimateSize, mcache};

#[derive(Clone, EstimateSize)]
struct Page {
    body: String,
    links: Vec<String>,
}

#[derive(Clone, EstimateSize)]
struct Wrapper<T>(T, u8);

#[derive(Clone, EstimateSize)]
enum Shape {
    Named { name: String },
    Points(Vec<u32>),
    Nothing,
}

#[mcache(max_bytes = 4096)]
fn page(n: u32) -> Page {
    Page {
        body: "x".repeat(1000),
        links: vec![format!("/{n}")],
    }
}

#[test]
fn derived_sizes_sum_the_fields() {
    let p = Page {
        body: "abc".into(),
        links: vec!["de".into()],
    };
    assert_eq!(p.heap_size(), 3 + size_of::<String>() + 2);
    assert_eq!(Wrapper(String::from("xyz"), 1).heap_size(), 3);
    assert_eq!(Shape::Named { name: "ab".into() }.heap_size(), 2);
    assert_eq!(Shape::Points(vec![1, 2]).heap_size(), 8);
    assert_eq!(Shape::Nothing.heap_size(), 0);
}

#[test]
fn max_bytes_bounds_a_cache_of_derived_values() {
    for n in 0..20 {
        page(n);
    }
    let stats = page_cache().stats();
    assert!(stats.bytes <= 4096, "{} bytes held", stats.bytes);
    assert!(
        stats.len >= 1 && stats.len <= 4,
        "about 1 KiB each: {} held",
        stats.len
    );
}

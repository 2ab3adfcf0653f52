//! Fills a cache root (`TWAT_CACHE_DIR`) for the `twat-cache` command's tests, with every disk
//! attribute, two versions of one function per store, entries that expire in a second, and
//! values of known sizes.
//!
//! `cli_fixture populate` writes and exits; `cli_fixture hold` opens the sled database, prints
//! `ready`, and keeps it open (locked) until its standard input closes; `cli_fixture many N`
//! writes N small file entries (to see progress bars).

use std::io::Read;
use std::time::Duration;

use twat_cache::{bcache, fcache, ucache};

#[bcache(folder = "sled", name = "app::square", version = "1")]
fn square_v1(x: u64) -> u64 {
    x * x
}

#[bcache(folder = "sled", name = "app::square", version = "2")]
fn square_v2(x: u64) -> u64 {
    x * x
}

#[bcache(folder = "sled", ttl = "1s")]
fn fleeting(x: u64) -> u64 {
    x + 1
}

#[fcache(folder = "files", name = "app::report", version = "1")]
fn report_v1(day: u32) -> String {
    format!("report of day {day}")
}

#[fcache(folder = "files", name = "app::report", version = "2")]
fn report_v2(day: u32) -> String {
    format!("report of day {day}, revised")
}

#[fcache(folder = "files", ttl = "1s")]
fn fleeting_file(x: u64) -> Vec<u8> {
    vec![x as u8; 100]
}

#[ucache(folder = "tiered")]
fn label(city: &str) -> String {
    city.to_uppercase()
}

/// Ten entries of 10 000 bytes each (plus the record's header and key).
#[fcache(folder = "big")]
fn blob(n: u32) -> Vec<u8> {
    vec![n as u8; 10_000]
}

/// Small entries, for `many`.
#[fcache(folder = "many")]
fn small(n: u32) -> u32 {
    n
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("many") => {
            let n: u32 = std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(1000);
            for i in 0..n {
                small(i);
            }
        }
        Some("populate") => populate(),
        Some("hold") => {
            square_v2(1);
            println!("ready");
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        _ => {
            eprintln!("usage: cli_fixture populate | hold | many N");
            std::process::exit(2);
        }
    }
}

fn populate() {
    for x in 1..=3 {
        square_v1(x);
    }
    // The version opened last is the current one: a later mark than version 1's.
    std::thread::sleep(Duration::from_millis(20));
    for x in 1..=5 {
        square_v2(x);
    }
    for x in 1..=4 {
        fleeting(x);
    }
    for day in 1..=2 {
        report_v1(day);
    }
    std::thread::sleep(Duration::from_millis(20));
    for day in 1..=3 {
        report_v2(day);
    }
    for x in 1..=2 {
        fleeting_file(x);
    }
    label("Paris");
    label("Oslo");
    for n in 0..10 {
        blob(n);
    }
}

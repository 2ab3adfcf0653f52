//! `#[allow(deprecated)]` on the function silences the warnings about what `key` leaves out.
#![deny(warnings)]

use twat_cache::mcache;

struct Client { region: &'static str }

impl Client {
    // The value depends on `id` alone: instances share it, and `verbose` only logs.
    #[allow(deprecated)]
    #[mcache(key = id)]
    fn lookup(&self, id: u64, verbose: bool) -> u64 {
        if verbose {
            println!("computing {id}");
        }
        id * 2
    }
}

fn main() {
    let a = Client { region: "eu" };
    let b = Client { region: "us" };
    assert_eq!(a.region.len() + b.region.len(), 4);
    assert_eq!(a.lookup(3, true), 6);
    assert_eq!(b.lookup(3, false), 6); // a hit: neither `self` nor `verbose` is in the key
    assert_eq!(Client::lookup_cache().stats().hits, 1);
}

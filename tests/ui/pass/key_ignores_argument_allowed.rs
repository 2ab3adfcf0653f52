//! `#[allow(deprecated)]` on the function silences the warnings about what `key` leaves out.
#![deny(warnings)]

use twat_cache::mcache;

struct Client { region: &'static str }

impl Client {
    // Sharing one value between instances is intended here.
    #[allow(deprecated)]
    #[mcache(key = id)]
    fn lookup(&self, id: u64, verbose: bool) -> u64 { id * 2 + u64::from(verbose) * 0 }
}

fn main() {
    let a = Client { region: "eu" };
    let b = Client { region: "us" };
    assert_eq!(a.region.len() + b.region.len(), 4);
    assert_eq!(a.lookup(3, true), 6);
    assert_eq!(b.lookup(3, false), 6); // a hit: neither `self` nor `verbose` is in the key
    assert_eq!(Client::lookup_cache().stats().hits, 1);
}

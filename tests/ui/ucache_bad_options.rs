use twat_cache::{fcache, ucache};

#[ucache(backend = "memcached", disk_max_bytes = "0B")]
fn unknown_backend(x: u32) -> u32 { x }

#[ucache(disk_max_bytes = "lots")]
fn bad_size(x: u32) -> u32 { x }

#[fcache(disk_max_bytes = "1GiB")]
fn not_for_fcache(x: u32) -> u32 { x }

fn main() {
    unknown_backend(1);
    bad_size(1);
    not_for_fcache(1);
}

use twat_cache::mcache;

#[mcache]
fn push(list: &mut Vec<u32>, x: u32) -> usize {
    list.push(x);
    list.len()
}

fn main() {}

// #[ucache] stores in memory (clones) and on disk (serde): a value with serde but no `Clone`
// is one error, on the return type.
use twat_cache::ucache;

#[derive(serde::Serialize, serde::Deserialize)]
struct Page {
    body: String,
}

#[ucache]
fn page(id: u32) -> Option<Page> {
    Some(Page { body: id.to_string() })
}

fn main() {
    let _ = page(1).map(|p| p.body);
}

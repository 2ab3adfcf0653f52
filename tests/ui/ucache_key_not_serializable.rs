use twat_cache::ucache;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Point { x: i32 }

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Label(String);

#[ucache]
fn label(p: Point) -> Label { Label(p.x.to_string()) }

fn main() { label(Point { x: 1 }); }

// A return type without serde: one error, on the stored type (the `Ok` of the `Result`).
use twat_cache::fcache;

#[derive(Clone)]
struct Report {
    lines: Vec<String>,
}

#[fcache]
fn report(day: u32) -> Result<Report, String> {
    Ok(Report { lines: vec![day.to_string()] })
}

fn main() {
    let _ = report(1).map(|r| r.lines.len());
}

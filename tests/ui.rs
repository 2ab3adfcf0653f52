//! Every diagnostic the attribute can emit, with its span: `tests/ui/*.rs` + `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}

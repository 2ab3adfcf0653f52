//! Every diagnostic the attribute can emit, with its span: `tests/ui/*.rs` + `.stderr`, and
//! the cases that must compile without one (under `deny(warnings)`): `tests/ui/pass/*.rs`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
    t.pass("ui/pass/*.rs");
}

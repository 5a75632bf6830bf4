//! Compile-time checks of the derives: what must build and what must be refused, with the
//! exact error a user sees.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

#[ember::metric(name = 3)]
fn f() {}

fn main() {}

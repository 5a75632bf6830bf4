#[ember::metric(nmae = "x")]
fn f() {}

fn main() {}

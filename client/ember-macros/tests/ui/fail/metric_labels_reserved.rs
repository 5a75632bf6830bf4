#[ember::metric(labels(result = "x"))]
fn f() {}

fn main() {}

#[ember::metric(labels(__name = "a"))]
fn f() {}

fn main() {}

#[ember::metric(labels(team = "a", team = "b"))]
fn f() {}

fn main() {}

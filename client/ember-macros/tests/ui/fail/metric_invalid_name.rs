#[ember::metric(name = "not a name")]
fn f() {}

fn main() {}

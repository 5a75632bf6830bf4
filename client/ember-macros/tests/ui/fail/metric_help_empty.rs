#[ember::metric(help = "  ")]
fn f() {}

fn main() {}

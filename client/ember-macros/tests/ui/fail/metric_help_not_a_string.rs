#[ember::metric(help = 42)]
fn f() {}

fn main() {}

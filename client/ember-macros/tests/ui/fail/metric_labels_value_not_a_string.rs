#[ember::metric(labels(tenant))]
fn f() {}

fn main() {}

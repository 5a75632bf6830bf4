#[ember::metric(buckets = [0.1, 1.0])]
fn f() {}

fn main() {}

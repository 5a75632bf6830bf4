#[ember::metric(buckets = [0.5, 0.1])]
fn f() {}

fn main() {}

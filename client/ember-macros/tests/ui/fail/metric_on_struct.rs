#[ember::metric]
struct S;

fn main() {}

#[derive(ember::Metrics)]
struct S {
    c: u64,
}

fn main() {}

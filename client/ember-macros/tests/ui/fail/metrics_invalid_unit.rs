#[derive(ember::Metrics)]
struct S {
    #[metric(unit = "per second")]
    c: ember::Counter,
}

fn main() {}

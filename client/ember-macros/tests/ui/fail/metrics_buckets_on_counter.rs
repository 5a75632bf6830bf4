#[derive(ember::Metrics)]
struct S {
    #[metric(buckets = [1.0])]
    c: ember::Counter,
}

fn main() {}

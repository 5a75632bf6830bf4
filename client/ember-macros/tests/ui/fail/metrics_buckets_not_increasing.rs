#[derive(ember::Metrics)]
struct S {
    #[metric(buckets = [1.0, 0.5])]
    h: ember::Histogram,
}

fn main() {}

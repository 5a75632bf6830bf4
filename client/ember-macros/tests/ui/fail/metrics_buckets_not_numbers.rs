#[derive(ember::Metrics)]
struct S {
    #[metric(buckets = ["fast", "slow"])]
    h: ember::Histogram,
}

fn main() {}

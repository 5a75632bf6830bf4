#[derive(ember::Metrics)]
struct S {
    #[metric(help = "x")]
    c: ember::Counter,
}

fn main() {}

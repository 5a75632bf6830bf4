use ember::{Family, Histogram, LabelSet};

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Labels {
    le: String,
}

fn main() {
    let _f: Family<Labels, Histogram> = Family::new();
}

use ember::LabelSet;

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Labels {
    method: String,
    #[label(rename = "method")]
    verb: String,
}

fn main() {}

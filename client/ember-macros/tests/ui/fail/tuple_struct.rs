use ember::LabelSet;

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Labels(String);

fn main() {}

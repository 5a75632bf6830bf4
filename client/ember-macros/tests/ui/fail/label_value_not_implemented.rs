use ember::LabelSet;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Opaque;

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Labels {
    thing: Opaque,
}

fn main() {}

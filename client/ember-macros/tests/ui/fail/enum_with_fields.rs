use ember::LabelValue;

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelValue)]
enum Method {
    Get,
    Other(String),
}

fn main() {}

use ember::{Counter, Family, Histogram, LabelSet, LabelValue, StaticLabelSet};

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelValue)]
#[label(rename_all = "snake_case")]
enum Outcome {
    Ok,
    TimedOut,
    #[label(rename = "err")]
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Labels {
    r#type: &'static str,
    outcome: Outcome,
    #[label(rename = "code")]
    status: u16,
}

fn main() {
    assert_eq!(Labels::NAMES, ["type", "outcome", "code"]);
    let f: Family<Labels, Counter> = Family::new();
    let key = Labels { r#type: "a", outcome: Outcome::TimedOut, status: 7 };
    f.get_or_create(&key).inc();
    assert_eq!(ember::LabelValue::label_value(&Outcome::TimedOut), "timed_out");
    assert_eq!(ember::LabelValue::label_value(&Outcome::Error), "err");
    let _h: Family<Labels, Histogram> = Family::new();
}

//! Family behaviour: handles, removal, the cap, concurrency and a model test.

use super::*;
use crate::{Counter, Histogram};
use ember_expfmt::{Encoder, Format};
use proptest::prelude::*;
use std::collections::HashMap;

fn render<M: FamilyMember>(f: &impl EncodeMetric) -> String {
    let mut enc = Encoder::new(Format::Text);
    let mut fam = enc.family("f", "", M::TYPE, None);
    f.encode(&mut fam, "");
    String::from_utf8(enc.finish()).unwrap()
}

#[test]
fn children_are_independent_handles() {
    let f = Family::<[String; 1], Counter>::with_label_names(["k"]).unwrap();
    let a = f.with_label_values(&["a"]);
    let b = f.with_label_values(&["b"]);
    // Holding both handles while creating a third must not deadlock.
    f.with_label_values(&["c"]).inc();
    a.inc();
    b.inc_by(2);
    assert_eq!(
        render::<Counter>(&f),
        "# TYPE f_total counter\nf_total{k=\"a\"} 1\nf_total{k=\"b\"} 2\nf_total{k=\"c\"} 1\n"
    );
}

#[test]
fn remove_keeps_index_consistent() {
    let f = Family::<[String; 1], Counter>::with_label_names(["k"]).unwrap();
    for k in ["a", "b", "c"] {
        f.with_label_values(&[k]).inc();
    }
    assert!(f.remove(&["a".to_string()]));
    assert!(!f.remove(&["a".to_string()]));
    f.with_label_values(&["c"]).inc();
    assert_eq!(f.with_label_values(&["c"]).get(), 2);
    assert_eq!(f.len(), 2);
}

#[test]
fn overflow_series_collects_past_the_cap() {
    let f = Family::<[String; 2], Counter>::with_label_names(["a", "b"]).unwrap();
    f.set_max_series(1);
    f.with_label_values(&["1", "1"]).inc();
    f.with_label_values(&["2", "2"]).inc();
    f.with_label_values(&["3", "3"]).inc();
    assert_eq!(f.rejected_label_sets(), 2);
    assert_eq!(
        render::<Counter>(&f),
        "# TYPE f_total counter\nf_total{a=\"1\",b=\"1\"} 1\n\
         f_total{a=\"__overflow__\",b=\"__overflow__\"} 2\n"
    );
}

#[test]
fn label_values_are_escaped_and_reserved_names_refused() {
    let f = Family::<[String; 1], Counter>::with_label_names(["path"]).unwrap();
    f.with_label_values(&["C:\\\"x\"\n"]).inc();
    assert!(render::<Counter>(&f).contains(r#"f_total{path="C:\\\"x\"\n"} 1"#));
    assert!(Family::<[String; 1], Histogram>::with_label_names(["le"]).is_err());
    assert!(Family::<[String; 1], Counter>::with_label_names(["__x"]).is_err());
    assert!(Family::<[String; 2], Counter>::with_label_names(["a", "a"]).is_err());
}

#[test]
fn concurrent_inserts_find_every_key_exactly_once() {
    let f = Family::<[String; 2], Counter>::with_label_names(["t", "k"]).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let f = &f;
            s.spawn(move || {
                // Every thread touches every key, in a different order, so inserts race.
                for round in 0..3 {
                    for i in 0..500 {
                        let k = (i * 7 + t * 131 + round) % 500;
                        f.with_label_values(&["x", &k.to_string()]).inc();
                    }
                }
            });
        }
    });
    assert_eq!(f.len(), 500);
    for k in 0..500 {
        assert_eq!(
            f.with_label_values(&["x", &k.to_string()]).get(),
            12,
            "key {k}"
        );
    }
    let text = render::<Counter>(&f);
    assert_eq!(text.lines().count(), 501);
    for k in 0..500 {
        let line = format!("f_total{{t=\"x\",k=\"{k}\"}} 12\n");
        assert_eq!(text.matches(&line).count(), 1, "{line}");
    }
}

#[test]
fn removed_series_come_back_fresh_and_clear_drops_everything() {
    let f = Family::<[String; 1], Counter>::with_label_names(["k"]).unwrap();
    let old = f.with_label_values(&["a"]).clone();
    old.inc_by(5);
    assert!(f.remove(&["a".to_string()]));
    assert!(f.get(&["a".to_string()]).is_none());
    // The old handle still works but is no longer exposed.
    old.inc();
    f.with_label_values(&["a"]).inc();
    assert_eq!(f.with_label_values(&["a"]).get(), 1);
    assert_eq!(
        render::<Counter>(&f),
        "# TYPE f_total counter\nf_total{k=\"a\"} 1\n"
    );
    f.set_max_series(1);
    f.with_label_values(&["b"]).inc();
    f.clear();
    assert!(f.is_empty());
    assert_eq!(render::<Counter>(&f), "# TYPE f_total counter\n");
    f.with_label_values(&["c"]).inc();
    assert_eq!(
        render::<Counter>(&f),
        "# TYPE f_total counter\nf_total{k=\"c\"} 1\n"
    );
}

#[test]
fn long_and_short_values_are_told_apart() {
    let f = Family::<[String; 2], Counter>::with_label_names(["a", "b"]).unwrap();
    let keys = [
        ["GET", "200"],
        ["GET", "a value longer than seven"],
        ["", ""],
        ["GE", "T200"],
    ];
    for (i, k) in keys.iter().enumerate() {
        f.with_label_values(k).inc_by(i as u64 + 1);
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(f.with_label_values(k).get(), i as u64 + 1);
        let owned = k.map(str::to_string);
        assert_eq!(f.get(&owned).map(Counter::get), Some(i as u64 + 1));
        assert_eq!(f.get_or_create(&owned).get(), i as u64 + 1);
    }
    assert_eq!(f.len(), 4);
}

#[derive(Debug, Clone)]
enum Op {
    Inc(u8),
    Remove(u8),
    Get(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..40u8).prop_map(Op::Inc),
        2 => (0..40u8).prop_map(Op::Remove),
        3 => (0..40u8).prop_map(Op::Get),
        1 => Just(Op::Clear),
    ]
}

/// Label values of mixed lengths, so packed and string comparisons both run.
fn value(k: u8) -> String {
    if k % 3 == 0 {
        format!("long label value {k}")
    } else {
        k.to_string()
    }
}

proptest! {
    /// A family against a `HashMap` of counts plus the creation order, through random
    /// increments, removals, lookups and clears; the exposition lists exactly the live
    /// series in creation order.
    #[test]
    fn family_behaves_like_a_hash_map(ops in proptest::collection::vec(op(), 1..300)) {
        let f = Family::<[String; 2], Counter>::with_label_names(["a", "b"]).unwrap();
        let mut model: HashMap<String, u64> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for op in ops {
            match op {
                Op::Inc(k) => {
                    let v = value(k);
                    f.with_label_values(&["m", &v]).inc();
                    if !model.contains_key(&v) {
                        order.push(v.clone());
                    }
                    *model.entry(v).or_default() += 1;
                }
                Op::Remove(k) => {
                    let v = value(k);
                    let existed = f.remove(&["m".to_string(), v.clone()]);
                    prop_assert_eq!(existed, model.remove(&v).is_some());
                    order.retain(|o| *o != v);
                }
                Op::Get(k) => {
                    let v = value(k);
                    let got = f.get(&["m".to_string(), v.clone()]).map(Counter::get);
                    prop_assert_eq!(got, model.get(&v).copied());
                }
                Op::Clear => {
                    f.clear();
                    model.clear();
                    order.clear();
                }
            }
            prop_assert_eq!(f.len(), model.len());
        }
        let mut expected = String::from("# TYPE f_total counter\n");
        for v in &order {
            expected.push_str(&format!("f_total{{a=\"m\",b=\"{v}\"}} {}\n", model[v]));
        }
        prop_assert_eq!(render::<Counter>(&f), expected);
    }
}

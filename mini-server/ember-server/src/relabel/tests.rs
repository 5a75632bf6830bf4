//! Cases from Prometheus's `model/relabel/relabel_test.go` (`TestRelabel`,
//! `TestRelabelValidate`, `TestTargetLabelValidity`), written as YAML.

use super::*;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn cfgs(yaml: &str) -> Vec<RelabelConfig> {
    let raw: Vec<RawRelabelConfig> = serde_norway::from_str(yaml).unwrap();
    raw.into_iter()
        .map(|r| RelabelConfig::try_from(r).unwrap())
        .collect()
}

fn check(input: &[(&str, &str)], yaml: &str, output: Option<&[(&str, &str)]>) {
    let got = process(&l(input), &cfgs(yaml));
    assert_eq!(got, output.map(l), "relabel {yaml}");
}

#[test]
fn replace_with_braced_group() {
    check(
        &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        "- {source_labels: [a], regex: f(.*), target_label: d, separator: ';', replacement: 'ch${1}-ch${1}'}",
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
    );
}

#[test]
fn chained_replaces_see_earlier_results() {
    check(
        &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        "- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}
- {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}",
        Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
    );
}

#[test]
fn drop_stops_processing() {
    check(
        &[("a", "foo")],
        "- {source_labels: [a], regex: '.*o.*', action: drop}
- {source_labels: [a], regex: f(.*), target_label: d, replacement: 'ch$1-ch$1'}",
        None,
    );
    check(
        &[("a", "foo"), ("b", "bar")],
        "- {source_labels: [a], regex: '.*o.*', action: drop}",
        None,
    );
}

#[test]
fn regex_is_anchored() {
    check(
        &[("a", "abc")],
        "- {source_labels: [a], regex: '.*(b).*', target_label: d, replacement: '$1'}",
        Some(&[("a", "abc"), ("d", "b")]),
    );
    check(
        &[("a", "foo")],
        "- {source_labels: [a], regex: no-match, action: drop}",
        Some(&[("a", "foo")]),
    );
    check(
        &[("a", "foo")],
        "- {source_labels: [a], regex: 'f|o', action: drop}",
        Some(&[("a", "foo")]),
    );
    check(
        &[("a", "foo")],
        "- {source_labels: [a], regex: no-match, action: keep}",
        None,
    );
    check(
        &[("a", "foo")],
        "- {source_labels: [a], regex: 'f.*', action: keep}",
        Some(&[("a", "foo")]),
    );
}

#[test]
fn no_replacement_without_match() {
    check(
        &[("a", "boo")],
        "- {source_labels: [a], regex: f, target_label: b, replacement: bar}",
        Some(&[("a", "boo")]),
    );
}

#[test]
fn hashmod_matches_prometheus() {
    check(
        &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        "- {source_labels: [c], target_label: d, action: hashmod, modulus: 1000}",
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    );
    check(
        &[("a", "foo\nbar")],
        "- {source_labels: [a], target_label: b, action: hashmod, modulus: 1000}",
        Some(&[("a", "foo\nbar"), ("b", "734")]),
    );
}

#[test]
fn labelmap_copies_matching_names() {
    check(
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        "- {regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}",
        Some(&[
            ("a", "foo"),
            ("b1", "bar"),
            ("b2", "baz"),
            ("bar_b1", "bar"),
            ("bar_b2", "baz"),
        ]),
    );
    check(
        &[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
        ],
        "- {regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}",
        Some(&[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
            ("my_bar", "aaa"),
            ("my_baz", "bbb"),
        ]),
    );
}

#[test]
fn target_label_from_groups() {
    check(
        &[("a", "some-name-value")],
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${2}', target_label: '${1}'}",
        Some(&[("a", "some-name-value"), ("name", "value")]),
    );
    // Empty replacement: nothing written.
    check(
        &[("a", "some-name-value")],
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${3}', target_label: '${1}'}",
        Some(&[("a", "some-name-value")]),
    );
    // Target expands to an invalid name: nothing written.
    check(
        &[("a", "some-name-0")],
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}
- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}
- {source_labels: [a], regex: 'some-([^-]+)(-[^,]+)', replacement: '${1}', target_label: '${3}'}",
        Some(&[("a", "some-name-0")]),
    );
}

#[test]
fn real_life_sd_tags() {
    check(
        &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
        r#"- {source_labels: [__meta_sd_tags], regex: "(?:.+,|^)path:(/[^,]+).*", replacement: "${1}", target_label: __metrics_path__}
- {source_labels: [__meta_sd_tags], regex: "(?:.+,|^)job:([^,]+).*", replacement: "${1}", target_label: job}
- {source_labels: [__meta_sd_tags], regex: "(?:.+,|^)label:([^=]+)=([^,]+).*", replacement: "${2}", target_label: "${1}"}"#,
        Some(&[
            ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar"),
        ]),
    );
}

#[test]
fn labeldrop_then_replace_same_name() {
    check(
        &[
            ("__meta_kubernetes_pod_container_port_name", "foo"),
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
        ],
        "- {regex: '^__meta_kubernetes_pod_container_port_name$', action: labeldrop}
- {source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port], regex: '(.+)', replacement: metrics, target_label: __meta_kubernetes_pod_container_port_name}
- {source_labels: [__meta_kubernetes_pod_container_port_name], regex: '^metrics$', action: keep}",
        Some(&[
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ]),
    );
}

#[test]
fn labelkeep_and_labeldrop() {
    let input = [("a", "foo"), ("b1", "bar"), ("b2", "baz")];
    check(
        &input,
        "- {regex: '(b.*)', action: labelkeep}",
        Some(&[("b1", "bar"), ("b2", "baz")]),
    );
    check(
        &input,
        "- {regex: '(b.*)', action: labeldrop}",
        Some(&[("a", "foo")]),
    );
}

#[test]
fn case_actions() {
    check(
        &[("foo", "bAr123Foo")],
        "- {source_labels: [foo], action: uppercase, target_label: foo_uppercase}
- {source_labels: [foo], action: lowercase, target_label: foo_lowercase}",
        Some(&[
            ("foo", "bAr123Foo"),
            ("foo_lowercase", "bar123foo"),
            ("foo_uppercase", "BAR123FOO"),
        ]),
    );
}

#[test]
fn keepequal_and_dropequal() {
    let input = [
        ("__tmp_port", "1234"),
        ("__port1", "1234"),
        ("__port2", "5678"),
    ];
    let keep = |yaml: &str, kept: bool| check(&input, yaml, kept.then_some(&input[..]));
    keep(
        "- {source_labels: [__tmp_port], action: keepequal, target_label: __port1}",
        true,
    );
    keep(
        "- {source_labels: [__tmp_port], action: dropequal, target_label: __port1}",
        false,
    );
    keep(
        "- {source_labels: [__tmp_port], action: dropequal, target_label: __port2}",
        true,
    );
    keep(
        "- {source_labels: [__tmp_port], action: keepequal, target_label: __port2}",
        false,
    );
}

#[test]
fn action_names_are_case_insensitive() {
    check(
        &[("a", "foo")],
        "- {source_labels: [a], regex: 'f.*', action: DROP}",
        None,
    );
}

fn validation_error(yaml: &str) -> String {
    RelabelConfig::from_yaml(yaml).unwrap_err()
}

#[test]
fn validation_errors_read_as_prometheus() {
    assert_eq!(
        validation_error("action: ''"),
        "relabel action cannot be empty"
    );
    assert_eq!(
        validation_error("action: replace"),
        "relabel configuration for replace action requires 'target_label' value"
    );
    assert_eq!(
        validation_error("action: lowercase"),
        "relabel configuration for lowercase action requires 'target_label' value"
    );
    assert_eq!(
        validation_error("action: lowercase\ntarget_label: '${3}'"),
        r#""${3}" is invalid 'target_label' for lowercase action"#
    );
    assert!(
        RelabelConfig::from_yaml("source_labels: [a]\nregex: 'some-([^-]+)-([^,]+)'\nreplacement: '${1}'\ntarget_label: '${3}'")
            .is_ok()
    );
    assert_eq!(
        validation_error("source_labels: [a]\nreplacement: '${1}'\ntarget_label: '0${3}'"),
        r#""0${3}" is invalid 'target_label' for replace action"#
    );
    assert_eq!(
        validation_error("source_labels: [a]\nreplacement: '${1}'\ntarget_label: '-${3}'"),
        r#""-${3}" is invalid 'target_label' for replace action"#
    );
    assert_eq!(
        validation_error("action: hashmod\ntarget_label: x"),
        "relabel configuration for hashmod requires non-zero modulus"
    );
    assert_eq!(
        validation_error("action: foo"),
        r#"unknown relabel action "foo""#
    );
    assert_eq!(
        validation_error("action: uppercase\ntarget_label: x\nreplacement: y"),
        "'replacement' can not be set for uppercase action"
    );
    assert_eq!(
        validation_error("action: labelmap\nreplacement: '-'"),
        r#""-" is invalid 'replacement' for labelmap action"#
    );
    assert_eq!(
        validation_error("action: keepequal\ntarget_label: x\nregex: '(.*)'"),
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields"
    );
    assert_eq!(
        validation_error("action: labeldrop\nsource_labels: [a]"),
        "labeldrop action requires only 'regex', and no other fields"
    );
    assert!(
        validation_error("source_labels: ['a-b']\ntarget_label: x")
            .starts_with(r#"source_labels[0]: "a-b" is not a valid label name at line 1"#)
    );
    assert!(validation_error("regex: '('\ntarget_label: x").starts_with("error parsing regexp"));
    assert!(validation_error("target_label: x\nfoo: 1").contains("unknown field `foo`"));
}

#[test]
fn target_label_validity() {
    for (s, valid) in [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ] {
        assert_eq!(is_relabel_target(s), valid, "{s}");
    }
}

#[test]
fn expand_follows_go() {
    let re = AnchoredRegex::new("(?P<first>a+)(b*)").unwrap();
    let e = |t: &str| re.expand("aab", t).unwrap();
    assert_eq!(e("$1"), "aa");
    assert_eq!(e("${1}x"), "aax");
    // `$1x` names a group called `1x`, which does not exist.
    assert_eq!(e("$1x"), "");
    assert_eq!(e("$first-$2"), "aa-b");
    assert_eq!(e("${first}"), "aa");
    assert_eq!(e("$$1"), "$1");
    assert_eq!(e("$"), "$");
    assert_eq!(e("${1"), "${1");
    assert_eq!(e("$01"), "");
    assert_eq!(e("$9"), "");
    assert_eq!(re.expand("xyz", "$1"), None);
}

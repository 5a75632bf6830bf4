//! Relabeling as Prometheus 2.42's `model/relabel`: the actions, their defaults, their
//! validation errors (same wording), and Go's `Regexp.Expand` for `$1`, `${1}`, `$name`.
//!
//! Regexes are anchored (`^(?:…)$`) and compiled with the `regex` crate, whose syntax is
//! RE2's as Go's is; one difference remains: `\w`, `\d`, `\s` and `\b` are Unicode-aware
//! here and ASCII-only in Go.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::labels::{LabelName, Labels, is_valid_label_name};
use crate::md5::md5;

/// What a relabel step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Writes `replacement` (expanded) to `target_label` when `regex` matches.
    Replace,
    /// Drops the set unless `regex` matches the joined source values.
    Keep,
    /// Drops the set when `regex` matches the joined source values.
    Drop,
    /// Drops the set unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drops the set when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Sets `target_label` to the MD5 of the joined source values modulo `modulus`.
    HashMod,
    /// Copies labels whose names match `regex` to the name given by `replacement`.
    LabelMap,
    /// Removes labels whose names match `regex`.
    LabelDrop,
    /// Removes labels whose names do not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the joined source values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    /// The action's name in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    /// Parses case-insensitively, as Prometheus does.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return Err(format!("unknown relabel action {s:?}")),
        })
    }
}

/// An anchored regular expression that remembers the text it was written as.
#[derive(Debug, Clone)]
pub struct AnchoredRegex {
    source: String,
    regex: Regex,
}

impl AnchoredRegex {
    /// Compiles `^(?:source)$`.
    ///
    /// ```
    /// let re = ember_server::AnchoredRegex::new("f(.*)").unwrap();
    /// assert!(re.is_match("foo"));
    /// assert!(!re.is_match("afoo"));
    /// ```
    pub fn new(source: &str) -> Result<Self, String> {
        let regex = Regex::new(&format!("^(?:{source})$")).map_err(|e| {
            // The regex crate draws a multi-line caret diagram; keep only its last line.
            let text = e.to_string();
            let reason = text
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("error: ");
            format!("error parsing regexp: {reason}: `{source}`")
        })?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The expression as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// When the whole of `text` matches, `template` expanded as Go's `Regexp.ExpandString`.
    ///
    /// ```
    /// let re = ember_server::AnchoredRegex::new("(?P<x>a)(b)").unwrap();
    /// assert_eq!(re.expand("ab", "$x-${2}-$$-$3-$").as_deref(), Some("a-b-$--$"));
    /// ```
    pub fn expand(&self, text: &str, template: &str) -> Option<String> {
        let caps = self.regex.captures(text)?;
        Some(expand_go(&self.regex, &caps, template))
    }
}

/// Go's `regexp.(*Regexp).expand`: `$$` is `$`; `$name`/`${name}` is a group by number or
/// name (empty when absent); a malformed reference leaves the `$` as text.
fn expand_go(re: &Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let Some((name, after)) = extract_ref(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// Splits a reference after `$` into its name and the rest, as Go's `extract`.
fn extract_ref(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if brace {
        let after = body[end..].strip_prefix('}')?;
        Some((name, after))
    } else {
        Some((name, &body[end..]))
    }
}

/// A reference made only of digits (no leading zero, below 1e8) names a group by number.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    let n: usize = name.parse().ok()?;
    (n < 100_000_000).then_some(n)
}

/// `relabelTarget` of Prometheus: a label name possibly built from `$1`/`${name}` references.
static RELABEL_TARGET: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // a constant expression, covered by the tests
    Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{(?-u:\w)+\}|(?-u:\w)+))+(?-u:\w)*)+$")
        .expect("relabel target pattern compiles")
});

fn is_relabel_target(s: &str) -> bool {
    RELABEL_TARGET.is_match(s)
}

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// One validated relabel step.
#[derive(Debug, Clone)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    pub source_labels: Vec<String>,
    /// Joins the source values; `;` by default.
    pub separator: String,
    /// Anchored regex; `(.*)` by default.
    pub regex: AnchoredRegex,
    /// Modulus for `hashmod`.
    pub modulus: u64,
    /// Label written by replace, hashmod, lowercase, uppercase; compared by keepequal/dropequal.
    pub target_label: String,
    /// Replacement template; `$1` by default.
    pub replacement: String,
    /// The action; `replace` by default.
    pub action: Action,
}

/// A relabel step as written in YAML, before defaults and validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelabelConfig {
    source_labels: Option<Vec<LabelName>>,
    separator: Option<String>,
    #[serde(default, deserialize_with = "present")]
    regex: Option<Option<String>>,
    modulus: Option<u64>,
    target_label: Option<String>,
    replacement: Option<String>,
    action: Option<String>,
}

impl<'de> Deserialize<'de> for RelabelConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(crate::duration::ValidatedMap::<RawRelabelConfig, Self>(
            std::marker::PhantomData,
        ))
    }
}

/// Tells `regex: null` (present, null) from an absent key.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl RelabelConfig {
    /// A step with Prometheus's defaults for everything but the action.
    pub fn new(action: Action) -> Self {
        Self {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: default_regex(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action,
        }
    }

    /// Parses one step from YAML, applying defaults and validation as Prometheus.
    ///
    /// ```
    /// let c = ember_server::RelabelConfig::from_yaml("action: hashmod\ntarget_label: x").unwrap_err();
    /// assert_eq!(c, "relabel configuration for hashmod requires non-zero modulus");
    /// ```
    pub fn from_yaml(yaml: &str) -> Result<Self, String> {
        let raw: RawRelabelConfig = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
        Self::try_from(raw)
    }

    /// Applies this step to `lb`; `false` means the label set is dropped.
    pub fn apply(&self, lb: &mut Labels) -> bool {
        let val = self
            .source_labels
            .iter()
            .map(|n| lb.get(n))
            .collect::<Vec<_>>()
            .join(&self.separator);
        match self.action {
            Action::Drop => return !self.regex.is_match(&val),
            Action::Keep => return self.regex.is_match(&val),
            Action::DropEqual => return lb.get(&self.target_label) != val,
            Action::KeepEqual => return lb.get(&self.target_label) == val,
            Action::Replace => {
                let Some(caps) = self.regex.regex.captures(&val) else {
                    return true;
                };
                let target = expand_go(&self.regex.regex, &caps, &self.target_label);
                // Prometheus 2.42 deletes the *configured* target label in both cases below.
                if !is_valid_label_name(&target) {
                    lb.del(&self.target_label);
                    return true;
                }
                let res = expand_go(&self.regex.regex, &caps, &self.replacement);
                if res.is_empty() {
                    lb.del(&self.target_label);
                    return true;
                }
                lb.set(target, res);
            }
            Action::Lowercase => lb.set(self.target_label.clone(), val.to_lowercase()),
            Action::Uppercase => lb.set(self.target_label.clone(), val.to_uppercase()),
            Action::HashMod => {
                let sum = md5(val.as_bytes());
                // As Prometheus: the last 8 bytes of the digest, big-endian.
                let mut last = [0u8; 8];
                last.copy_from_slice(&sum[8..]);
                let m = u64::from_be_bytes(last) % self.modulus.max(1);
                lb.set(self.target_label.clone(), m.to_string());
            }
            Action::LabelMap => {
                let snapshot: Vec<(String, String)> = lb
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect();
                for (name, value) in snapshot {
                    if let Some(new) = self.regex.expand(&name, &self.replacement) {
                        lb.set(new, value);
                    }
                }
            }
            Action::LabelDrop => lb.retain(|n, _| !self.regex.is_match(n)),
            Action::LabelKeep => lb.retain(|n, _| self.regex.is_match(n)),
        }
        true
    }
}

fn default_regex() -> AnchoredRegex {
    static DEFAULT: LazyLock<AnchoredRegex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)] // a constant expression, covered by every test
        AnchoredRegex::new(DEFAULT_REGEX).expect("`(.*)` compiles")
    });
    DEFAULT.clone()
}

impl TryFrom<RawRelabelConfig> for RelabelConfig {
    type Error = String;

    fn try_from(raw: RawRelabelConfig) -> Result<Self, String> {
        let action = match raw.action.as_deref() {
            None => Action::Replace,
            Some("") => return Err("relabel action cannot be empty".to_owned()),
            Some(a) => a.parse()?,
        };
        let regex_set = raw.regex.is_some();
        let regex = match raw.regex {
            None => default_regex(),
            Some(None) => AnchoredRegex::new("")?,
            Some(Some(s)) => AnchoredRegex::new(&s)?,
        };
        let c = RelabelConfig {
            source_labels: raw
                .source_labels
                .iter()
                .flatten()
                .map(|n| n.0.clone())
                .collect(),
            separator: raw
                .separator
                .unwrap_or_else(|| DEFAULT_SEPARATOR.to_owned()),
            regex,
            modulus: raw.modulus.unwrap_or(0),
            target_label: raw.target_label.unwrap_or_default(),
            replacement: raw
                .replacement
                .unwrap_or_else(|| DEFAULT_REPLACEMENT.to_owned()),
            action,
        };
        c.validate(regex_set, raw.source_labels.is_some())?;
        Ok(c)
    }
}

impl RelabelConfig {
    /// Prometheus's `Config.Validate`, same checks in the same order and wording.
    fn validate(&self, regex_set: bool, source_labels_set: bool) -> Result<(), String> {
        use Action::*;
        let a = self.action;
        let t = &self.target_label;
        if self.modulus == 0 && a == HashMod {
            return Err("relabel configuration for hashmod requires non-zero modulus".to_owned());
        }
        let needs_target = matches!(
            a,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && t.is_empty() {
            return Err(format!(
                "relabel configuration for {a} action requires 'target_label' value"
            ));
        }
        let invalid_target = || Err(format!("{t:?} is invalid 'target_label' for {a} action"));
        if a == Replace && !t.contains('$') && !is_valid_label_name(t) {
            return invalid_target();
        }
        if a == Replace && t.contains('$') && !is_relabel_target(t) {
            return invalid_target();
        }
        let case_or_equal = matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual);
        if case_or_equal && !is_valid_label_name(t) {
            return invalid_target();
        }
        if case_or_equal && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {a} action"));
        }
        if a == LabelMap && !is_relabel_target(&self.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {a} action",
                self.replacement
            ));
        }
        if a == HashMod && !is_valid_label_name(t) {
            return invalid_target();
        }
        if matches!(a, DropEqual | KeepEqual)
            && (regex_set
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{a} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(a, LabelDrop | LabelKeep)
            && (source_labels_set
                || !t.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{a} action requires only 'regex', and no other fields"
            ));
        }
        Ok(())
    }
}

/// Applies `cfgs` in order; `None` when a step drops the set.
///
/// ```
/// use ember_server::{process, Labels, RelabelConfig};
/// let c = RelabelConfig::from_yaml("source_labels: [a]\nregex: f(.*)\ntarget_label: d\nreplacement: ch${1}-ch${1}").unwrap();
/// let out = process(&Labels::from_pairs([("a", "foo")]), &[c]).unwrap();
/// assert_eq!(out.get("d"), "choo-choo");
/// ```
pub fn process(labels: &Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    let mut lb = labels.clone();
    for c in cfgs {
        if !c.apply(&mut lb) {
            return None;
        }
    }
    Some(lb)
}

#[cfg(test)]
mod tests;

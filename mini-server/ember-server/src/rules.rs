//! Rule files in Prometheus's `rulefmt` schema: the shape is checked now (fields, names,
//! record/alert exclusivity); the PromQL in `expr` is checked once the PromQL crate lands.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::duration::PromDuration;
use crate::error::Error;
use crate::labels::{is_valid_label_name, is_valid_metric_name};

/// A parsed rule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The rule groups.
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

/// One rule group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    /// Unique within the file.
    #[serde(default)]
    pub name: String,
    /// Evaluation interval; the global one when absent.
    pub interval: Option<PromDuration>,
    /// Most alerts or series the group may produce; 0 means no limit.
    #[serde(default)]
    pub limit: u64,
    /// The rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Name of the series a recording rule writes.
    pub record: Option<String>,
    /// Name of the alert an alerting rule fires.
    pub alert: Option<String>,
    /// The PromQL expression.
    #[serde(default)]
    pub expr: String,
    /// How long the condition must hold before an alert fires.
    #[serde(rename = "for")]
    pub for_: Option<PromDuration>,
    /// How long an alert keeps firing after the condition clears.
    pub keep_firing_for: Option<PromDuration>,
    /// Labels added to the result.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Alert annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        self.record
            .as_deref()
            .or(self.alert.as_deref())
            .unwrap_or("")
    }
}

impl Rule {
    /// `rulefmt.RuleNode.Validate` without the PromQL parse.
    fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        match (&self.record, &self.alert) {
            (Some(_), Some(_)) => errs.push("only one of 'record' and 'alert' must be set".into()),
            (None, None) => errs.push("one of 'record' or 'alert' must be set".into()),
            _ => {}
        }
        if self.expr.is_empty() {
            errs.push("field 'expr' must be set in rule".into());
        }
        if let Some(record) = &self.record {
            if !self.annotations.is_empty() {
                errs.push("invalid field 'annotations' in recording rule".into());
            }
            if self.for_.is_some() {
                errs.push("invalid field 'for' in recording rule".into());
            }
            if self.keep_firing_for.is_some() {
                errs.push("invalid field 'keep_firing_for' in recording rule".into());
            }
            if !is_valid_metric_name(record) {
                errs.push(format!("invalid recording rule name: {record}"));
            }
        }
        for name in self.labels.keys() {
            if !is_valid_label_name(name) {
                errs.push(format!("invalid label name: {name}"));
            }
        }
        for name in self.annotations.keys() {
            if !is_valid_label_name(name) {
                errs.push(format!("invalid annotation name: {name}"));
            }
        }
        errs
    }
}

/// Reads and validates a rule file; the error lists every problem, one per line.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("ember-rules-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let p = dir.join("r.yml");
/// std::fs::write(&p, "groups:\n- name: g\n  rules:\n  - record: job:up\n    expr: sum(up)\n").unwrap();
/// assert_eq!(ember_server::parse_rule_file(&p).unwrap().groups[0].rules.len(), 1);
/// std::fs::write(&p, "groups:\n- name: g\n  rules:\n  - expr: up\n").unwrap();
/// assert!(ember_server::parse_rule_file(&p).unwrap_err().to_string()
///     .contains("one of 'record' or 'alert' must be set"));
/// ```
pub fn parse_rule_file(path: &Path) -> Result<RuleFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let file: Option<RuleFile> = serde_norway::from_str(&text).map_err(|e| Error::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let file = file.unwrap_or(RuleFile { groups: Vec::new() });
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for g in &file.groups {
        if g.name.is_empty() {
            errs.push("Groupname must not be empty".to_owned());
        } else if !names.insert(g.name.as_str()) {
            errs.push(format!(
                "groupname: {:?} is repeated in the same file",
                g.name
            ));
        }
        for (i, r) in g.rules.iter().enumerate() {
            for e in r.validate() {
                errs.push(format!(
                    "group {:?}, rule {}, {:?}: {e}",
                    g.name,
                    i + 1,
                    r.name()
                ));
            }
        }
    }
    if errs.is_empty() {
        Ok(file)
    } else {
        Err(Error::Invalid {
            path: path.to_owned(),
            message: errs.join("\n"),
        })
    }
}

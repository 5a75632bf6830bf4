//! Target group files for `file_sd_configs`: JSON or YAML lists of `{targets, labels}`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::config::TargetGroup;
use crate::error::Error;
use crate::labels::{Labels, is_valid_label_name};

/// JSON target groups: unknown keys are ignored, as Go's `encoding/json` does.
#[derive(Debug, Deserialize)]
struct JsonGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Reads the target groups in `path`, chosen by extension (`.json`, else YAML).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("ember-sd-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let p = dir.join("t.json");
/// std::fs::write(&p, r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}]"#).unwrap();
/// let groups = ember_server::read_target_groups(&p).unwrap();
/// assert_eq!(groups[0].targets, ["a:1", "b:2"]);
/// assert_eq!(groups[0].labels.get("env"), "prod");
/// ```
pub fn read_target_groups(path: &Path) -> Result<Vec<TargetGroup>, Error> {
    let text = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let parse = |message: String| Error::Parse {
        path: path.to_owned(),
        message,
    };
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        let groups: Vec<JsonGroup> =
            serde_json::from_slice(&text).map_err(|e| parse(e.to_string()))?;
        groups
            .into_iter()
            .map(|g| {
                let labels = g.labels.unwrap_or_default();
                if let Some(bad) = labels.keys().find(|n| !is_valid_label_name(n)) {
                    return Err(parse(format!("{bad:?} is not a valid label name")));
                }
                Ok(TargetGroup {
                    targets: g.targets,
                    labels: Labels::from_pairs(labels),
                })
            })
            .collect()
    } else {
        let groups: Option<Vec<TargetGroup>> =
            serde_norway::from_slice(&text).map_err(|e| parse(e.to_string()))?;
        Ok(groups.unwrap_or_default())
    }
}

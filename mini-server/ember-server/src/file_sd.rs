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

/// The label file SD gives every target: the file it came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// Reads the target groups in `path`, chosen by extension (`.json`, else YAML), and
/// labels each group with `__meta_filepath` as Prometheus's file SD does.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("ember-sd-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let p = dir.join("t.json");
/// std::fs::write(&p, r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}]"#).unwrap();
/// let groups = ember_server::read_target_groups(&p).unwrap();
/// assert_eq!(groups[0].targets, ["a:1", "b:2"]);
/// assert_eq!(groups[0].labels.get("env"), "prod");
/// assert_eq!(groups[0].labels.get("__meta_filepath"), p.to_str().unwrap());
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
    let mut groups = if is_json {
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
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let groups: Option<Vec<TargetGroup>> =
            serde_norway::from_slice(&text).map_err(|e| parse(e.to_string()))?;
        groups.unwrap_or_default()
    };
    for g in &mut groups {
        g.labels.set(FILEPATH_LABEL, path.to_string_lossy());
    }
    Ok(groups)
}

//! `os`: `node_os_info` and `node_os_version` from os-release(5), read from
//! `<rootfs>/etc/os-release`, falling back to `<rootfs>/usr/lib/os-release`.

use std::collections::HashMap;
use std::path::PathBuf;

use ember_expfmt::MetricFamily;
use ember_exporter::{Collector, CollectorError, CollectorFlag};

use super::{Entry, no_args};
use crate::util::{Family, read_string};

pub(crate) const ENTRY: Entry = Entry {
    flag: CollectorFlag {
        name: "os",
        enabled_by_default: true,
    },
    args: no_args,
    build: |ctx| {
        Ok(Box::new(Os {
            files: vec![
                ctx.paths.root("/etc/os-release"),
                ctx.paths.root("/usr/lib/os-release"),
            ],
        }))
    },
};

#[derive(Debug)]
struct Os {
    files: Vec<PathBuf>,
}

/// The labels of `node_os_info`, in upstream's order, with their os-release keys.
const INFO_LABELS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

/// Parses os-release(5): `KEY=value` lines with shell quoting (double quotes with
/// backslash escapes, single quotes literal), `#` comments.
pub(crate) fn parse_os_release(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let mut value = String::new();
        let mut chars = raw.chars();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some('"') | None, '\\') => {
                    if let Some(next) = chars.next() {
                        value.push(next);
                    }
                }
                (None, '#') => break,
                (None, c) if c.is_whitespace() => break,
                (_, c) => value.push(c),
            }
        }
        out.insert(key.trim().to_string(), value);
    }
    out
}

/// The `major.minor` part of `VERSION_ID` as a number, as upstream's
/// `^[0-9]+\.?[0-9]*` match; 0 when it does not start with a digit.
pub(crate) fn version_number(version_id: &str) -> f64 {
    let int_len = version_id
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(version_id.len());
    if int_len == 0 {
        return 0.0;
    }
    let mut end = int_len;
    if version_id[end..].starts_with('.') {
        end += 1;
        end += version_id[end..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(version_id.len() - end);
    }
    version_id[..end]
        .trim_end_matches('.')
        .parse()
        .unwrap_or(0.0)
}

impl Collector for Os {
    fn name(&self) -> &str {
        "os"
    }

    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let mut last_err = None;
        let mut text = None;
        for file in &self.files {
            match read_string(file) {
                Ok(t) => {
                    text = Some(t);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some(text) = text else {
            return Err(last_err.unwrap_or(CollectorError::NoData));
        };
        let fields = parse_os_release(&text);
        let get = |k: &str| fields.get(k).map_or("", String::as_str);
        let labels: Vec<(&str, &str)> = INFO_LABELS.iter().map(|(l, k)| (*l, get(k))).collect();
        let mut info = Family::gauge(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
        );
        info.add(&labels, 1.0);
        info.push_to(out);
        let mut version = Family::gauge(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
        );
        version.add(
            &[
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("name", get("NAME")),
            ],
            version_number(get("VERSION_ID")),
        );
        version.push_to(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_the_shell() {
        let f = parse_os_release(
            "# comment\nNAME=\"Ubuntu \\\"LTS\\\"\"\nID=ubuntu\nVERSION='22.04 (Jammy)'\n\nBAD\n",
        );
        assert_eq!(f["NAME"], "Ubuntu \"LTS\"");
        assert_eq!(f["ID"], "ubuntu");
        assert_eq!(f["VERSION"], "22.04 (Jammy)");
        assert!(!f.contains_key("BAD"));
    }

    #[test]
    fn version_takes_major_minor() {
        assert_eq!(version_number("22.04"), 22.04);
        assert_eq!(version_number("12"), 12.0);
        assert_eq!(version_number("3.18.4"), 3.18);
        assert_eq!(version_number("7."), 7.0);
        assert_eq!(version_number("rolling"), 0.0);
        assert_eq!(version_number(""), 0.0);
    }

    #[test]
    fn falls_back_to_usr_lib_and_fails_when_neither_exists() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/os");
        let os = Os {
            files: vec![root.join("etc/missing"), root.join("usr/lib/os-release")],
        };
        let mut out = Vec::new();
        os.update(&mut out).unwrap();
        let want =
            parse_os_release(&std::fs::read_to_string(root.join("usr/lib/os-release")).unwrap());
        let id = out[0].metrics[0]
            .labels
            .iter()
            .find(|(k, _)| k == "id")
            .unwrap();
        assert_eq!(id.1, want["ID"]);
        let none = Os {
            files: vec![root.join("etc/missing")],
        };
        assert!(none.update(&mut Vec::new()).is_err());
    }
}

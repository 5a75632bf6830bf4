//! Runnable programs that show Ember's client library in real use. Each binary opens
//! with a "Run with" line:
//!
//! | program | what it shows |
//! |---|---|
//! | `web_app` | an HTTP service (hyper) with `#[ember::metric]` handlers serving `/metrics` |
//! | `batch_job` | a short-lived job that pushes its results to a Pushgateway |
//! | `custom_collector` | a collector that reads a directory at scrape time, served over HTTP |
//!
//! This library holds the little they share: command-line flags.

/// The value of `--name VALUE` or `--name=VALUE` in `args`, if present.
///
/// ```
/// let args = ["prog", "--listen", "127.0.0.1:1", "--dir=/tmp"].map(String::from);
/// assert_eq!(examples::flag(&args, "listen").as_deref(), Some("127.0.0.1:1"));
/// assert_eq!(examples::flag(&args, "dir").as_deref(), Some("/tmp"));
/// assert_eq!(examples::flag(&args, "gateway"), None);
/// ```
pub fn flag(args: &[String], name: &str) -> Option<String> {
    let long = format!("--{name}");
    let with_eq = format!("--{name}=");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a == long {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(&with_eq) {
            return Some(v.to_string());
        }
    }
    None
}

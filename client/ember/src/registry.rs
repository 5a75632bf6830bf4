//! The registry: what a `/metrics` endpoint exposes.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Once};

use ember_expfmt::{Encoder, Format, MetricType, render_labels};
use parking_lot::RwLock;

use crate::collector::Collector;
use crate::error::{Error, check_label_name, check_metric_name};
use crate::metric::EncodeMetric;

/// A set of metrics and collectors, encoded together.
///
/// A `Registry` is a handle: clones share the same contents, so it can be passed to the
/// HTTP handler and kept for registering. Families are written sorted by name, then
/// sub-registries in creation order, then collectors in registration order; the output
/// for the same state is always the same.
///
/// ```
/// use ember::{Counter, Gauge, Registry};
/// use ember_expfmt::Format;
///
/// let registry = Registry::new();
/// let app = registry.sub_registry_with_prefix("app").unwrap();
/// let up = Gauge::default();
/// app.register("workers", "Live workers.", up.clone()).unwrap();
/// up.set(4);
/// let tagged = registry.sub_registry_with_labels([("shard", "7")]).unwrap();
/// tagged.register("hits", "Cache hits.", Counter::default()).unwrap();
/// assert_eq!(
///     registry.encode_to_string(Format::Text),
///     "# HELP app_workers Live workers.\n# TYPE app_workers gauge\napp_workers 4\n\
///      ## HELP hits_total Cache hits.\n# TYPE hits_total counter\nhits_total{shard=\"7\"} 0\n"
/// );
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    prefix: String,
    const_labels: Vec<(String, String)>,
    rendered_const: String,
    created_samples: AtomicBool,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<String, Entry>,
    children: Vec<Registry>,
    collectors: Vec<Box<dyn Collector>>,
}

struct Entry {
    help: String,
    unit: Option<String>,
    metric: Box<dyn EncodeMetric>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.read();
        f.debug_struct("Registry")
            .field("prefix", &self.inner.prefix)
            .field("const_labels", &self.inner.const_labels)
            .field("families", &state.entries.keys().collect::<Vec<_>>())
            .field("sub_registries", &state.children.len())
            .field("collectors", &state.collectors)
            .finish()
    }
}

/// The process-wide registry, for code that has no registry passed to it (what
/// `#[metric]` uses).
///
/// Its first use also finds every `#[metric]` call site of the executable and creates
/// their series at zero, so the first scrape shows every instrumented function.
pub fn default_registry() -> &'static Registry {
    static DISCOVERED: Once = Once::new();
    DISCOVERED.call_once(crate::function_calls::discover_call_sites);
    default_registry_base()
}

/// The default registry, without the call-site discovery its first use runs (which
/// registers families in it).
pub(crate) fn default_registry_base() -> &'static Registry {
    static DEFAULT: LazyLock<Registry> = LazyLock::new(Registry::new);
    &DEFAULT
}

/// The sample names a family writes, for clash detection.
fn sample_names(name: &str, t: MetricType) -> Vec<String> {
    let with = |s: &[&str]| s.iter().map(|s| format!("{name}{s}")).collect();
    match t {
        MetricType::Counter => with(&["_total", "_created"]),
        MetricType::Histogram => with(&["_bucket", "_count", "_sum", "_created"]),
        MetricType::GaugeHistogram => with(&["_bucket", "_gcount", "_gsum"]),
        MetricType::Summary => with(&["", "_count", "_sum", "_created"]),
        MetricType::Info => with(&["_info"]),
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => with(&[""]),
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `metric` as family `name` with HELP text `help`.
    ///
    /// For counters, `name` may carry `_total` or not; the family is named without it.
    /// Fails if the name is invalid or clashes with a registered family (same name, or
    /// a sample name in common such as gauge `x_total` and counter `x`).
    pub fn register(&self, name: &str, help: &str, metric: impl EncodeMetric) -> Result<(), Error> {
        self.register_boxed(name, help, None, Box::new(metric))
    }

    /// Registers `metric` with a unit (`seconds`, `bytes`, ...); the family name gains
    /// the unit as suffix unless it already ends with it, as OpenMetrics requires.
    ///
    /// ```
    /// let r = ember::Registry::new();
    /// r.register_with_unit("request_duration", "Latency.", "seconds", ember::Histogram::default())
    ///     .unwrap();
    /// let om = r.encode_to_string(ember_expfmt::Format::OpenMetrics);
    /// assert!(om.contains("# UNIT request_duration_seconds seconds\n"));
    /// ```
    pub fn register_with_unit(
        &self,
        name: &str,
        help: &str,
        unit: &str,
        metric: impl EncodeMetric,
    ) -> Result<(), Error> {
        self.register_boxed(name, help, Some(unit), Box::new(metric))
    }

    /// Registers an already boxed metric; `unit` as in [`register_with_unit`].
    ///
    /// [`register_with_unit`]: Registry::register_with_unit
    pub fn register_boxed(
        &self,
        name: &str,
        help: &str,
        unit: Option<&str>,
        metric: Box<dyn EncodeMetric>,
    ) -> Result<(), Error> {
        let t = metric.metric_type();
        let mut full = format!("{}{}", self.inner.prefix, name);
        if t == MetricType::Counter && full.ends_with("_total") {
            full.truncate(full.len() - "_total".len());
        }
        if let Some(u) = unit {
            if u.is_empty()
                || !u
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            {
                return Err(Error::InvalidUnit(u.to_string()));
            }
            if !full.ends_with(&format!("_{u}")) {
                full = format!("{full}_{u}");
            }
        }
        check_metric_name(&full)?;
        let mut state = self.inner.state.write();
        let new_names = sample_names(&full, t);
        let clash = state.entries.iter().any(|(n, e)| {
            n == &full
                || sample_names(n, e.metric.metric_type())
                    .iter()
                    .any(|s| new_names.contains(s))
        });
        if clash {
            return Err(Error::AlreadyRegistered(full));
        }
        state.entries.insert(
            full,
            Entry {
                help: help.to_string(),
                unit: unit.map(str::to_string),
                metric,
            },
        );
        Ok(())
    }

    /// Removes family `name` (as registered, prefix included); returns whether it was
    /// there.
    pub fn unregister(&self, name: &str) -> bool {
        let name = name.strip_suffix("_total").unwrap_or(name);
        self.inner.state.write().entries.remove(name).is_some()
    }

    /// Replaces the HELP text of family `name` (as registered, prefix included), if
    /// registered.
    pub(crate) fn set_help(&self, name: &str, help: &str) {
        let name = name.strip_suffix("_total").unwrap_or(name);
        if let Some(e) = self.inner.state.write().entries.get_mut(name) {
            e.help = help.to_string();
        }
    }

    /// Adds a collector called at every encode.
    pub fn register_collector(&self, collector: impl Collector) {
        self.inner
            .state
            .write()
            .collectors
            .push(Box::new(collector));
    }

    /// A child registry whose family names get `<prefix>_` (after this registry's own
    /// prefix) and whose output is part of this registry's.
    pub fn sub_registry_with_prefix(&self, prefix: &str) -> Result<Registry, Error> {
        let prefix = format!("{}{}_", self.inner.prefix, prefix);
        check_metric_name(&prefix)?;
        Ok(self.add_child(prefix, self.inner.const_labels.clone()))
    }

    /// A child registry whose samples all carry these labels (after this registry's own
    /// constant labels) and whose output is part of this registry's.
    pub fn sub_registry_with_labels<'a>(
        &self,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Registry, Error> {
        let mut all = self.inner.const_labels.clone();
        for (k, v) in labels {
            check_label_name(k)?;
            if all.iter().any(|(k2, _)| k2 == k) {
                return Err(Error::DuplicateLabelName(k.to_string()));
            }
            all.push((k.to_string(), v.to_string()));
        }
        Ok(self.add_child(self.inner.prefix.clone(), all))
    }

    fn add_child(&self, prefix: String, const_labels: Vec<(String, String)>) -> Registry {
        let rendered_const = render_labels(const_labels.iter().map(|(k, v)| (&**k, &**v)));
        let child = Registry {
            inner: Arc::new(Inner {
                prefix,
                const_labels,
                rendered_const,
                created_samples: AtomicBool::new(false),
                state: RwLock::default(),
            }),
        };
        self.inner.state.write().children.push(child.clone());
        child
    }

    /// Writes `_created` samples in OpenMetrics output (off by default).
    ///
    /// Counters, histograms and summaries always track when they were created or reset;
    /// this decides whether OpenMetrics scrapes carry it. It is off by default, as in
    /// client_golang, because Prometheus 2.x stores every `_created` sample as a series
    /// of its own. Applies to everything this registry encodes, sub-registries included.
    ///
    /// ```
    /// use ember::{Counter, Registry};
    /// use ember_expfmt::Format;
    /// let r = Registry::new();
    /// r.register("jobs", "Jobs.", Counter::default()).unwrap();
    /// assert!(!r.encode_to_string(Format::OpenMetrics).contains("jobs_created"));
    /// r.set_created_samples(true);
    /// assert!(r.encode_to_string(Format::OpenMetrics).contains("jobs_created "));
    /// ```
    pub fn set_created_samples(&self, on: bool) {
        self.inner.created_samples.store(on, Ordering::Relaxed);
    }

    fn encoder(&self, format: Format, buf: Vec<u8>) -> Encoder {
        let mut enc = Encoder::with_buffer(format, buf);
        enc.set_created_samples(self.inner.created_samples.load(Ordering::Relaxed));
        enc
    }

    /// Encodes everything into `out`, flushing in chunks of about 64 KiB.
    pub fn encode(&self, out: &mut dyn io::Write, format: Format) -> io::Result<()> {
        let mut enc = self.encoder(format, Vec::with_capacity(64 * 1024));
        self.encode_into(&mut enc, &mut Some(out))?;
        enc.finish_to(out)?;
        Ok(())
    }

    /// Encodes everything into a new buffer.
    pub fn encode_to_vec(&self, format: Format) -> Vec<u8> {
        let mut enc = self.encoder(format, Vec::new());
        // With no writer there is nothing to fail.
        let _ = self.encode_into(&mut enc, &mut None);
        enc.finish()
    }

    /// Encodes everything into a `String`.
    pub fn encode_to_string(&self, format: Format) -> String {
        // The encoder only writes UTF-8: names are checked ASCII and values are &str.
        String::from_utf8(self.encode_to_vec(format)).unwrap_or_default()
    }

    /// Encodes this registry's families and children into `enc`, flushing to `out` when
    /// the buffer grows past 64 KiB.
    pub fn encode_into(
        &self,
        enc: &mut Encoder,
        out: &mut Option<&mut dyn io::Write>,
    ) -> io::Result<()> {
        const FLUSH_AT: usize = 64 * 1024;
        let state = self.inner.state.read();
        let consts = &*self.inner.rendered_const;
        let mut rejected = Vec::new();
        for (name, e) in &state.entries {
            let mut fam = enc
                .family(name, &e.help, e.metric.metric_type(), e.unit.as_deref())
                .with_const_labels(consts);
            e.metric.encode(&mut fam, "");
            if let Some(n) = e.metric.rejected_label_sets() {
                rejected.push((name.as_str(), n));
            }
            if let Some(w) = out.as_deref_mut() {
                if enc.buffered() > FLUSH_AT {
                    enc.flush_to(w)?;
                }
            }
        }
        if !rejected.is_empty() {
            let mut fam = enc
                .family(
                    "ember_label_sets_rejected",
                    "Label sets refused because a family reached its series cap.",
                    MetricType::Counter,
                    None,
                )
                .with_const_labels(consts);
            for (name, n) in rejected {
                fam.sample("_total").label("family", name).value(n);
            }
        }
        for child in &state.children {
            child.encode_into(enc, out)?;
        }
        for c in &state.collectors {
            for mut fam in c.collect() {
                if !self.inner.prefix.is_empty() {
                    fam.name.insert_str(0, &self.inner.prefix);
                }
                enc.write_family_with_const_labels(&fam, consts);
            }
            if let Some(w) = out.as_deref_mut() {
                if enc.buffered() > FLUSH_AT {
                    enc.flush_to(w)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counter, Family, Gauge, Histogram};

    #[test]
    fn clashing_names_are_refused() {
        let r = Registry::new();
        r.register("x", "", Counter::default()).unwrap();
        assert_eq!(
            r.register("x_total", "", Gauge::default()),
            Err(Error::AlreadyRegistered("x_total".into()))
        );
        assert!(r.register("x", "", Gauge::default()).is_err());
        assert!(r.register("x_total", "", Counter::default()).is_err());
        r.register("h", "", Histogram::default()).unwrap();
        assert!(r.register("h_bucket", "", Gauge::default()).is_err());
        assert!(r.register("bad-name", "", Gauge::default()).is_err());
        assert!(r.unregister("x_total"));
        r.register("x_total", "", Gauge::default()).unwrap();
    }

    #[test]
    fn output_is_sorted_and_streams_in_chunks() {
        let r = Registry::new();
        let f = Family::<[String; 1], Counter>::with_label_names(["i"]).unwrap();
        for i in 0..5000 {
            f.with_label_values(&[&i.to_string()]).inc();
        }
        r.register("zz", "", f).unwrap();
        r.register("aa", "", Gauge::default()).unwrap();
        let mut out = Vec::new();
        r.encode(&mut out, Format::OpenMetrics).unwrap();
        assert_eq!(out, r.encode_to_vec(Format::OpenMetrics));
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("# TYPE aa gauge\naa 0\n# TYPE zz counter\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn capped_families_report_rejections() {
        let r = Registry::new();
        let f = Family::<[String; 1], Counter>::with_label_names(["u"]).unwrap();
        f.set_max_series(1);
        r.register("logins", "", f.clone()).unwrap();
        f.with_label_values(&["a"]).inc();
        f.with_label_values(&["b"]).inc();
        let text = r.encode_to_string(Format::Text);
        assert!(
            text.contains("ember_label_sets_rejected_total{family=\"logins\"} 1\n"),
            "{text}"
        );
    }
}

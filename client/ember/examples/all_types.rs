//! One metric of every type, observed a little and printed as a scrape would see it.
//!
//! Run with: `cargo run -p ember --example all_types [-- --openmetrics]`
//!
//! The text format 0.0.4 is the default; `--openmetrics` prints OpenMetrics 1.0.

use std::error::Error;

use ember::{
    Counter, Family, FloatGauge, Gauge, Histogram, Info, LabelSet, LabelValue, ProcessCollector,
    Registry, StateSet, Summary,
};
use ember_expfmt::Format;

/// HTTP method of a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelValue)]
#[label(rename_all = "UPPERCASE")]
enum Method {
    Get,
    Post,
}

/// Labels of the request counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Request {
    method: Method,
    status: u16,
}

fn main() -> Result<(), Box<dyn Error>> {
    let format = if std::env::args().any(|a| a == "--openmetrics") {
        Format::OpenMetrics
    } else {
        Format::Text
    };

    let registry = Registry::new();
    // OpenMetrics output carries `_created` for counters, histograms and summaries.
    registry.set_created_samples(true);
    let app = registry.sub_registry_with_prefix("demo")?;

    let requests: Family<Request, Counter> = Family::new();
    app.register("http_requests", "HTTP requests served.", requests.clone())?;
    let bytes = Family::<[String; 1], Counter>::with_label_names(["direction"])?;
    app.register_with_unit("network", "Bytes moved.", "bytes", bytes.clone())?;

    let queue = Gauge::default();
    app.register("queue_length", "Jobs waiting in the queue.", queue.clone())?;
    let temperature = FloatGauge::default();
    app.register_with_unit(
        "room_temperature",
        "Room temperature.",
        "celsius",
        temperature.clone(),
    )?;

    let latency =
        Family::<[String; 1], Histogram>::with_label_names_and_constructor(["route"], || {
            Histogram::new(ember::exponential_buckets(0.001, 4.0, 6)).unwrap_or_default()
        })?;
    app.register_with_unit(
        "request_duration",
        "Time to answer a request.",
        "seconds",
        latency.clone(),
    )?;

    let payload = Summary::builder()
        .quantiles(&[(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)])
        .build()?;
    app.register_with_unit(
        "payload_size",
        "Size of request payloads.",
        "bytes",
        payload.clone(),
    )?;

    app.register(
        "build",
        "Build facts.",
        Info::new([("version", env!("CARGO_PKG_VERSION")), ("rustc", "stable")])?,
    )?;
    let mode = StateSet::new(["starting", "serving", "draining"]);
    app.register("lifecycle", "Lifecycle state of the server.", mode.clone())?;

    registry.register_collector(ProcessCollector::new());

    for i in 0..20u32 {
        let method = if i % 3 == 0 {
            Method::Post
        } else {
            Method::Get
        };
        let status = if i % 7 == 0 { 500 } else { 200 };
        requests.get_or_create(&Request { method, status }).inc();
        bytes.with_label_values(&["in"]).inc_by(u64::from(i) * 100);
        bytes.with_label_values(&["out"]).inc_by(u64::from(i) * 250);
        latency
            .with_label_values(&["/"])
            .observe(f64::from(i) * 0.003);
        latency
            .with_label_values(&["/api"])
            .observe(f64::from(i) * 0.021);
        payload.observe(f64::from(i * 37 % 101));
    }
    queue.set(3);
    temperature.set(21.5);
    mode.set_exclusive("serving");

    let mut out = std::io::stdout().lock();
    registry.encode(&mut out, format)?;
    Ok(())
}

use ember::{Counter, Family, Histogram, Metrics, RegisterMetrics, Registry};

/// No `buckets`: no `new()`, the struct is built by hand.
#[derive(Metrics)]
struct Plain {
    /// Calls.
    calls: Counter,
    /// By route.
    by_route: Family<[String; 1], Counter>,
}

#[derive(Metrics)]
struct WithBuckets {
    #[metric(unit = "bytes", buckets = [64, 1024, 65536])]
    size: Histogram,
    plain: Histogram,
}

fn main() {
    let p = Plain {
        calls: Counter::default(),
        by_route: Family::with_label_names(["route"]).unwrap(),
    };
    let r = Registry::new();
    p.register(&r, Some("svc")).unwrap();
    p.calls.inc();
    p.by_route.with_label_values(&["/"]).inc();
    let w = WithBuckets::new();
    w.register(&r, None).unwrap();
    assert_eq!(w.size.bounds(), [64.0, 1024.0, 65536.0]);
    let text = r.encode_to_string(ember::expfmt::Format::Text);
    assert!(text.contains("# HELP svc_calls_total Calls.\n"), "{text}");
    assert!(text.contains("svc_by_route_total{route=\"/\"} 1\n"), "{text}");
    assert!(text.contains("# TYPE size_bytes histogram\n"), "{text}");
}

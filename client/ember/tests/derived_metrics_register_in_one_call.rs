//! `#[derive(Metrics)]`: one call registers every field, with HELP from doc comments,
//! units, buckets and an optional prefix.

use ember::expfmt::Format;
use ember::{Counter, Family, Gauge, Histogram, LabelSet, Metrics, RegisterMetrics, Registry};

#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
struct Queue {
    queue: String,
}

#[derive(Debug, Metrics)]
struct Jobs {
    /// Jobs done.
    ///
    /// Retries count once.
    done: Counter,
    /// Jobs waiting.
    #[metric(name = "waiting_jobs")]
    waiting: Gauge,
    /// Time per job, by queue.
    #[metric(unit = "seconds", buckets = [1, 10])]
    run: Family<Queue, Histogram>,
}

#[test]
fn fields_register_with_help_unit_buckets_and_no_prefix() {
    let jobs = Jobs::new();
    let r = Registry::new();
    jobs.register(&r, None).unwrap();
    jobs.done.inc();
    jobs.waiting.set(4);
    jobs.run
        .get_or_create(&Queue {
            queue: "mail".into(),
        })
        .observe(3.0);
    assert_eq!(
        r.encode_to_string(Format::Text),
        "# HELP done_total Jobs done. Retries count once.\n\
         # TYPE done_total counter\n\
         done_total 1\n\
         # HELP run_seconds Time per job, by queue.\n\
         # TYPE run_seconds histogram\n\
         run_seconds_bucket{queue=\"mail\",le=\"1\"} 0\n\
         run_seconds_bucket{queue=\"mail\",le=\"10\"} 1\n\
         run_seconds_bucket{queue=\"mail\",le=\"+Inf\"} 1\n\
         run_seconds_count{queue=\"mail\"} 1\n\
         run_seconds_sum{queue=\"mail\"} 3\n\
         # HELP waiting_jobs Jobs waiting.\n\
         # TYPE waiting_jobs gauge\n\
         waiting_jobs 4\n"
    );
}

#[test]
fn registering_twice_reports_the_clash() {
    let jobs = Jobs::new();
    let r = Registry::new();
    jobs.register(&r, Some("app")).unwrap();
    assert_eq!(
        jobs.register(&r, Some("app")),
        Err(ember::Error::AlreadyRegistered("app_done".into()))
    );
}

use std::sync::mpsc::{Receiver, Sender, channel};

use parking_lot::Mutex;

use super::*;

#[derive(Debug)]
struct Fixed(&'static str, f64);
impl Collector for Fixed {
    fn name(&self) -> &str {
        self.0
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        out.push(MetricFamily {
            name: format!("node_{}", self.0),
            help: "A value.".into(),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: vec![Metric {
                labels: vec![],
                value: MetricValue::Gauge(self.1),
                timestamp_ms: None,
                created: None,
            }],
        });
        Ok(())
    }
}

#[derive(Debug)]
struct Failing;
impl Collector for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        Fixed("partial", 1.0).update(out)?;
        Err(CollectorError::Parse {
            what: "/proc/x".into(),
            reason: "bad".into(),
        })
    }
}

#[derive(Debug)]
struct Panicking;
impl Collector for Panicking {
    fn name(&self) -> &str {
        "panicking"
    }
    fn update(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        panic!("collector bug")
    }
}

/// Blocks in `update` until the test sends on the paired sender (or drops it).
#[derive(Debug)]
struct Hung(Mutex<Receiver<()>>);
impl Hung {
    fn new() -> (Hung, Sender<()>) {
        let (tx, rx) = channel();
        (Hung(Mutex::new(rx)), tx)
    }
}
impl Collector for Hung {
    fn name(&self) -> &str {
        "hung"
    }
    fn update(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let _ = self.0.lock().recv();
        Fixed("late", 1.0).update(out)
    }
}

fn gauge(scrape: &Scrape, family: &str, collector: &str) -> f64 {
    let fam = scrape.families.iter().find(|f| f.name == family).unwrap();
    let m = fam
        .metrics
        .iter()
        .find(|m| m.labels == [("collector".to_string(), collector.to_string())])
        .unwrap();
    match m.value {
        MetricValue::Gauge(v) => v,
        ref v => panic!("not a gauge: {v:?}"),
    }
}

fn names(scrape: &Scrape) -> Vec<&str> {
    scrape.families.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn successes_and_failures_are_reported_per_collector() {
    let s = Scheduler::new(
        "node",
        "node_exporter",
        vec![
            Box::new(Fixed("a", 1.0)),
            Box::new(Failing),
            Box::new(Panicking),
        ],
        2,
    )
    .unwrap();
    let scrape = s.scrape(Instant::now() + Duration::from_secs(30));
    assert_eq!(
        names(&scrape),
        [
            "node_a",
            "node_scrape_collector_duration_seconds",
            "node_scrape_collector_success"
        ]
    );
    assert_eq!(gauge(&scrape, "node_scrape_collector_success", "a"), 1.0);
    assert_eq!(
        gauge(&scrape, "node_scrape_collector_success", "failing"),
        0.0
    );
    assert_eq!(
        gauge(&scrape, "node_scrape_collector_success", "panicking"),
        0.0
    );
    assert!(matches!(
        scrape.reports[1].outcome,
        Outcome::Failed(CollectorError::Parse { .. })
    ));
    assert!(matches!(scrape.reports[2].outcome, Outcome::Panicked));
    let fam = &scrape.families[1];
    assert_eq!(fam.help, "node_exporter: Duration of a collector scrape.");
    assert_eq!(fam.metric_type, MetricType::Gauge);
    // The pool survives the panic: a second scrape runs everything again.
    let again = s.scrape(Instant::now() + Duration::from_secs(30));
    assert_eq!(gauge(&again, "node_scrape_collector_success", "a"), 1.0);
}

#[test]
fn hung_collector_misses_the_deadline_and_the_rest_is_returned() {
    let (hung, release) = Hung::new();
    let s = Scheduler::new(
        "node",
        "node_exporter",
        vec![Box::new(hung), Box::new(Fixed("a", 2.0))],
        2,
    )
    .unwrap();
    let start = Instant::now();
    let scrape = s.scrape(start + Duration::from_millis(200));
    // A generous bound: the point is that the scrape does not wait for the hung one.
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(matches!(scrape.reports[0].outcome, Outcome::TimedOut));
    assert!(scrape.reports[0].duration >= Duration::from_millis(200));
    assert_eq!(gauge(&scrape, "node_scrape_collector_success", "hung"), 0.0);
    assert_eq!(gauge(&scrape, "node_scrape_collector_success", "a"), 1.0);
    assert_eq!(
        names(&scrape),
        [
            "node_a",
            "node_scrape_collector_duration_seconds",
            "node_scrape_collector_success"
        ]
    );

    // Still stuck: not started a second time, so it holds one thread, not two.
    let scrape = s.scrape(Instant::now() + Duration::from_secs(30));
    assert!(matches!(scrape.reports[0].outcome, Outcome::StillRunning));
    assert_eq!(gauge(&scrape, "node_scrape_collector_success", "a"), 1.0);

    // Once it returns, its late result is dropped and the next scrape runs it again.
    // Dropping the sender makes this and every later `recv` return at once.
    drop(release);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let scrape = s.scrape(deadline);
        if scrape.reports[0].outcome.is_success() {
            assert!(names(&scrape).contains(&"node_late"));
            break;
        }
        assert!(Instant::now() < deadline, "hung collector never came back");
        std::thread::yield_now();
    }
}

#[test]
fn queued_work_past_the_deadline_is_reported_as_timed_out() {
    let (hung, release) = Hung::new();
    // One thread, taken by the hung collector: the other collector waits in the queue.
    let s = Scheduler::new(
        "mysql",
        "mysqld_exporter",
        vec![Box::new(hung), Box::new(Fixed("a", 2.0))],
        1,
    )
    .unwrap();
    let scrape = s.scrape(Instant::now() + Duration::from_millis(100));
    assert!(matches!(scrape.reports[0].outcome, Outcome::TimedOut));
    assert!(matches!(scrape.reports[1].outcome, Outcome::TimedOut));
    assert_eq!(gauge(&scrape, "mysql_scrape_collector_success", "a"), 0.0);
    drop(release);
}

#[derive(Debug)]
struct Slow(Duration);
impl Collector for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    fn update(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        std::thread::sleep(self.0);
        Ok(())
    }
}

#[test]
fn duration_is_the_collectors_own_time_not_its_wait_for_a_thread() {
    let pause = Duration::from_millis(300);
    // One thread: `a` waits in the queue while `slow` runs.
    let s = Scheduler::new(
        "node",
        "node_exporter",
        vec![Box::new(Slow(pause)), Box::new(Fixed("a", 1.0))],
        1,
    )
    .unwrap();
    let scrape = s.scrape(Instant::now() + Duration::from_secs(60));
    let slow = gauge(&scrape, "node_scrape_collector_duration_seconds", "slow");
    let a = gauge(&scrape, "node_scrape_collector_duration_seconds", "a");
    assert!(slow >= pause.as_secs_f64(), "{slow}");
    assert!(
        a < pause.as_secs_f64(),
        "a waited {a} s, counted as its duration"
    );
}

#[test]
fn a_stuck_collector_gets_a_replacement_thread_so_the_others_run() {
    let (hung, release) = Hung::new();
    // One thread: the first scrape loses it to the hung collector.
    let s = Scheduler::new(
        "node",
        "node_exporter",
        vec![Box::new(hung), Box::new(Fixed("a", 2.0))],
        1,
    )
    .unwrap();
    let first = s.scrape(Instant::now() + Duration::from_millis(100));
    assert_eq!(gauge(&first, "node_scrape_collector_success", "a"), 0.0);
    // The hung collector is still running: it is skipped, and `a` gets a thread.
    let second = s.scrape(Instant::now() + Duration::from_secs(30));
    assert!(matches!(second.reports[0].outcome, Outcome::StillRunning));
    assert_eq!(gauge(&second, "node_scrape_collector_success", "a"), 1.0);
    assert_eq!(s.pool.threads(), 2);
    // More scrapes do not add more threads for the same stuck collector.
    let third = s.scrape(Instant::now() + Duration::from_secs(30));
    assert_eq!(gauge(&third, "node_scrape_collector_success", "a"), 1.0);
    assert_eq!(s.pool.threads(), 2);
    drop(release);
}

#[test]
fn concurrent_scrapes_each_run_every_collector() {
    // Two Prometheus servers scraping at once: neither sees the other's running update
    // as "still running".
    let s = Arc::new(
        Scheduler::new(
            "node",
            "node_exporter",
            vec![
                Box::new(Slow(Duration::from_millis(300))),
                Box::new(Fixed("a", 1.0)),
            ],
            2,
        )
        .unwrap(),
    );
    let scrapes: Vec<_> = (0..2)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.scrape(Instant::now() + Duration::from_secs(30)))
        })
        .collect();
    for t in scrapes {
        let scrape = t.join().unwrap();
        assert_eq!(gauge(&scrape, "node_scrape_collector_success", "slow"), 1.0);
        assert_eq!(gauge(&scrape, "node_scrape_collector_success", "a"), 1.0);
    }
    assert_eq!(s.pool.threads(), 2);
}

#[tokio::test]
async fn async_scrape_returns_at_the_deadline_with_the_rest() {
    let (hung, release) = Hung::new();
    let s = Scheduler::new(
        "node",
        "node_exporter",
        vec![Box::new(hung), Box::new(Fixed("a", 2.0))],
        2,
    )
    .unwrap();
    let scrape = s
        .scrape_async(Instant::now() + Duration::from_millis(200))
        .await;
    assert!(matches!(scrape.reports[0].outcome, Outcome::TimedOut));
    assert_eq!(gauge(&scrape, "node_scrape_collector_success", "a"), 1.0);
    drop(release);
    // Once the hung update returns, the collector runs again.
    let mut next = s
        .scrape_async(Instant::now() + Duration::from_secs(30))
        .await;
    for _ in 0..100 {
        if next.reports[0].outcome.is_success() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        next = s
            .scrape_async(Instant::now() + Duration::from_secs(30))
            .await;
    }
    assert!(next.reports[0].outcome.is_success());
}

/// Sleeps, then notes its name in a shared log.
#[derive(Debug)]
struct Noted(&'static str, Duration, Arc<Mutex<Vec<&'static str>>>);
impl Collector for Noted {
    fn name(&self) -> &str {
        self.0
    }
    fn update(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        std::thread::sleep(self.1);
        self.2.lock().push(self.0);
        Ok(())
    }
}

#[test]
fn the_longest_collectors_of_the_last_scrape_are_queued_first() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let s = Scheduler::new(
        "node",
        "node_exporter",
        vec![
            Box::new(Noted("quick", Duration::ZERO, Arc::clone(&log))),
            Box::new(Noted("slow", Duration::from_millis(50), Arc::clone(&log))),
        ],
        1,
    )
    .unwrap();
    s.scrape(Instant::now() + Duration::from_secs(30));
    assert_eq!(*log.lock(), ["quick", "slow"]); // registration order at first
    log.lock().clear();
    s.scrape(Instant::now() + Duration::from_secs(30));
    assert_eq!(*log.lock(), ["slow", "quick"]);
}

//! Reloading the real `ember-server` binary: SIGHUP and `POST /-/reload` refuse a broken
//! configuration with the reason while the running one goes on scraping, and a fixed one
//! is applied.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod server_support;

use server_support::{Server, Target, config_for, temp_dir, wait_for};

const RELOAD_OK: &str = "prometheus_config_last_reload_successful";

#[test]
fn a_broken_config_is_refused_and_a_fixed_one_applied() {
    let dir = temp_dir("reload");
    let a = Target::start();
    let b = Target::start();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, config_for("a", &[&a.addr])).unwrap();
    let mut s = Server::start(&dir, &["--web.enable-lifecycle"]);
    s.wait_ready();
    a.wait_hits(2);
    assert_eq!(s.metric(RELOAD_OK), Some(1.0));

    // SIGHUP with a broken file: refused, logged, the old targets stay.
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: a\n    scrape_interval: 1x\n",
    )
    .unwrap();
    s.signal("HUP");
    wait_for("prometheus_config_last_reload_successful 0", || {
        s.metric(RELOAD_OK) == Some(0.0)
    });
    assert!(s.log().contains("Error reloading config"), "{}", s.log());
    let hits = a.hits();
    a.wait_hits(hits + 2);

    // POST /-/reload says why.
    let r = s.request("POST", "/-/reload", b"");
    assert_eq!(r.status, 500, "{}", r.text());
    let body = r.text();
    assert!(body.starts_with("failed to reload config: "), "{body}");
    assert!(body.contains("not a valid duration string"), "{body}");

    // A fixed file by SIGHUP: job b replaces job a.
    std::fs::write(&config, config_for("b", &[&b.addr])).unwrap();
    s.signal("HUP");
    wait_for("prometheus_config_last_reload_successful 1", || {
        s.metric(RELOAD_OK) == Some(1.0)
    });
    b.wait_hits(1);
    let a_after = a.hits();
    let b_now = b.hits();
    b.wait_hits(b_now + 3);
    assert!(
        a.hits() <= a_after + 1,
        "the removed target is still scraped"
    );
    let targets = s.metric("prometheus_target_scrape_pool_targets{scrape_job=\"b\"}");
    assert_eq!(targets, Some(1.0));
    assert_eq!(
        s.metric("prometheus_target_scrape_pool_targets{scrape_job=\"a\"}"),
        None
    );

    // And by POST.
    let r = s.request("POST", "/-/reload", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.metric(RELOAD_OK), Some(1.0));

    s.signal("TERM");
    assert!(s.wait_exit().success(), "{}", s.log());
    let _ = std::fs::remove_dir_all(&dir);
}

//! `custom_collector` reads its directory at scrape time: a real Prometheus sees the
//! files that are there, and sees a new file at the next scrape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use ember_e2e::{Child, Prometheus, free_port, wait_for_http};

#[test]
fn prometheus_sees_the_directory_change() {
    let dir = std::env::temp_dir().join(format!("ember-spool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a"), b"12345").unwrap();
    std::fs::write(dir.join("b"), b"123").unwrap();

    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custom_collector"));
    cmd.args(["--dir", dir.to_str().unwrap(), "--listen", &addr]);
    let _app = Child::spawn("custom_collector", cmd, &dir.with_extension("log")).unwrap();
    assert!(wait_for_http(&addr, "/metrics", Duration::from_secs(20)));

    let prom = Prometheus::start("spool", std::slice::from_ref(&addr), 1).unwrap();
    let d = dir.display();
    let q = format!("spool_files{{dir=\"{d}\"}}");
    let r = prom
        .wait_for(&q, Duration::from_secs(20), |r| !r.is_empty())
        .unwrap();
    assert_eq!(r[0].1, 2.0, "{}", prom.log());
    let r = prom
        .query(&format!("spool_size_bytes{{dir=\"{d}\"}}"))
        .unwrap();
    assert_eq!(r[0].1, 8.0);

    std::fs::write(dir.join("c"), b"1").unwrap();
    let r = prom
        .wait_for(&q, Duration::from_secs(20), |r| {
            r.first().is_some_and(|s| s.1 == 3.0)
        })
        .unwrap();
    assert_eq!(r[0].1, 3.0);
    let up = prom.query("up{job=\"spool\"}").unwrap();
    assert_eq!(up[0].1, 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}

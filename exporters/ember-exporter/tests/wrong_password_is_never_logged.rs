//! With basic auth and `--log.level=debug`, a refused request is logged, but neither the
//! offered password nor the `Authorization` header ever reaches a log line.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::Write;
use std::sync::Arc;

use base64::Engine as _;
use ember_e2e::http_get;
use ember_exporter::{LogFormat, LogLevel, Logger};

#[derive(Clone, Default)]
struct Buf(Arc<parking_lot::Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn wrong_password_is_never_logged() {
    let buf = Buf::default();
    tracing::subscriber::set_global_default(Logger::new(
        LogLevel::Debug,
        LogFormat::Logfmt,
        buf.clone(),
    ))
    .unwrap();
    let dir = std::env::temp_dir().join(format!("ember-exporter-nolog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("web.yml");
    let hash = bcrypt::hash("right-horse", 4).unwrap();
    std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let flag = format!("--web.config.file={}", path.display());
    let addr = common::start(vec![Box::new(common::Fixed("a"))], &[&flag]);

    let wrong = "Wr0ngBatteryStaple";
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{wrong}"))
    );
    let r = http_get(&addr, "/metrics", &[("Authorization", &header)]).unwrap();
    assert_eq!(r.status, 401);
    // A broken file is logged as an error, still without credentials.
    std::fs::write(&path, "basic_auth_users: [\n").unwrap();
    let r = http_get(&addr, "/metrics", &[("Authorization", &header)]).unwrap();
    assert_eq!(r.status, 500);

    let log = String::from_utf8(buf.0.lock().clone()).unwrap();
    assert!(
        log.contains(
            "level=debug msg=\"request refused: missing or wrong basic auth credentials\""
        ),
        "{log}"
    );
    assert!(
        log.contains("level=error msg=\"cannot read web config\""),
        "{log}"
    );
    let encoded = header.trim_start_matches("Basic ");
    for secret in [wrong, encoded, "right-horse", hash.as_str()] {
        assert!(!log.contains(secret), "{secret} logged:\n{log}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

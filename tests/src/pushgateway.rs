//! The real Pushgateway (Debian's `prometheus-pushgateway`) as a peer.

use std::process::Command;
use std::time::Duration;

use crate::http::wait_for_http;
use crate::process::{Child, free_port, require_binary};

/// A running Pushgateway keeping nothing on disk, stopped on drop.
#[derive(Debug)]
pub struct Pushgateway {
    addr: String,
    _child: Child,
}

impl Pushgateway {
    /// Starts a gateway on a free loopback port and waits until it is ready.
    pub fn start() -> Result<Self, String> {
        require_binary("prometheus-pushgateway", "prometheus-pushgateway");
        let port = free_port().map_err(|e| e.to_string())?;
        let addr = format!("127.0.0.1:{port}");
        let log =
            std::env::temp_dir().join(format!("ember-e2e-pgw-{}-{port}.log", std::process::id()));
        let mut cmd = Command::new("prometheus-pushgateway");
        cmd.arg(format!("--web.listen-address={addr}"));
        let child = Child::spawn("pushgateway", cmd, &log).map_err(|e| e.to_string())?;
        if !wait_for_http(&addr, "/-/ready", Duration::from_secs(20)) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("pushgateway did not become ready:\n{text}"));
        }
        Ok(Pushgateway {
            addr,
            _child: child,
        })
    }

    /// `host:port` of the gateway.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The gateway's own `/metrics` text, where pushed groups appear.
    pub fn metrics(&self) -> Result<String, String> {
        crate::http::http_get(&self.addr, "/metrics", &[])
            .map(|r| r.text())
            .map_err(|e| e.to_string())
    }
}

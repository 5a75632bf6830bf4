//! Spawned processes and free ports.

use std::net::TcpListener;
use std::process::{Command, Stdio};

/// A port on 127.0.0.1 that was free a moment ago (bound, read, released).
pub fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Panics with the Debian package to install if `binary` is not on `PATH`.
pub fn require_binary(binary: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{binary}` not found: install the Debian package `{package}` (apt-get install {package})"
    );
}

/// A child process that is killed and reaped when dropped.
#[derive(Debug)]
pub struct Child {
    inner: std::process::Child,
    name: String,
}

impl Child {
    /// Spawns `cmd` with stdout and stderr sent to `log` (a file the test can print on
    /// failure).
    pub fn spawn(name: &str, mut cmd: Command, log: &std::path::Path) -> std::io::Result<Child> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        let inner = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn()?;
        Ok(Child {
            inner,
            name: name.to_string(),
        })
    }

    /// Whether the process has exited already.
    pub fn exited(&mut self) -> bool {
        matches!(self.inner.try_wait(), Ok(Some(_)))
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// Asks the process to stop (SIGTERM, through `kill(1)`: no `unsafe` here) and waits
    /// up to `grace` for it to exit; kills it (SIGKILL) if it has not. Returns whether it
    /// exited on its own.
    pub fn terminate(&mut self, grace: std::time::Duration) -> bool {
        if self.exited() {
            return true;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.inner.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if self.exited() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.inner.kill();
        let _ = self.inner.wait();
        false
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.inner.kill();
        let _ = self.inner.wait();
    }
}

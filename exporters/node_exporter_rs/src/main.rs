//! `node_exporter_rs`: a drop-in replacement for node_exporter.
//!
//! ```text
//! cargo run --release -p node_exporter_rs -- --web.listen-address=127.0.0.1:9100
//! ```

use ember_exporter::{Error, Flags, Scheduler, Server, command};
use node_exporter_rs::collectors::{self, Context};
use node_exporter_rs::{INFO, Paths};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags_table = collectors::flags();
    let matches = command(&INFO, &flags_table)
        .args(Paths::args())
        .args(collectors::args())
        .get_matches();
    let flags = match Flags::from_matches(&matches, &flags_table) {
        Ok(flags) => flags,
        Err(Error::Flags(e)) => e.exit(),
        Err(e) => return Err(e.into()),
    };
    let paths = Paths::from_matches(&matches);
    let ctx = Context {
        paths: &paths,
        matches: &matches,
    };
    let collectors = collectors::build(&flags.enabled_collectors(), &ctx)?;
    let threads = collectors.len().clamp(1, 8);
    let scheduler = Scheduler::new(INFO.namespace, INFO.name, collectors, threads)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = Server::bind(INFO, &flags, scheduler).await?;
        for addr in server.local_addrs() {
            eprintln!(
                "{} listening on http://{addr}{}",
                INFO.name, flags.telemetry_path
            );
        }
        server.run().await
    })?;
    Ok(())
}

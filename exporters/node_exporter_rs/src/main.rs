//! `node_exporter_rs`: a drop-in replacement for node_exporter.
//!
//! ```text
//! cargo run --release -p node_exporter_rs -- --web.listen-address=127.0.0.1:9100
//! ```

use std::process::ExitCode;

use node_exporter_rs::collectors::{self, Context};
use node_exporter_rs::{INFO, Paths};

fn main() -> ExitCode {
    let args = Paths::args()
        .into_iter()
        .chain(collectors::args())
        .collect();
    ember_exporter::run(INFO, &collectors::flags(), args, |flags, matches| {
        let paths = Paths::from_matches(matches);
        let ctx = Context {
            paths: &paths,
            matches,
        };
        collectors::build(&flags.enabled_collectors(), &ctx)
    })
}

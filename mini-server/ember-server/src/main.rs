//! `ember-server`: flags as Prometheus's; `--check-config FILE` validates a configuration
//! as `promtool check config FILE` does; otherwise serves: scraping into the store at
//! `--storage.tsdb.path` and the HTTP API at `--web.listen-address`.

use std::process::ExitCode;

/// glibc malloc arenas: scrape loops run on one thread per target, and with an arena per
/// thread each arena keeps the peak of its own scrapes resident; two arenas keep that to
/// two peaks without making every thread wait for one lock.
const MALLOC_ARENAS: usize = 2;

fn main() -> ExitCode {
    ember_sys::limit_malloc_arenas(MALLOC_ARENAS);
    let flags = match ember_server::Flags::parse_from(std::env::args_os()) {
        Ok(f) => f,
        Err(e) => {
            // clap prints help and version to stdout with success, usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Some(file) = &flags.check_config {
        let report = ember_server::check_config(file);
        print!("{}", report.stdout);
        eprint!("{}", report.stderr);
        return if report.success {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if let Err(e) = ember_server::init_logging(&flags) {
        eprintln!("ember-server: {e}");
        return ExitCode::FAILURE;
    }
    match ember_server::run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(err = %e, "exiting");
            ExitCode::FAILURE
        }
    }
}

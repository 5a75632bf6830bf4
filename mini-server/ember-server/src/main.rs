//! `ember-server`: flags as Prometheus's; `--check-config FILE` validates a configuration
//! as `promtool check config FILE` does.

use std::process::ExitCode;

fn main() -> ExitCode {
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
    match flags.load_config() {
        Ok(_) => {
            eprintln!(
                "ember-server: configuration is valid, but serving needs the storage and HTTP \
                 API, which are not in this build yet; use --check-config FILE"
            );
        }
        Err(e) => eprintln!("ember-server: error loading config: {e}"),
    }
    ExitCode::FAILURE
}

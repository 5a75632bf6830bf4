//! `ember-server`: for now, `--check-config FILE` (as `promtool check config FILE`).

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: ember-server --check-config FILE");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, file] if flag == "--check-config" => {
            let report = ember_server::check_config(&PathBuf::from(file));
            print!("{}", report.stdout);
            eprint!("{}", report.stderr);
            if report.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => usage(),
    }
}

//! [`run`]: an exporter's whole `main` (flags, logging, collectors, scheduler, runtime,
//! server), so that a binary only supplies its identity, its collector table and a
//! constructor.

use std::process::ExitCode;

use clap::{Arg, ArgMatches};

use crate::{Collector, CollectorFlag, Error, ExporterInfo, Flags, Scheduler, Server, command};

/// Collector threads of the scheduler's pool (more are added only for stuck collectors,
/// one each). Reads of /proc and /sys are short and CPU-bound; on the 2-core test host,
/// 2 threads instead of 4 cut CPU per scrape from 4.2 to 3.5 ms (fewer context switches) and
/// resident memory by 1.3 MB (each thread costs its stack and, with glibc, a malloc
/// arena), at the same median latency.
const POOL_THREADS: usize = 2;

/// glibc malloc arenas the exporter's threads share. By default each thread that
/// allocates gets its own arena, which keeps that thread's peak resident: for
/// node_exporter_rs, three arenas (the runtime's and the two collector threads') held
/// about 1.5 MB more than one does.
const MALLOC_ARENAS: usize = 1;

/// glibc tunables the exporter re-executes itself with, unless `GLIBC_TUNABLES` already
/// sets `glibc.malloc.tcache_count` (any value, e.g. to put the default 7 back).
///
/// glibc's per-thread cache keeps up to 7 freed chunks of each small size per thread,
/// out of reach of coalescing, so a heap that serves a scrape's many small allocations
/// from three threads fragments and keeps its peak. Without it, on the 2-core test host,
/// node_exporter_rs stayed at 6.4–6.5 MB resident after ten concurrent scrapers
/// instead of 7.7–7.9 MB, at the same CPU time per scrape. The tunable cannot be set
/// after start (`mallopt` has no such parameter), hence the re-execution.
const MALLOC_TUNABLES: &str = "glibc.malloc.tcache_count=0";

/// Most threads tokio's blocking pool (bcrypt, web config and certificate reads) may
/// grow to; scrapes do not use it (they wait for the collector pool asynchronously).
const MAX_BLOCKING_THREADS: usize = 2;

/// Parses the command line (shared flags, one `--[no-]collector.NAME` pair per entry of
/// `collectors`, and `extra_args`), sets up logging, builds the enabled collectors with
/// `build`, and serves until the server fails. `--help` and `--version` print and exit
/// as clap does; a bad command line exits 2 with clap's message; any later failure is
/// logged and exits 1.
///
/// `build` gets the parsed shared flags and the whole matches (for `extra_args`) and
/// returns the collectors to run, in any order.
///
/// ```no_run
/// use std::process::ExitCode;
/// use ember_exporter::{CollectorFlag, ExporterInfo};
///
/// const INFO: ExporterInfo = ExporterInfo {
///     name: "example_exporter",
///     description: "An exporter with no collectors",
///     version: env!("CARGO_PKG_VERSION"),
///     namespace: "example",
///     default_listen_address: ":9999",
/// };
///
/// fn main() -> ExitCode {
///     ember_exporter::run(INFO, &[], Vec::new(), |_flags, _matches| Ok(Vec::new()))
/// }
/// ```
pub fn run<F>(
    info: ExporterInfo,
    collectors: &[CollectorFlag],
    extra_args: Vec<Arg>,
    build: F,
) -> ExitCode
where
    F: FnOnce(&Flags, &ArgMatches) -> Result<Vec<Box<dyn Collector>>, String>,
{
    reexec_with_malloc_tunables();
    // Before any thread starts: threads that have an arena keep it.
    ember_sys::limit_malloc_arenas(MALLOC_ARENAS);
    let matches = command(&info, collectors).args(extra_args).get_matches();
    let flags = match Flags::from_matches(&matches, collectors) {
        Ok(flags) => flags,
        Err(Error::Flags(e)) => e.exit(),
        Err(e) => {
            eprintln!("{}: {e}", info.name);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::init_logging(flags.log_level, flags.log_format) {
        eprintln!("{}: {e}", info.name);
        return ExitCode::FAILURE;
    }
    match serve(info, &flags, &matches, build) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(err = %e, "exiting");
            ExitCode::FAILURE
        }
    }
}

/// Replaces the process (same PID, arguments, descriptors and environment) with the
/// same binary started with [`MALLOC_TUNABLES`] added to `GLIBC_TUNABLES` (and
/// `EMBER_EXPORTER_MALLOC_TUNED=1`, so that it happens once), unless they are there
/// already. Only with glibc on Linux; if the binary cannot be found or
/// executed, the exporter goes on as it is.
fn reexec_with_malloc_tunables() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        // Set in the re-executed process: never a second time, whatever glibc made of
        // the variable.
        const DONE: &str = "EMBER_EXPORTER_MALLOC_TUNED";
        let current = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
        let current = current.to_string_lossy();
        if current.contains("glibc.malloc.tcache_count") || std::env::var_os(DONE).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let tunables = if current.is_empty() {
            MALLOC_TUNABLES.to_string()
        } else {
            format!("{current}:{MALLOC_TUNABLES}")
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        // Returns only if the exec failed.
        let _ = command
            .args(args)
            .env("GLIBC_TUNABLES", tunables)
            .env(DONE, "1")
            .exec();
    }
}

fn serve<F>(info: ExporterInfo, flags: &Flags, matches: &ArgMatches, build: F) -> Result<(), Error>
where
    F: FnOnce(&Flags, &ArgMatches) -> Result<Vec<Box<dyn Collector>>, String>,
{
    tracing::info!(
        version = %format!("(version={}, branch=, revision=)", info.version),
        "Starting {}",
        info.name
    );
    let mut collectors = build(flags, matches).map_err(Error::Collector)?;
    collectors.sort_by(|a, b| a.name().cmp(b.name()));
    tracing::info!("Enabled collectors");
    for c in &collectors {
        tracing::info!(collector = c.name());
    }
    let threads = collectors.len().clamp(1, POOL_THREADS);
    let scheduler = Scheduler::new(info.namespace, info.name, collectors, threads)?;
    // One thread serves HTTP and encodes scrapes; collectors run on the scheduler's
    // pool; bcrypt and file reads go to the blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let server = Server::bind(info, flags, scheduler).await?;
        let tls = server.is_tls();
        for addr in server.local_addrs() {
            let address = addr.to_string();
            tracing::info!(address = %address, "Listening on");
            if tls {
                tracing::info!(http2 = false, address = %address, "TLS is enabled.");
            } else {
                tracing::info!(http2 = false, address = %address, "TLS is disabled.");
            }
        }
        server.run().await
    })
}

//! The command-line interface: a library function any binary can call.
//!
//! `examples/worker.rs` is the whole production binary:
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     bptl::cli::main()
//! }
//! ```
//!
//! Commands: `run --config FILE` (the worker), `check --config FILE`, `registry`,
//! `fetch-and-lock N --config FILE`, `dev-engine --port 8080 --bpmn FILE...`.
//!
//! Exit codes: [`EXIT_OK`] (0) success; [`EXIT_FAILURE`] (1) the command ran and failed (engine
//! unreachable for `fetch-and-lock`, the worker could not start, an empty registry);
//! [`EXIT_USAGE`] (2) bad usage or configuration (every problem is printed);
//! [`EXIT_INTERRUPTED`] (130) the worker was stopped at once by a second signal.
//!
//! Where things are: `args` (the commands and their flags), `check` (`check`, `registry` and the
//! checks `run` repeats), `run` (`run`, `fetch-and-lock`, `dev-engine`), `records` (the operator
//! commands on the task store), `admin` (the admin listener: health, readiness, metrics), `dashboard` (`dashboard`).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::config::LogFormat;
use args::{Cli, Command, TasksAction};
use bptl_core::TaskFilter;

mod admin;
mod args;
mod check;
#[cfg(feature = "dashboard")]
mod dashboard;
mod logging;
mod records;
mod run;

pub use admin::{Admin, prometheus};
pub use check::check;
pub use run::open_store;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the command ran and failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: stopped at once by a second interrupt.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Run the CLI with the process's arguments; returns the exit code.
pub fn main() -> ExitCode {
    run_cli(std::env::args_os())
}

/// Run the CLI with these arguments (the first is the program name).
pub fn run_cli<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    ExitCode::from(run_cli_code(args))
}

/// Run the CLI with these arguments and return the numeric exit code (see the `EXIT_*`
/// constants), e.g. to embed the CLI in a larger program or a test.
pub fn run_cli_code<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // Before any HTTP client is built, bptl's or a unit's own (see README, "TLS").
    bptl_credentials::install_crypto_provider();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Registry => check::registry(),
        Command::Check { config } => check::check_command(&config),
        Command::Run {
            config,
            admin_addr,
            metrics_addr,
        } => {
            if metrics_addr.is_some() {
                eprintln!("warning: --metrics-addr is deprecated: use --admin-addr");
            }
            // `run` starts logging once it has read `[log] format`.
            runtime(|| run::run(config, admin_addr.or(metrics_addr)))
        }
        Command::FetchAndLock { max_tasks, config } => {
            with_runtime(|| run::fetch_and_lock(config, max_tasks))
        }
        Command::Tasks { config: None, .. } => {
            eprintln!("error: --config FILE is required (or set BPTL_CONFIG)");
            EXIT_USAGE
        }
        Command::Tasks {
            action: Some(TasksAction::Show { id }),
            config: Some(config),
            ..
        } => with_runtime(|| records::show_task(config, id)),
        Command::Tasks {
            action: None,
            status,
            topic,
            process_instance,
            since,
            limit,
            offset,
            config: Some(config),
        } => with_runtime(|| async move {
            let mut filter = TaskFilter {
                statuses: status,
                topic,
                process_instance_id: process_instance,
                offset,
                limit: Some(limit),
                ..TaskFilter::default()
            };
            if let Some(age) = since {
                match crate::ops::parse_age(&age).and_then(crate::ops::since_age) {
                    Ok(at) => filter.since = Some(at),
                    Err(e) => {
                        eprintln!("error: --since: {e}");
                        return EXIT_USAGE;
                    }
                }
            }
            records::list_tasks(config, filter).await
        }),
        Command::Execute {
            task_id,
            force,
            config,
        } => with_runtime(|| records::execute_task(config, task_id, force)),
        Command::Stats { since, all, config } => {
            with_runtime(|| records::stats(config, since, all))
        }
        Command::Prune {
            older_than,
            process_instance,
            config,
        } => with_runtime(|| records::prune(config, older_than, process_instance)),
        Command::DevEngine { port, bpmn } => with_runtime(|| run::dev_engine(port, bpmn)),
        #[cfg(feature = "dashboard")]
        Command::Dashboard { config, addr } => with_runtime(|| dashboard::dashboard(config, addr)),
    }
}

/// Commands other than `run` read the log format from `BPTL_LOG_FORMAT` only (text when unset
/// or not a format).
fn with_runtime<F, Fut>(f: F) -> u8
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    let format = std::env::var("BPTL_LOG_FORMAT")
        .ok()
        .and_then(|text| LogFormat::parse(&text).ok())
        .unwrap_or_default();
    // Without [traces]: nothing to start that could fail.
    let _ = logging::init(format, None);
    runtime(f)
}

fn runtime<F, Fut>(f: F) -> u8
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            EXIT_FAILURE
        }
    }
}

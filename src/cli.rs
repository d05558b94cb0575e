//! The command-line interface: a library function any binary can call.
//!
//! `examples/worker.rs` is the whole production binary:
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     bptl::cli::main()
//! }
//! ```

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the command ran and failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;

/// bptl: run business-process work units for Camunda 7 and compatible engines.
#[derive(Debug, Parser)]
#[command(name = "worker", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every registered work unit with its documentation and required services.
    Registry,
}

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
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Registry => registry(),
    }
}

fn registry() -> ExitCode {
    match crate::Registry::global() {
        Ok(registry) => {
            let mut out = std::io::stdout().lock();
            if registry.write_listing(&mut out).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(EXIT_FAILURE);
            }
            if registry.is_empty() {
                return ExitCode::from(EXIT_FAILURE);
            }
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

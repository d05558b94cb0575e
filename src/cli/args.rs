//! The commands and their flags (clap).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use bptl_core::TaskStatus;

/// bptl: run business-process work units for Camunda 7 and compatible engines.
#[derive(Debug, Parser)]
#[command(name = "worker", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration problem, 130 stopped at once by a second signal.\nLogging: RUST_LOG (default info), e.g. RUST_LOG=bptl_core=debug."
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Run the worker: fetch tasks, run their units, report the outcomes, until SIGINT/SIGTERM
    /// (a second signal stops at once). Refuses to start on any `check` problem.
    Run {
        /// The configuration file (TOML); `BPTL_*` environment variables override its keys.
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
        /// Serve the admin listener at http://ADDR: /healthz, /readyz, /metrics (overrides
        /// `[admin] addr`).
        #[arg(long, value_name = "ADDR", conflicts_with = "metrics_addr")]
        admin_addr: Option<SocketAddr>,
        /// Deprecated: the old name of --admin-addr.
        #[arg(long, value_name = "ADDR")]
        metrics_addr: Option<SocketAddr>,
    },
    /// Check the configuration, the task mappings, the registry and the services; list every
    /// problem and exit non-zero if there is one.
    Check {
        /// The configuration file (TOML).
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
    },
    /// List every registered work unit with its documentation and required services.
    Registry,
    /// Fetch and lock up to N tasks once (no long polling) and save them in the task store
    /// without running them.
    FetchAndLock {
        /// How many tasks at most.
        #[arg(value_name = "N")]
        max_tasks: usize,
        /// The configuration file (TOML).
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
    },
    /// List stored task records, newest first (`tasks show ID` for one record).
    #[command(args_conflicts_with_subcommands = true)]
    Tasks {
        #[command(subcommand)]
        action: Option<TasksAction>,
        /// Only records with this status (repeatable): initial, in_progress, performed, failed,
        /// completed.
        #[arg(long, value_name = "STATUS")]
        status: Vec<TaskStatus>,
        /// Only records of this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only records of this process instance.
        #[arg(long, value_name = "ID")]
        process_instance: Option<String>,
        /// Only records fetched within this age, e.g. `24h`, `7d`.
        #[arg(long, value_name = "AGE")]
        since: Option<String>,
        /// Records per page.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Skip this many records (the next page: `--offset 50`).
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// The configuration file (TOML; required).
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE", global = true)]
        config: Option<PathBuf>,
    },
    /// Run a stored task's unit again (BPTL's `execute`): the task must be `initial` or
    /// `failed` with a valid lock; `--force` resets its status and takes a fresh lock.
    Execute {
        /// The task: its external task id, or `ENGINE:ID` as `tasks` shows it.
        #[arg(long, value_name = "ID")]
        task_id: String,
        /// Reset the status to `initial` and take a fresh lock, whatever the stored status.
        #[arg(long)]
        force: bool,
        /// The configuration file (TOML).
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
    },
    /// Counts of stored tasks per topic and status (by default: fetched in the last 24 h).
    Stats {
        /// Fetched within this age.
        #[arg(
            long,
            value_name = "AGE",
            default_value = "24h",
            conflicts_with = "all"
        )]
        since: String,
        /// All stored tasks.
        #[arg(long)]
        all: bool,
        /// The configuration file (TOML).
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
    },
    /// Delete completed task records (and their timelines) older than an age, or every record
    /// of one process instance.
    Prune {
        /// The age, e.g. `30d`.
        #[arg(
            long,
            value_name = "AGE",
            required_unless_present = "process_instance",
            conflicts_with = "process_instance"
        )]
        older_than: Option<String>,
        /// Erase every record of this process instance (any status) and their timelines.
        #[arg(long, value_name = "ID")]
        process_instance: Option<String>,
        /// The configuration file (TOML).
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
    },
    /// Serve the web dashboard (README, "Dashboard") against the configured task store, without
    /// running a worker, until SIGINT/SIGTERM.
    #[cfg(feature = "dashboard")]
    Dashboard {
        /// The configuration file (TOML): `[store]`, `[dashboard]`, and the mappings and engine
        /// for the units page and "run again".
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
        /// Listen here (overrides `[dashboard] addr`; default 127.0.0.1:9200).
        #[arg(long, value_name = "ADDR")]
        addr: Option<SocketAddr>,
    },
    /// Run the in-process Camunda-compatible dev engine, with BPMN files deployed, until Ctrl-C.
    DevEngine {
        /// The port on 127.0.0.1.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// BPMN files to deploy.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        bpmn: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum TasksAction {
    /// Show one task record: variables, results, error and timeline.
    Show {
        /// The task: its external task id, or `ENGINE:ID` as `tasks` shows it.
        id: String,
    },
}

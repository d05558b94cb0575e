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

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Config;
use bptl_core::runtime::{Worker, WorkerHandle};
use bptl_core::{InMemoryStore, LINK_HINT, Registry, TaskFilter, TaskStatus, TaskStore};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the command ran and failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: stopped at once by a second interrupt.
pub const EXIT_INTERRUPTED: u8 = 130;

/// bptl: run business-process work units for Camunda 7 and compatible engines.
#[derive(Debug, Parser)]
#[command(name = "worker", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration problem, 130 stopped at once by a second signal.\nLogging: RUST_LOG (default info), e.g. RUST_LOG=bptl_core=debug."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the worker: fetch tasks, run their units, report the outcomes, until SIGINT/SIGTERM
    /// (a second signal stops at once). Refuses to start on any `check` problem.
    Run {
        /// The configuration file (TOML); `BPTL_*` environment variables override its keys.
        #[arg(long, short, env = "BPTL_CONFIG", value_name = "FILE")]
        config: PathBuf,
        /// Serve Prometheus metrics at http://ADDR/metrics (overrides `[metrics] addr`).
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
    /// Delete completed task records (and their timelines) older than an age.
    Prune {
        /// The age, e.g. `30d`.
        #[arg(long, value_name = "AGE")]
        older_than: String,
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
enum TasksAction {
    /// Show one task record: variables, results, error and timeline.
    Show {
        /// The task: its external task id, or `ENGINE:ID` as `tasks` shows it.
        id: String,
    },
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
    ExitCode::from(run_cli_code(args))
}

/// Run the CLI with these arguments and return the numeric exit code (see the `EXIT_*`
/// constants), e.g. to embed the CLI in a larger program or a test.
pub fn run_cli_code<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Registry => registry(),
        Command::Check { config } => check_command(&config),
        Command::Run {
            config,
            metrics_addr,
        } => with_runtime(|| run(config, metrics_addr)),
        Command::FetchAndLock { max_tasks, config } => {
            with_runtime(|| fetch_and_lock(config, max_tasks))
        }
        Command::Tasks { config: None, .. } => {
            eprintln!("error: --config FILE is required (or set BPTL_CONFIG)");
            EXIT_USAGE
        }
        Command::Tasks {
            action: Some(TasksAction::Show { id }),
            config: Some(config),
            ..
        } => with_runtime(|| show_task(config, id)),
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
            list_tasks(config, filter).await
        }),
        Command::Execute {
            task_id,
            force,
            config,
        } => with_runtime(|| execute_task(config, task_id, force)),
        Command::Stats { since, all, config } => with_runtime(|| stats(config, since, all)),
        Command::Prune { older_than, config } => with_runtime(|| prune(config, older_than)),
        Command::DevEngine { port, bpmn } => with_runtime(|| dev_engine(port, bpmn)),
        #[cfg(feature = "dashboard")]
        Command::Dashboard { config, addr } => with_runtime(|| dashboard(config, addr)),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn with_runtime<F, Fut>(f: F) -> u8
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    init_logging();
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

fn registry() -> u8 {
    match Registry::global() {
        Ok(registry) => {
            let mut out = std::io::stdout().lock();
            if registry
                .write_listing(&mut out)
                .and_then(|()| out.flush())
                .is_err()
            {
                return EXIT_FAILURE;
            }
            if registry.is_empty() {
                return EXIT_FAILURE;
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}

/// Every problem `check` finds in a loaded configuration (empty: good to run).
///
/// Covers duplicate units in the registry, an empty registry, mappings naming unknown units
/// (with "did you mean" and the linking hint), mappings for no known engine, no active mapping,
/// unresolvable engine secrets, and the services/credentials validation of `bptl-credentials`.
pub fn check(
    config: &Config,
    registry: Result<&Registry, bptl_core::RegistryError>,
) -> Vec<String> {
    check_and_prepare(config, registry).0
}

/// The engine client and the credentials `check` builds on its way (resolving the secrets they
/// name), so that `run` starts the worker with them instead of resolving every secret again.
struct Prepared {
    client: bptl_camunda::CamundaClient,
    credentials: bptl_credentials::CredentialStore,
}

/// [`check`], also returning what it built when there is no problem.
fn check_and_prepare(
    config: &Config,
    registry: Result<&Registry, bptl_core::RegistryError>,
) -> (Vec<String>, Option<Prepared>) {
    let mut problems = Vec::new();
    let registry = match registry {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("registry: {e}"));
            return (problems, None);
        }
    };
    if registry.is_empty() {
        problems.push(format!(
            "registry: no work units are linked into this binary. {LINK_HINT}"
        ));
    }
    let mappings = config.mappings();
    for (i, m) in config.task_mappings.iter().enumerate() {
        if registry.get(&m.callback).is_none() {
            let similar = registry.similar(&m.callback);
            let hint = if similar.is_empty() {
                LINK_HINT.to_owned()
            } else {
                format!("Did you mean '{}'?", similar.join("', '"))
            };
            problems.push(format!(
                "task_mappings[{i}].callback: the unit '{}' (topic '{}') is not in the registry. {hint}",
                m.callback, m.topic
            ));
        }
        if m.engine != "camunda" {
            problems.push(format!(
                "task_mappings[{i}].engine: '{}' is not an engine this worker speaks to (use \"camunda\")",
                m.engine
            ));
        }
    }
    if mappings.active_for("camunda").next().is_none() {
        problems.push(
            "task_mappings: no active mapping for the engine: the worker would fetch nothing; add [[task_mappings]] sections"
                .to_owned(),
        );
    }
    let client = config
        .engine_client()
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    // Credentials that cannot be used do not hide mapping problems: mappings are checked
    // against the configured service types either way.
    let credentials = bptl_credentials::CredentialStore::from_config(config.services.clone())
        .map_err(|config_problems| {
            problems.extend(config_problems.into_iter().map(|p| p.to_string()));
        })
        .ok();
    for p in bptl_credentials::validate_all(&mappings, registry, &config.services) {
        if !matches!(
            p.problem,
            bptl_credentials::MappingProblem::UnknownUnit { .. }
        ) {
            problems.push(p.to_string());
        }
    }
    let prepared = match (client, credentials) {
        (Some(client), Some(credentials)) if problems.is_empty() => Some(Prepared {
            client,
            credentials,
        }),
        _ => None,
    };
    (problems, prepared)
}

fn load(path: &std::path::Path) -> Result<Config, u8> {
    Config::load(path).map_err(|problems| {
        eprintln!(
            "error: the configuration has {} problem(s):",
            problems.len()
        );
        for p in problems {
            eprintln!("  - {p}");
        }
        EXIT_USAGE
    })
}

fn check_command(path: &std::path::Path) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let problems = check(&config, Registry::global());
    if problems.is_empty() {
        println!(
            "{}: OK ({} task mapping(s), {} unit(s) registered)",
            path.display(),
            config.task_mappings.len(),
            Registry::global().map(Registry::len).unwrap_or(0)
        );
        EXIT_OK
    } else {
        eprintln!("error: {} problem(s) found:", problems.len());
        for p in problems {
            eprintln!("  - {p}");
        }
        EXIT_USAGE
    }
}

/// Open the task store `[store]` describes: SQLite or PostgreSQL at `url` (migrations applied),
/// or in memory when `enabled = false`.
pub async fn open_store(config: &crate::config::StoreConfig) -> Result<Arc<dyn TaskStore>, String> {
    if config.enabled {
        bptl_store::connect(&config.url)
            .await
            .map_err(|e| format!("store.url: {e}"))
    } else {
        Ok(Arc::new(InMemoryStore::new()))
    }
}

/// Load the configuration and open its store, for the operator commands.
async fn load_store(path: &std::path::Path) -> Result<(Config, Arc<dyn TaskStore>), u8> {
    let config = load(path)?;
    if !config.store.enabled {
        eprintln!(
            "error: store.enabled is false: task records live only in the memory of a running worker; enable [store] to keep and inspect them"
        );
        return Err(EXIT_USAGE);
    }
    match open_store(&config.store).await {
        Ok(store) => Ok((config, store)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_FAILURE)
        }
    }
}

/// Print an operator command's outcome; its error maps to exit code 1.
fn report<T>(result: Result<T, crate::ops::OpsError>) -> u8 {
    match result {
        Ok(_) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}

/// Run an operator command on the store the configuration at `path` names, then close the
/// store (so that its writes reach the database before the process exits).
async fn on_store<F, T>(path: &std::path::Path, command: F) -> u8
where
    F: AsyncFnOnce(&dyn TaskStore) -> Result<T, crate::ops::OpsError>,
{
    let (_, store) = match load_store(path).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = command(&*store).await;
    store.close().await;
    report(result)
}

async fn list_tasks(path: PathBuf, filter: TaskFilter) -> u8 {
    on_store(&path, async |store| {
        crate::ops::tasks(store, &filter, &mut std::io::stdout().lock()).await
    })
    .await
}

async fn show_task(path: PathBuf, id: String) -> u8 {
    on_store(&path, async |store| {
        crate::ops::show(store, &id, &mut std::io::stdout().lock()).await
    })
    .await
}

async fn stats(path: PathBuf, since: String, all: bool) -> u8 {
    let since = if all {
        None
    } else {
        match crate::ops::parse_age(&since).and_then(crate::ops::since_age) {
            Ok(at) => Some(at),
            Err(e) => {
                eprintln!("error: --since: {e}");
                return EXIT_USAGE;
            }
        }
    };
    on_store(&path, async |store| {
        crate::ops::stats(store, since, &mut std::io::stdout().lock()).await
    })
    .await
}

async fn prune(path: PathBuf, older_than: String) -> u8 {
    let age = match crate::ops::parse_age(&older_than) {
        Ok(age) => age,
        Err(e) => {
            eprintln!("error: --older-than: {e}");
            return EXIT_USAGE;
        }
    };
    on_store(&path, async |store| {
        crate::ops::prune(store, age, &mut std::io::stdout().lock()).await
    })
    .await
}

async fn execute_task(path: PathBuf, id: String, force: bool) -> u8 {
    let (config, store) = match load_store(&path).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = execute_on(&config, &store, id, force).await;
    store.close().await;
    code
}

async fn execute_on(config: &Config, store: &Arc<dyn TaskStore>, id: String, force: bool) -> u8 {
    let registry = match Registry::global() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let client = match config.engine_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let credentials = match bptl_credentials::CredentialStore::from_config(config.services.clone())
    {
        Ok(c) => c,
        Err(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            return EXIT_USAGE;
        }
    };
    let mut extensions = bptl_core::Extensions::default();
    extensions.insert(Arc::new(credentials));
    let worker_config = config.worker_config();
    let options = crate::ops::ExecuteOptions {
        id,
        force,
        worker_id: worker_config
            .worker_id
            .clone()
            .unwrap_or_else(bptl_core::runtime::default_worker_id),
        lock_duration: worker_config.lock_duration,
    };
    report(
        crate::ops::execute(
            &**store,
            &bptl_camunda::CamundaEngine::new(client),
            registry,
            &config.mappings(),
            extensions,
            &options,
            &mut std::io::stdout().lock(),
        )
        .await,
    )
}

async fn build_worker(
    config: &Config,
    store: Arc<dyn TaskStore>,
) -> Result<Worker<bptl_camunda::CamundaEngine>, (u8, String)> {
    let client = config
        .engine_client()
        .map_err(|e| (EXIT_USAGE, e.to_string()))?;
    let credentials = bptl_credentials::CredentialStore::from_config(config.services.clone())
        .map_err(|p| {
            (
                EXIT_USAGE,
                p.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    assemble_worker(
        config,
        store,
        Prepared {
            client,
            credentials,
        },
    )
}

/// The worker for `config`, with the engine client and credentials already built.
fn assemble_worker(
    config: &Config,
    store: Arc<dyn TaskStore>,
    Prepared {
        client,
        credentials,
    }: Prepared,
) -> Result<Worker<bptl_camunda::CamundaEngine>, (u8, String)> {
    let registry = Registry::global().map_err(|e| (EXIT_USAGE, e.to_string()))?;
    let callback = crate::callback::HttpCallbackSender::shared().map_err(|e| (EXIT_FAILURE, e))?;
    Worker::builder(bptl_camunda::CamundaEngine::new(client))
        .registry(registry.clone())
        .mappings(config.mappings())
        .config(config.worker_config())
        .store(store)
        .callback_sender(callback)
        .extension(Arc::new(credentials))
        .build()
        .map_err(|e| (EXIT_USAGE, e.to_string()))
}

async fn run(path: PathBuf, metrics_addr: Option<SocketAddr>) -> u8 {
    let config = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (problems, prepared) = check_and_prepare(&config, Registry::global());
    // Prepared only when there is no problem.
    let Some(prepared) = prepared else {
        eprintln!(
            "error: not starting: {} problem(s) found (run `check` for the same list):",
            problems.len()
        );
        for p in problems {
            eprintln!("  - {p}");
        }
        return EXIT_USAGE;
    };
    if let Some(addr) = metrics_addr.or(config.metrics_addr)
        && let Err(e) = serve_metrics(addr).await
    {
        eprintln!("error: {e}");
        return EXIT_FAILURE;
    }
    let store = match open_store(&config.store).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    let worker = match assemble_worker(&config, Arc::clone(&store), prepared) {
        Ok(w) => w,
        Err((code, message)) => {
            eprintln!("error: {message}");
            return code;
        }
    };
    let handle: WorkerHandle = worker.handle();
    #[cfg(feature = "dashboard")]
    if let Some(addr) = config.dashboard.addr {
        let served = match crate::dashboard::Dashboard::new(Arc::clone(&store), &config.dashboard) {
            Ok(d) => {
                d.with_config(&config)
                    .with_worker(handle.clone())
                    .serve(addr)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = served {
            eprintln!("error: {e}");
            store.close().await;
            return EXIT_USAGE;
        }
    }
    let retention = match (config.store.enabled, config.store.retention) {
        (true, Some(retention)) => Some(bptl_store::spawn_retention(
            Arc::clone(&store),
            retention,
            std::time::Duration::from_secs(3600),
        )),
        _ => None,
    };
    let stats = worker.run_until_signal().await;
    if let Some(pruning) = retention {
        pruning.abort();
    }
    store.close().await;
    println!(
        "worker {} stopped: {} completed, {} failed, {} BPMN error(s), {} unlocked, {} not reported",
        handle.worker_id(),
        stats.completed,
        stats.failed,
        stats.bpmn_errors,
        stats.unlocked,
        stats.not_reported
    );
    if stats.in_flight > 0 {
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    }
}

#[cfg(feature = "dashboard")]
async fn dashboard(path: PathBuf, addr: Option<SocketAddr>) -> u8 {
    let (config, store) = match load_store(&path).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let addr = addr.or(config.dashboard.addr).unwrap_or_else(|| {
        crate::dashboard::DEFAULT_ADDR
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9200)))
    });
    let served = match crate::dashboard::Dashboard::new(Arc::clone(&store), &config.dashboard) {
        Ok(d) => d.with_config(&config).serve(addr).await,
        Err(e) => Err(e),
    };
    let running = match served {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            store.close().await;
            return EXIT_USAGE;
        }
    };
    println!("dashboard at http://{}/", running.addr);
    wait_for_signal().await;
    running.task.abort();
    store.close().await;
    EXIT_OK
}

#[cfg(feature = "dashboard")]
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Install a Prometheus recorder for the `metrics` crate and serve it at `http://addr/metrics`.
pub async fn serve_metrics(addr: SocketAddr) -> Result<(), String> {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| "a metrics recorder is already installed".to_owned())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("metrics.addr: cannot listen on {addr}: {e}"))?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the metrics endpoint stopped: {e}");
        }
    });
    tracing::info!("serving metrics at http://{addr}/metrics");
    Ok(())
}

async fn fetch_and_lock(path: PathBuf, max_tasks: usize) -> u8 {
    let config = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let store = match open_store(&config.store).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    let code = fetch_and_save(&config, Arc::clone(&store), max_tasks).await;
    store.close().await;
    code
}

async fn fetch_and_save(config: &Config, store: Arc<dyn TaskStore>, max_tasks: usize) -> u8 {
    let worker = match build_worker(config, store).await {
        Ok(w) => w,
        Err((code, message)) => {
            eprintln!("error: {message}");
            return code;
        }
    };
    if !config.store.enabled {
        eprintln!(
            "note: [store] is not enabled: the tasks are locked, but their records live only in this process's memory"
        );
    }
    match worker.fetch_and_save(max_tasks).await {
        Ok(records) => {
            println!(
                "{} task(s) saved with worker ID {}",
                records.len(),
                worker.worker_id()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}

#[cfg(feature = "dev-engine")]
async fn dev_engine(port: u16, bpmn: Vec<PathBuf>) -> u8 {
    match bptl_dev_engine::serve_standalone(port, &bpmn).await {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}

#[cfg(not(feature = "dev-engine"))]
async fn dev_engine(_port: u16, _bpmn: Vec<PathBuf>) -> u8 {
    eprintln!("error: this binary was built without the `dev-engine` feature");
    EXIT_USAGE
}

//! `run` (the worker), `fetch-and-lock` and `dev-engine`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::check::{Prepared, check_and_prepare, load};
use super::{EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use bptl_core::runtime::{Worker, WorkerHandle};
use bptl_core::{InMemoryStore, Registry, TaskStore};

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

pub(super) async fn build_worker(
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
    let credentials = Arc::new(credentials);
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
    let callback = crate::callback::HttpCallbackSender::shared(config.callback_allow.clone())
        .map_err(|e| (EXIT_FAILURE, e))?;
    Worker::builder(bptl_camunda::CamundaEngine::new(client.clone()))
        .registry(registry.clone())
        .mappings(config.mappings())
        .config(config.worker_config())
        .store(store)
        .callback_sender(callback)
        .extension(credentials)
        // The worker's own engine, for units that call it (`bptl_units::start_process`).
        .extension(Arc::new(client))
        .build()
        .map_err(|e| (EXIT_USAGE, e.to_string()))
}

pub(super) async fn run(path: PathBuf, admin_addr: Option<SocketAddr>) -> u8 {
    let config = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let logging = match super::logging::init(config.log_format, config.traces.as_ref()) {
        Ok(logging) => logging,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    let code = run_worker(config, admin_addr).await;
    // The traces' last spans, sent while the runtime still runs (the export blocks).
    let _ = tokio::task::spawn_blocking(move || logging.shutdown()).await;
    code
}

async fn run_worker(config: Config, admin_addr: Option<SocketAddr>) -> u8 {
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
    for warning in &config.warnings {
        tracing::warn!("configuration: {warning}");
    }
    let admin_addr = admin_addr.or(config.admin.addr);
    // Installed before anything records a metric.
    if admin_addr.is_some()
        && let Err(e) = super::admin::prometheus()
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
    let credentials = Arc::clone(&prepared.credentials);
    let worker = match assemble_worker(&config, Arc::clone(&store), prepared) {
        Ok(w) => w,
        Err((code, message)) => {
            eprintln!("error: {message}");
            return code;
        }
    };
    let schedules = match crate::schedule::Schedules::beside(&worker, &config.schedules) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            store.close().await;
            return EXIT_USAGE;
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
    let http_api = match crate::sources::http_api::start(
        &config,
        Arc::clone(&store),
        credentials,
        handle.clone(),
    )
    .await
    {
        Ok(api) => api,
        Err(e) => {
            eprintln!("error: {e}");
            store.close().await;
            return EXIT_USAGE;
        }
    };
    // After the other sources started: `/healthz` watches them too.
    if let Some(addr) = admin_addr {
        let mut admin = super::admin::Admin::new(
            handle.clone(),
            Arc::clone(&store),
            config.admin.engine_answer_within,
        );
        if let Some(ticks) = schedules.handle() {
            admin = admin.watch("schedules", ticks);
        }
        if let Some(api) = &http_api {
            admin = api.watched_by(admin);
        }
        if let Err(e) = admin.serve(addr).await {
            eprintln!("error: {e}");
            store.close().await;
            return EXIT_FAILURE;
        }
    }
    let retention = bptl_store::Retention {
        completed: config.store.retention,
        failed: config.store.retention_failed,
    };
    let retention = (config.store.enabled && retention.prunes()).then(|| {
        bptl_store::spawn_retention(
            Arc::clone(&store),
            retention,
            std::time::Duration::from_secs(3600),
        )
    });
    let stats = schedules.run_with(worker).await;
    if let Some(api) = http_api {
        api.stop().await;
    }
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

pub(super) async fn fetch_and_lock(path: PathBuf, max_tasks: usize) -> u8 {
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
pub(super) async fn dev_engine(port: u16, bpmn: Vec<PathBuf>) -> u8 {
    match bptl_dev_engine::serve_standalone(port, &bpmn).await {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}

#[cfg(not(feature = "dev-engine"))]
pub(super) async fn dev_engine(_port: u16, _bpmn: Vec<PathBuf>) -> u8 {
    eprintln!("error: this binary was built without the `dev-engine` feature");
    EXIT_USAGE
}

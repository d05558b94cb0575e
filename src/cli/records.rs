//! The operator commands on the task store: `tasks`, `tasks show`, `stats`, `prune`, `execute`.

use std::path::PathBuf;
use std::sync::Arc;

use super::check::load;
use super::run::open_store;
use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use bptl_core::{Registry, TaskFilter, TaskStore};

/// Load the configuration and open its store, for the operator commands.
pub(super) async fn load_store(path: &std::path::Path) -> Result<(Config, Arc<dyn TaskStore>), u8> {
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

pub(super) async fn list_tasks(path: PathBuf, filter: TaskFilter) -> u8 {
    on_store(&path, async |store| {
        crate::ops::tasks(store, &filter, &mut std::io::stdout().lock()).await
    })
    .await
}

pub(super) async fn show_task(path: PathBuf, id: String) -> u8 {
    on_store(&path, async |store| {
        crate::ops::show(store, &id, &mut std::io::stdout().lock()).await
    })
    .await
}

pub(super) async fn stats(path: PathBuf, since: String, all: bool) -> u8 {
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

pub(super) async fn prune(
    path: PathBuf,
    older_than: Option<String>,
    process_instance: Option<String>,
) -> u8 {
    if let Some(id) = process_instance {
        if id.trim().is_empty() {
            eprintln!("error: --process-instance: give the id of a process instance");
            return EXIT_USAGE;
        }
        return on_store(&path, async |store| {
            crate::ops::erase_process_instance(store, &id, &mut std::io::stdout().lock()).await
        })
        .await;
    }
    let age = match crate::ops::parse_age(older_than.as_deref().unwrap_or_default()) {
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

pub(super) async fn execute_task(path: PathBuf, id: String, force: bool) -> u8 {
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
    extensions.insert(Arc::new(client.clone()));
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

//! Camunda 7 support for bptl (also Operaton and CIB seven, which speak the same protocol).
//!
//! * [`CamundaClient`]: the REST client (fetchAndLock with long polling, complete, failure,
//!   bpmnError, extendLock, lock, unlock, queries, starting processes, deployments), with
//!   engine authentication whose secrets never show in logs, errors or `Debug` output.
//! * [`variables`]: Camunda's typed variables to and from bptl's [`Value`](bptl_core::Value),
//!   keeping each value's type so that what a unit echoes goes back unchanged.
//! * [`ExternalTask`]: a fetched task, implementing [`BaseTask`](bptl_core::BaseTask).
//! * [`CamundaEngine`]: the runtime's [`Engine`](bptl_core::Engine) over the client.
//! * [`CamundaError`]: errors that say what happened (`is_not_found`, `is_transient`, ...).
//!
//! ```no_run
//! use std::time::Duration;
//! use bptl_camunda::{CamundaClient, FetchAndLock, FetchTopic};
//! use bptl_core::{BaseTask, variables};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = CamundaClient::builder("http://127.0.0.1:8080/engine-rest")
//!     .basic_auth("demo", "demo")
//!     .build()?;
//! let request = FetchAndLock::new("worker-1", 10)
//!     .topic(FetchTopic::new("double", Duration::from_secs(60)))
//!     .long_poll(Duration::from_secs(20));
//! for task in client.fetch_and_lock(&request).await? {
//!     let amount = task.get_variables()?.get("amount").and_then(|v| v.as_f64()).unwrap_or(0.0);
//!     match client.complete(&task.id, "worker-1", &variables! { "doubled": amount * 2.0 }).await {
//!         Err(e) if e.is_not_found() => println!("task {} was cancelled", task.id),
//!         other => other?,
//!     }
//! }
//! # Ok(()) }
//! ```

mod adapter;
mod client;
mod error;
mod external_task;
pub mod variables;
pub mod wire;

pub use adapter::CamundaEngine;
pub use client::{
    AuthProvider, BpmnErrorRequest, CamundaClient, CamundaClientBuilder, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LONG_POLL_MARGIN, DEFAULT_TIMEOUT, Deployment, DeploymentRequest, EngineAuth,
    ExternalTaskQuery, FailureRequest, FetchAndLock, FetchSorting, FetchTopic,
    HistoricProcessInstance, HistoricVariableInstance, Incident, ProcessDefinition,
    ProcessInstance, SortOrder, StartProcess,
};
pub use error::{CamundaError, NetworkErrorKind};
pub use external_task::ExternalTask;

/// Make rustls' _ring_ provider the process's default, unless one is installed already: the
/// one helper of `bptl-core`, which [`CamundaClientBuilder::build`] calls first. Call it
/// before building a `reqwest` client of your own ahead of bptl's.
///
/// ```
/// bptl_camunda::install_crypto_provider();
/// let client = reqwest::Client::new();
/// # drop(client);
/// ```
#[doc(inline)]
pub use bptl_core::install_crypto_provider;

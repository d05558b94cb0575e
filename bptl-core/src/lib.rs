//! The engine- and credential-agnostic heart of **bptl**: tasks, variables, work units, the
//! unit registry, task mappings, execution and the contracts engines plug into.
//!
//! Most users depend on the facade crate `bptl` and `use bptl::prelude::*`. This crate is what
//! third-party unit crates and engine integrations build on: a units crate may depend on
//! `bptl-core` alone, with `#[register]` and `#[require_service]` from here
//! (`use bptl_core::prelude::*;`), and a binary that depends on `bptl` runs its units.
//!
//! ```
//! use bptl_core::{check_variable_as, execute, variables, BaseTask, InMemoryTask, Registry,
//!     TaskMapping, TaskMappings, TaskRef, TaskRun, UnitEntry, UnitError, UnitKind, Variables};
//!
//! // A unit is an async fn taking the task (normally registered with `#[register]`).
//! async fn double(task: &dyn BaseTask) -> Result<Variables, UnitError> {
//!     let amount: f64 = check_variable_as(&task.get_variables()?, "amount")?;
//!     Ok(variables! { "doubled": amount * 2.0 })
//! }
//! fn run_double(task: TaskRef) -> bptl_core::UnitFuture {
//!     Box::pin(async move { double(&*task).await })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let registry = Registry::from_entries([UnitEntry {
//!     path: "doc::double", name: "double", doc: "Double an amount.", required_services: &[],
//!     kind: UnitKind::AsyncFn, run: run_double, file: file!(), line: line!(),
//! }]).unwrap();
//! let mappings = TaskMappings::new([TaskMapping::new("double", "doc::double").engine("memory")]).unwrap();
//! let mut run = TaskRun::new(InMemoryTask::new("double", variables! { "amount": 21 }).into_ref());
//! let out = execute(&mut run, &registry, &mappings).await.unwrap();
//! assert_eq!(out.get("doubled").and_then(|v| v.as_f64()), Some(42.0));
//! assert_eq!(run.status().as_str(), "performed");
//! # }
//! ```
//!
//! The same unit registered in a crate that depends on `bptl-core` alone:
//!
//! ```
//! use bptl_core::prelude::*;
//!
//! /// Double an amount.
//! #[register]
//! async fn double(task: &dyn BaseTask) -> Result<Variables, UnitError> {
//!     let amount: f64 = check_variable_as(&task.get_variables()?, "amount")?;
//!     Ok(variables! { "doubled": amount * 2.0 })
//! }
//!
//! let registry = bptl_core::Registry::global().unwrap();
//! assert!(registry.iter().any(|unit| unit.name == "double"));
//! ```

#[allow(unused_extern_crates)]
extern crate self as bptl_core;

pub mod crypto;
pub mod duration;
pub mod engine;
pub mod error;
pub mod execute;
pub mod mapping;
pub mod registry;
pub mod runtime;
pub mod status;
pub mod store;
pub mod suggest;
pub mod task;
pub mod timeline;
pub mod unit;
pub mod value;

pub use async_trait::async_trait;
pub use bptl_macros::{register, require_service};
pub use crypto::install_crypto_provider;
pub use engine::{
    Engine, EngineError, EngineErrorKind, FailureReport, FetchRequest, PushEngine, TopicRequest,
};
pub use error::{BpmnError, Failure, UnitError};
pub use execute::{ExecuteError, TaskRun, execute};
pub use mapping::{MappingError, RetryPolicy, TaskMapping, TaskMappings};
pub use registry::{LINK_HINT, Registry, RegistryError, RequiredService, UnitEntry, UnitKind};
pub use runtime::{CallbackSender, Worker, WorkerConfig, WorkerHandle, WorkerStats};
pub use status::{StatusError, Transition};
pub use store::{
    HourlyRow, InMemoryStore, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore,
};
pub use task::{
    BaseTask, Extensions, InMemoryTask, RunningTask, TaskContext, TaskRef, TaskStatus,
    check_variable, check_variable_allow_empty, check_variable_as, optional_variable_as,
};
pub use timeline::{EventKind, Timeline, TimelineEntry, TimelineSink};
pub use unit::{IntoUnitResult, UnitFuture, WorkUnit};
pub use value::{DateValue, FileValue, ObjectData, ObjectValue, Value, Variables};

/// Everything a unit author needs: `use bptl_core::prelude::*;`.
pub mod prelude {
    pub use crate::{
        BaseTask, BpmnError, Failure, TaskRef, UnitError, Value, Variables, WorkUnit, async_trait,
        check_variable, check_variable_allow_empty, check_variable_as, optional_variable_as,
        register, require_service, variables,
    };
}

/// Items the `bptl-macros` expansions name. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use linkme;

    pub use crate::registry::{RequiredService, UnitEntry, UnitKind};
    pub use crate::task::{BaseTask, TaskRef};
    pub use crate::unit::{IntoUnitResult, UnitFuture, WorkUnit, run_blocking, run_work_unit};

    /// What a blocking unit's wrapper returns.
    pub type UnitResult = Result<crate::Variables, crate::UnitError>;

    /// Every `#[register]`ed unit of every linked crate.
    #[linkme::distributed_slice]
    #[linkme(crate = crate::__private::linkme)]
    pub static UNITS: [UnitEntry];

    /// Compile-time check that a unit's declared return type is allowed.
    pub fn assert_unit_result<R: IntoUnitResult>() {}

    /// Wrap an async function unit's future (checks the return type with a helpful message).
    pub fn async_unit<F, R>(future: F) -> UnitFuture
    where
        F: std::future::Future<Output = R> + Send + 'static,
        R: IntoUnitResult,
    {
        Box::pin(async move { future.await.into_unit_result() })
    }
}

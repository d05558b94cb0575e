//! **bptl** runs business-process "work units" for process engines: first of all Camunda 7
//! and its API-compatible forks Operaton and CIB seven, through external tasks.
//!
//! This is the facade crate: one dependency that re-exports the core (`bptl-core`, with the
//! macros of `bptl-macros`) item by item and, with features, the Camunda integration
//! (`camunda`), credentials (`credentials`), the SQL task stores (`store`), the command-line
//! interface (`cli`) and the dashboard (`dashboard`): the default features. Not default, as a
//! production worker has no use for them: the dev engine (`dev-engine`), the demonstration
//! units (`dummy`) and the test kit (`testing`); enable them in `[dev-dependencies]`.
//!
//! ```
//! use bptl::prelude::*;
//!
//! /// Double an amount.
//! ///
//! /// **Required process variables**
//! /// * `amount`: a number
//! ///
//! /// **Sets the process variables**
//! /// * `doubled`: twice the amount
//! #[register]
//! async fn double(task: &dyn BaseTask) -> Result<Variables, UnitError> {
//!     let vars = task.get_variables()?;
//!     let amount: f64 = check_variable_as(&vars, "amount")?;
//!     Ok(variables! { "doubled": amount * 2.0 })
//! }
//!
//! let registry = bptl::Registry::global().unwrap();
//! let unit = registry.iter().find(|u| u.name == "double").unwrap();
//! assert!(unit.documentation().starts_with("Double an amount."));
//! ```

#[allow(unused_extern_crates)]
extern crate self as bptl;

// The core, item by item: each path below means what it means in `bptl-core`, whatever the
// features (`bptl::store` is the store contract; the SQL stores are `bptl::sql_store`).

// The core's modules, as in `bptl-core`.
#[doc(inline)]
pub use bptl_core::{
    duration, engine, error, execute, mapping, registry, runtime, status, store, suggest, task,
    timeline, unit, value,
};

// The macros: `#[register]`, `#[require_service]`, `variables!`, `link_units!`.
#[doc(inline)]
pub use bptl_core::{link_units, register, require_service, variables};

// `#[async_trait]`, for `impl WorkUnit`.
#[doc(inline)]
pub use bptl_core::async_trait;

// Tasks, variables, units and their results.
#[doc(inline)]
pub use bptl_core::{
    BaseTask, BpmnError, DateValue, Extensions, Failure, FileValue, InMemoryTask, IntoUnitResult,
    ObjectData, ObjectValue, RunningTask, StatusError, TaskContext, TaskRef, TaskStatus,
    Transition, UnitError, UnitFuture, Value, Variables, WorkUnit, check_variable,
    check_variable_allow_empty, check_variable_as, optional_variable_as,
};

// The registry, task mappings and execution.
#[doc(inline)]
pub use bptl_core::{
    ExecuteError, LINK_HINT, MappingError, Registry, RegistryError, RequiredService, RetryPolicy,
    TaskMapping, TaskMappings, TaskRun, UnitEntry, UnitKind,
};

// The engine contract and the worker runtime.
#[doc(inline)]
pub use bptl_core::{
    CallbackSender, Engine, EngineError, EngineErrorKind, FailureReport, FetchRequest, PushEngine,
    TopicRequest, Worker, WorkerConfig, WorkerHandle, WorkerStats,
};

// The store contract and the in-memory store (the SQL stores: [`sql_store`], feature `store`).
#[doc(inline)]
pub use bptl_core::{
    HourlyRow, InMemoryStore, StatsRow, StoreError, TaskFilter, TaskKey, TaskRecord, TaskStore,
};

// Timelines: what happened to a task, in order.
#[doc(inline)]
pub use bptl_core::{EventKind, Timeline, TimelineEntry, TimelineSink};

#[doc(hidden)]
pub use bptl_core::__private;

/// The Camunda 7 integration: REST client, typed variables, `ExternalTask` and engine adapter.
#[cfg(feature = "camunda")]
pub use bptl_camunda as camunda;

/// The in-process, Camunda-compatible dev engine (feature `dev-engine`, also enabled by
/// `testing`): a development and test tool, not part of the production client.
#[cfg(feature = "dev-engine")]
pub use bptl_dev_engine as dev_engine;

/// Services, applications, credentials and authenticated HTTP clients.
#[cfg(feature = "credentials")]
pub use bptl_credentials as credentials;

/// The demonstration units (`bptl_dummy::Double`, `echo`, ...; feature `dummy`, not a default:
/// a production worker has no demo units). Naming the crate here links its units into every
/// binary that uses the facade with the `dummy` feature.
#[cfg(feature = "dummy")]
pub use bptl_dummy as dummy;

/// The built-in units (`bptl_units::start_process`, `bptl_units::http_request`; default feature `units`). Naming the crate here links its units into every binary that uses the
/// facade with the `units` feature.
#[cfg(feature = "units")]
pub use bptl_units as units;

/// The task stores in SQLite and PostgreSQL (`bptl-store`, feature `store`): `connect(url)`,
/// `SqliteStore`, `PostgresStore`. The contract they implement is [`store`].
#[cfg(feature = "store")]
pub use bptl_store as sql_store;

#[cfg(feature = "cli")]
pub mod cli;

#[cfg(feature = "credentials")]
pub mod callback;

#[cfg(feature = "cli")]
pub mod config;

#[cfg(feature = "dashboard")]
pub mod dashboard;

#[cfg(feature = "cli")]
pub mod ops;

#[cfg(feature = "schedule")]
pub mod schedule;

#[cfg(feature = "cli")]
pub mod sources;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "otel")]
pub mod traces;

/// Everything a unit author needs: `use bptl::prelude::*;`.
pub mod prelude {
    pub use bptl_core::prelude::*;

    /// `task.service(alias)`, `task.credentials(alias)`, `task.client(alias)`.
    #[cfg(feature = "credentials")]
    pub use bptl_credentials::TaskServices;
}

/// The README's examples, compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

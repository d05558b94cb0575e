//! **bptl** runs business-process "work units" for process engines: first of all Camunda 7
//! and its API-compatible forks Operaton and CIB seven, through external tasks.
//!
//! This is the facade crate: one dependency that re-exports the core (`bptl-core`), the
//! macros (`bptl-macros`) and, with features, the Camunda integration, credentials, the
//! task store, the demonstration units and the command-line interface.
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

pub use bptl_core::*;
pub use bptl_macros::{register, require_service};

#[doc(hidden)]
pub use bptl_core::__private;

/// The Camunda 7 integration: REST client, typed variables, `ExternalTask`, engine adapter
/// and (feature `dev-engine`) the in-process dev engine.
#[cfg(feature = "camunda")]
pub use bptl_camunda as camunda;

/// Services, applications, credentials and authenticated HTTP clients.
#[cfg(feature = "credentials")]
pub use bptl_credentials as credentials;

/// The demonstration units (`bptl_dummy::Double`, `echo`, ...). Naming the crate here links
/// its units into every binary that uses the facade with the `dummy` feature.
#[cfg(feature = "dummy")]
pub use bptl_dummy as dummy;

/// Task records and timelines in SQLite or PostgreSQL.
#[cfg(feature = "store")]
pub use bptl_store as store;

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

#[cfg(feature = "testing")]
pub mod testing;

/// Everything a unit author needs: `use bptl::prelude::*;`.
pub mod prelude {
    pub use bptl_core::prelude::*;
    pub use bptl_macros::{register, require_service};

    /// `task.service(alias)`, `task.credentials(alias)`, `task.client(alias)`.
    #[cfg(feature = "credentials")]
    pub use bptl_credentials::TaskServices;
}

/// The README's examples, compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! Work units: the class-based [`WorkUnit`] trait and what function units may return.

use std::future::Future;
use std::pin::Pin;

use crate::error::UnitError;
use crate::task::TaskRef;
use crate::value::Variables;

/// The future a unit runs as.
pub type UnitFuture = Pin<Box<dyn Future<Output = Result<Variables, UnitError>> + Send + 'static>>;

/// A class-based work unit: built from the task, then performed.
///
/// Register it with `#[register]` on the struct; function-based units need no trait at all.
///
/// ```
/// use bptl_core::{async_trait, check_variable_as, variables, TaskRef, UnitError, Variables, WorkUnit};
///
/// struct Greet { task: TaskRef }
///
/// #[async_trait]
/// impl WorkUnit for Greet {
///     fn new(task: TaskRef) -> Self { Self { task } }
///     async fn perform(&self) -> Result<Variables, UnitError> {
///         let name: String = check_variable_as(&self.task.get_variables()?, "name")?;
///         Ok(variables! { "greeting": format!("Hello, {name}!") })
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is registered as a class-based work unit but does not implement `WorkUnit`",
    label = "add `#[async_trait] impl WorkUnit for {Self} {{ fn new(task: TaskRef) -> Self {{ .. }} async fn perform(&self) -> Result<Variables, UnitError> {{ .. }} }}`"
)]
#[async_trait::async_trait]
pub trait WorkUnit: Send + Sync + 'static {
    /// Build the unit for `task`.
    fn new(task: TaskRef) -> Self
    where
        Self: Sized;

    /// Do the work; return the variables to set in the process.
    async fn perform(&self) -> Result<Variables, UnitError>;
}

/// What a function unit may return: variables, nothing, or a `Result` of either whose error
/// converts into [`UnitError`].
#[diagnostic::on_unimplemented(
    message = "a work unit cannot return `{Self}`",
    label = "return `Result<Variables, UnitError>`, `Result<(), UnitError>`, `Variables` or `()`"
)]
pub trait IntoUnitResult {
    /// Convert into the runtime's result.
    fn into_unit_result(self) -> Result<Variables, UnitError>;
}

impl IntoUnitResult for Variables {
    fn into_unit_result(self) -> Result<Variables, UnitError> {
        Ok(self)
    }
}

impl IntoUnitResult for () {
    fn into_unit_result(self) -> Result<Variables, UnitError> {
        Ok(Variables::new())
    }
}

impl<E: Into<UnitError>> IntoUnitResult for Result<Variables, E> {
    fn into_unit_result(self) -> Result<Variables, UnitError> {
        self.map_err(Into::into)
    }
}

impl<E: Into<UnitError>> IntoUnitResult for Result<(), E> {
    fn into_unit_result(self) -> Result<Variables, UnitError> {
        self.map(|()| Variables::new()).map_err(Into::into)
    }
}

/// Run a class-based unit (used by generated code).
pub fn run_work_unit<U: WorkUnit>(task: TaskRef) -> UnitFuture {
    Box::pin(async move { U::new(task).perform().await })
}

/// Run a blocking function unit on tokio's blocking pool, off the async worker threads
/// (used by generated code).
pub fn run_blocking(task: TaskRef, f: fn(TaskRef) -> Result<Variables, UnitError>) -> UnitFuture {
    Box::pin(async move {
        match tokio::task::spawn_blocking(move || f(task)).await {
            Ok(result) => result,
            Err(join) if join.is_panic() => Err(UnitError::Panic(crate::execute::panic_message(
                join.into_panic(),
            ))),
            Err(join) => Err(UnitError::other(join)),
        }
    })
}

//! Demonstration work units for bptl, documented in the recommended format.
//!
//! They show both ways of writing a unit and serve the quickstart, the examples and the tests:
//! `dummy`, `noop`, `noop_blocking`, `Double`, `echo`, `sleep`, `fail`, `bpmn_error` and
//! `fetch_json`.
//!
//! A binary that wants them in its registry must link this crate, e.g. with
//! `use bptl_dummy as _;` (the facade `bptl` does this when its `dummy` feature is on).
//!
//! ```
//! use bptl_core::Registry;
//! use bptl_dummy as _; // link the units
//!
//! let registry = Registry::global().unwrap();
//! assert!(registry.get("bptl_dummy::Double").is_some());
//! ```

use std::time::Duration;

use bptl_core::prelude::*;
use bptl_core::{TaskRef, check_variable_as, optional_variable_as};
use bptl_credentials::TaskServices;
use bptl_macros::{register, require_service};

/// Log the task and its variables; set nothing.
///
/// A unit to try mappings with: it accepts any task.
///
/// **Sets the process variables**
///
/// * none
#[register]
pub fn dummy(task: &dyn BaseTask) -> Result<(), UnitError> {
    let variables = task.get_variables()?;
    tracing::info!(
        task_id = task.task_id(),
        variables = %variables.to_json(),
        "dummy unit ran"
    );
    Ok(())
}

/// Complete at once, reading and setting nothing (an async unit; the benchmarks' no-op).
///
/// **Sets the process variables**
///
/// * none
#[register]
pub async fn noop(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

/// Complete at once, reading and setting nothing, as a plain (blocking) function: it runs on
/// the blocking thread pool like any blocking unit (the benchmarks' blocking no-op).
///
/// **Sets the process variables**
///
/// * none
#[register]
pub fn noop_blocking(_task: &dyn BaseTask) -> Result<(), UnitError> {
    Ok(())
}

/// Double an amount.
///
/// **Required process variables**
///
/// * `amount`: a number
///
/// **Sets the process variables**
///
/// * `doubled`: twice the amount; an integer when `amount` is an integer
#[register]
pub struct Double {
    task: TaskRef,
}

#[async_trait]
impl WorkUnit for Double {
    fn new(task: TaskRef) -> Self {
        Self { task }
    }

    async fn perform(&self) -> Result<Variables, UnitError> {
        let vars = self.task.get_variables()?;
        let amount = check_variable(&vars, "amount")?;
        if let Some(whole) = amount.as_i64() {
            let doubled = whole.checked_mul(2).ok_or_else(|| {
                UnitError::failure(format!("The amount {whole} is too large to double."))
            })?;
            return Ok(variables! { "doubled": doubled });
        }
        let amount: f64 = check_variable_as(&vars, "amount")?;
        Ok(variables! { "doubled": amount * 2.0 })
    }
}

/// Echo variables back under new names, with the same value and kind.
///
/// **Optional process variables**
///
/// * `echoVariables`: a list of variable names to echo; all input variables when absent
///
/// **Sets the process variables**
///
/// * `echo_<name>`: the value of `<name>`, unchanged (a Date stays a Date, a Long a Long)
#[register]
pub async fn echo(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let names: Option<Vec<String>> = optional_variable_as(&vars, "echoVariables")?;
    let names: Vec<String> = match names {
        Some(names) => names,
        None => vars
            .names()
            .filter(|n| n.as_str() != "echoVariables")
            .cloned()
            .collect(),
    };
    let mut out = Variables::new();
    for name in names {
        let value = vars.get(&name).ok_or_else(|| {
            UnitError::failure(format!(
                "The variable {name} is listed in echoVariables but is not set."
            ))
        })?;
        out.insert(format!("echo_{name}"), value.clone());
    }
    Ok(out)
}

/// Sleep for a while, without blocking other units.
///
/// **Required process variables**
///
/// * `durationMs`: how long to sleep, in milliseconds (an integer ≥ 0)
///
/// **Sets the process variables**
///
/// * `sleptMs`: the duration slept, in milliseconds
#[register]
pub async fn sleep(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let value = bptl_core::check_variable_allow_empty(&vars, "durationMs")?;
    let millis: u64 = match value.as_i64() {
        Some(ms) if ms >= 0 => ms as u64,
        _ => {
            return Err(UnitError::InvalidVariable {
                name: "durationMs".into(),
                expected: "an integer ≥ 0 (milliseconds)".into(),
                found: value.describe(),
            });
        }
    };
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(variables! { "sleptMs": millis })
}

/// Fail on purpose, to try retries and incidents.
///
/// **Optional process variables**
///
/// * `message`: the failure message (default "failure requested")
/// * `retries`: the retries left after this failure (default: the mapping's retry policy)
/// * `retryTimeoutMs`: the wait before a retry, in milliseconds (default: the retry policy)
///
/// **Sets the process variables**
///
/// * none: it always fails
#[register]
pub async fn fail(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let message: Option<String> = optional_variable_as(&vars, "message")?;
    let mut failure = Failure::new(message.unwrap_or_else(|| "failure requested".to_owned()));
    if let Some(retries) = optional_variable_as::<i32>(&vars, "retries")? {
        failure = failure.retries(retries);
    }
    if let Some(ms) = optional_variable_as::<u64>(&vars, "retryTimeoutMs")? {
        failure = failure.retry_timeout(Duration::from_millis(ms));
    }
    Err(failure.into())
}

/// Raise a BPMN error, to try error boundary events.
///
/// **Required process variables**
///
/// * `errorCode`: the BPMN error code
///
/// **Optional process variables**
///
/// * `errorMessage`: the error message (default: empty)
///
/// **Sets the process variables**
///
/// * none: the process continues on the boundary path
#[register]
pub async fn bpmn_error(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let code: String = check_variable_as(&vars, "errorCode")?;
    let message: Option<String> = optional_variable_as(&vars, "errorMessage")?;
    Err(BpmnError::new(code, message.unwrap_or_default()).into())
}

/// Read a JSON document from a service and store it in a process variable.
///
/// GETs `path`, relative to the API root of the service mapped under the alias `api` (any API
/// type), with the credentials of the application `bptlAppId`, and sets `response` to the JSON
/// answer. The request and its answer are logged on the task's timeline, secrets redacted. An
/// error status (4xx, 5xx) or an answer that is not JSON fails the task.
///
/// **Required process variables**
///
/// * `bptlAppId`: the application on whose behalf the request is made
/// * `path`: the path to read, relative to the service's API root, e.g. `zaken/123`
///
/// **Required services**
///
/// * `api`: the JSON API to read from (any type)
///
/// **Sets the process variables**
///
/// * `response`: the JSON body of the answer (`null` when it is empty)
#[register]
#[require_service("*", "The JSON API to read from", alias = "api")]
pub async fn fetch_json(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let path: String = check_variable_as(&vars, "path")?;
    let api = task.client("api").await?;
    let response = api.get(&path).await?;
    Ok(variables! { "response": response })
}

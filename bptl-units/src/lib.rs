//! Built-in work units for bptl: the units every process needs.
//!
//! * [`http_request`]: call a configured HTTP service.
//!
//! Their paths, which task mappings name, are `bptl_units::NAME`, e.g.
//! `bptl_units::http_request`. The facade `bptl` links them with
//! its default feature `units`; a binary on `bptl-core` alone links them with
//! `use bptl_units as _;`.
//!
//! ```
//! use bptl_core::Registry;
//! use bptl_units as _; // link the units
//!
//! let registry = Registry::global().unwrap();
//! assert!(registry.get("bptl_units::http_request").is_some());
//! ```

use bptl_core::prelude::*;
use bptl_macros::{register, require_service};

mod http;

/// Make an HTTP request to a configured service and keep its answer.
///
/// Sends `method` `path`, relative to the API root of the service mapped under the alias `api`
/// (any API type), with the credentials of the application `bptlAppId` (the service's own when
/// the application has none). The request and its answer are recorded on the task's timeline,
/// secrets redacted. A status that is not expected fails the task with the status and the start
/// of the answer; a connection error or a timeout fails it too (and is retried per the mapping's
/// retry policy).
///
/// **Required process variables**
///
/// * `bptlAppId`: the application on whose behalf the request is made
/// * `path`: the path below the service's API root, e.g. `zaken/123` (`""` is the root itself;
///   an absolute URL must lie below the API root)
///
/// **Optional process variables**
///
/// * `method`: `GET` (default), `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD` or `OPTIONS`
/// * `query`: a JSON object of query parameters; a value is a string, number or boolean, or a
///   list of them (the parameter is repeated)
/// * `body`: any JSON value, sent as the JSON request body
/// * `expectedStatuses`: a list of status codes that count as success (default: any 2xx)
///
/// **Required services**
///
/// * `api`: the HTTP API to call (any type)
///
/// **Sets the process variables**
///
/// * `status`: the answer's status code (an integer)
/// * `response`: the answer's body: JSON when the answer says it is JSON (`Content-Type`
///   `application/json` or `…+json`), else the text; `null` when the body is empty
#[register]
#[require_service("*", "The HTTP API to call", alias = "api")]
pub async fn http_request(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    http::run(task).await
}

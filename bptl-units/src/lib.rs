//! Built-in work units for bptl: the units every process needs.
//!
//! * [`start_process`]: start a process instance (BPTL's CallActivity).
//! * [`http_request`]: call a configured HTTP service.
//! * [`send_email`]: send a message through a configured mail server.
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
//! assert!(registry.get("bptl_units::start_process").is_some());
//! assert!(registry.get("bptl_units::send_email").is_some());
//! ```

use bptl_core::prelude::*;
use bptl_macros::{register, require_service};

mod email;
mod files;
mod http;
mod process;

/// Start a process instance with variables of this task: BPTL's CallActivity.
///
/// Starts the latest version of the process definition `subprocessDefinition` (or the version
/// `subprocessDefinitionVersion`, of the tenant `subprocessTenantId`) in the engine mapped
/// under the alias `engine`, with the credentials of the application `bptlAppId`; without an
/// `engine` service, in the worker's own engine (the one the task came from). The new instance
/// gets the variables `variablesMapping` names, under their new names, with their types; File
/// variables go with their content. It runs on its own: this task completes once it has
/// started. An unknown definition, a refused start or an unreachable engine fails the task
/// (retried per the mapping's retry policy).
///
/// **Required process variables**
///
/// * `subprocessDefinition`: the key of the process definition to start, e.g. `invoice`
///
/// **Optional process variables**
///
/// * `subprocessDefinitionVersion`: the version to start, an integer, or `"latest"` (default)
/// * `subprocessTenantId`: the tenant of the definition
/// * `subprocessBusinessKey`: the new instance's business key
/// * `variablesMapping`: a JSON object from this task's variable names to the new process's,
///   e.g. `{"zaakUrl": "hoofdZaakUrl"}` (the value of `zaakUrl` is sent as `hoofdZaakUrl`);
///   a name the task does not have fails the task. Without it, all of the task's variables are
///   sent under their own names
/// * `bptlAppId`: the application whose credentials are used for the `engine` service
///   (required when there is one)
///
/// **Optional services**
///
/// * `engine`: the engine to start the process in (`api_type = "camunda"`, its engine-rest
///   root as `api_root`); default: the worker's own engine
///
/// **Sets the process variables**
///
/// * `processInstanceId`: the id of the started process instance
#[register]
pub async fn start_process(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    process::run(task).await
}

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

/// Send an email through a configured mail server: text and HTML parts rendered from templates
/// with the task's variables, File variables attached.
///
/// Sends through the mail server of the service mapped under the alias `smtp` (`api_type =
/// "smtp"`, `[services.NAME.smtp]`: host, port, security, login, `from`, `ca_file`). The
/// subject and bodies are [minijinja](https://docs.rs/minijinja) templates rendered with all of
/// the task's variables (`{{ order.id }}`, `{% for line in lines %}`); a variable a template
/// uses but the task does not have fails the task, and the HTML part is HTML-escaped. The
/// `Message-ID` is made from the task's id, so a retried task sends the same id. A refused
/// login, a TLS failure or any other SMTP error fails the task (retried per the mapping's
/// retry policy), naming the service and server but never the user name or password.
///
/// **Required process variables**
///
/// * `to`: a mail address (`"a@example.org"`, `"Name <a@example.org>"`) or a list of them
/// * `subject`: the subject, a template
/// * `text`: the plain-text body, a template
/// * `html`: the HTML body, a template (at least one of `text` and `html`; with both the
///   message is `multipart/alternative`)
///
/// **Optional process variables**
///
/// * `cc`: an address or a list of them
/// * `bcc`: an address or a list of them
/// * `attachments`: the names of File variables to attach, e.g. `["invoice"]` (file name and
///   MIME type as the variable has them)
///
/// **Required services**
///
/// * `smtp`: the mail server (`api_type = "smtp"`)
///
/// **Sets the process variables**
///
/// * `messageId`: the message's `Message-ID`, e.g. `<bptl.TASK_ID@example.org>`
#[register]
#[require_service("smtp", "The mail server to send through", alias = "smtp")]
pub async fn send_email(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    email::run(task).await
}

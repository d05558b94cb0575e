//! The test kit for unit authors (feature `testing`; enable it in your dev-dependencies:
//! `bptl = { version = "…", features = ["testing"] }`).
//!
//! * [`UnitTest`] runs one registered unit the way the worker runs it — the same mapping,
//!   services, credentials and timeline — and returns what the engine would hear
//!   ([`UnitRun::assert_completed`], [`UnitRun::assert_failure`],
//!   [`UnitRun::assert_bpmn_error`]) with the requests the unit sent
//!   ([`UnitRun::outgoing_requests`]).
//! * [`MockService`] is a mock HTTP service on 127.0.0.1 (built on [`wiremock`], re-exported)
//!   to point services at: one line per expectation, and every request it received with its
//!   authentication headers ([`ReceivedRequest::jwt_claims`], [`ReceivedRequest::zgw_claims`]).
//! * [`TestEngine`] is the dev engine with BPMN deployed and a worker running given task
//!   mappings, for end-to-end tests of a process.
//!
//! ```
//! use bptl::prelude::*;
//! use bptl::testing::{AppCredentials, MockService, ServiceSpec, UnitTest};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let zrc = MockService::start().await;
//! zrc.get("zaken/7").respond_json(json!({"identificatie": "ZAAK-7"})).await;
//!
//! let run = UnitTest::new("bptl_dummy::fetch_json")
//!     .variables(variables! { "bptlAppId": "https://app.example", "path": "zaken/7" })
//!     .service("api", ServiceSpec::new(zrc.url()).api_type("zrc").zgw("bptl", "service-secret"))
//!     .app("https://app.example", [("api", AppCredentials::zgw("zac", "app-secret"))])
//!     .run()
//!     .await;
//!
//! let out = run.assert_completed();
//! assert_eq!(out.get("response").map(|v| v.to_json()), Some(json!({"identificatie": "ZAAK-7"})));
//! let sent = &zrc.requests().await[0];
//! assert_eq!(sent.line(), "GET /zaken/7");
//! assert_eq!(sent.zgw_claims("app-secret").unwrap().client_id, "zac");
//! assert_eq!(run.outgoing_requests()[0].request_headers["authorization"], "***");
//! # }
//! ```

mod error;
mod mock;
mod one_task;
mod process;
mod services;
mod unit;

pub use error::TestKitError;
pub use mock::{MockRoute, MockService, ReceivedRequest};
pub use process::{DEFAULT_PROCESS_WAIT, Incident, TestEngine, TestEngineBuilder};
pub use services::{AppCredentials, ServiceSpec};
pub use unit::{DEFAULT_WAIT, EngineHears, OutgoingRequest, UnitRun, UnitTest};

/// The mock HTTP server crate the kit's [`MockService`] is built on, for matchers and
/// responders beyond its shortcuts.
pub use wiremock;

//! The worker against real engines: Operaton and Camunda 7, started by `tests/engines/start.sh`
//! and named by `BPTL_REAL_ENGINE_URL` (`.ci/real-engines.sh` runs this suite against each).
//! Every test deploys its own uniquely named processes and topics, so the tests run
//! concurrently against one engine. Without `BPTL_REAL_ENGINE_URL` the suite says once that it
//! was not run, and every test passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../real_engine_support/mod.rs"]
mod support;

// The worker process the crash test SIGKILLs: this executable (see `support/store_worker.rs`).
#[path = "../support/store_worker.rs"]
mod store_worker;

mod crash;
mod errors;
mod filters;
mod locks;
mod retries;
mod start_process;
mod variables;
mod workers;

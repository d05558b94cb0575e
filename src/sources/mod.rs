//! Task sources besides the polled engine: work pushed to the worker.
//!
//! * [`http_api`]: the HTTP work-unit API (`POST /api/v1/work-unit`), engine type `http`.

pub mod http_api;

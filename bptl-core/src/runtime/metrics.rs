//! The metric names the worker records (with the `metrics` crate, labelled by `topic`).
//!
//! Install any `metrics` recorder to collect them; the `bptl` CLI serves them in the
//! Prometheus text format at `--metrics-addr`.

/// Counter: tasks fetched and locked.
pub const TASKS_FETCHED: &str = "bptl_tasks_fetched_total";
/// Counter: tasks completed in the engine.
pub const TASKS_COMPLETED: &str = "bptl_tasks_completed_total";
/// Counter: failures reported to the engine.
pub const TASKS_FAILED: &str = "bptl_tasks_failed_total";
/// Counter: BPMN errors reported to the engine.
pub const TASKS_BPMN_ERRORS: &str = "bptl_tasks_bpmn_errors_total";
/// Counter: report attempts repeated after a conflict or a transient engine error.
pub const REPORT_RETRIES: &str = "bptl_report_retries_total";
/// Counter: lock extensions (heartbeats) the engine accepted.
pub const LOCK_EXTENSIONS: &str = "bptl_lock_extensions_total";
/// Gauge: tasks being handled right now.
pub const TASKS_IN_FLIGHT: &str = "bptl_tasks_in_flight";
/// Histogram: how long units ran, in seconds (buckets: [`UNIT_DURATION_BUCKETS`]).
pub const UNIT_DURATION: &str = "bptl_unit_duration_seconds";
/// Gauge: 1 when the engine answered the worker's last fetch, 0 when it failed.
pub const ENGINE_UP: &str = "bptl_engine_up";
/// Gauge: always 1, labelled with the worker's `version` (set by the `bptl` CLI's admin
/// listener).
pub const BUILD_INFO: &str = "bptl_build_info";
/// Counter: failed fetches, labelled by `kind` ([`engine_error_kind`]).
pub const FETCH_ERRORS: &str = "bptl_fetch_errors_total";
/// Counter: reports of an outcome (completion, failure, BPMN error) the engine did not accept
/// after the last attempt, labelled by `topic` and `kind` ([`engine_error_kind`]).
pub const REPORT_ERRORS: &str = "bptl_report_errors_total";
/// Counter: failed task store calls, labelled by `operation` (`claim`, `save`, `timeline`)
/// and `kind` ([`store_error_kind`]).
pub const STORE_ERRORS: &str = "bptl_store_errors_total";
/// Counter: `callbackUrl` notifications, labelled by `result`: `ok` (2xx), `http_error`
/// (another status), `failed` (no answer), `refused` (not allowed by the allowlist),
/// `no_sender` (the worker has no callback sender).
pub const CALLBACKS: &str = "bptl_callbacks_total";

/// The bucket bounds of [`UNIT_DURATION`], in seconds: from 5 ms (a quick lookup) to 10
/// minutes (a long batch job), roughly ×2.5 per step. Fixed, so that histograms of several
/// workers add up.
pub const UNIT_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The `kind` label of a store error: `unavailable`, `closed`, `full`, `conflict`, `corrupt`
/// or `other`.
pub fn store_error_kind(error: &crate::store::StoreError) -> &'static str {
    use crate::store::StoreError as S;
    match error {
        S::Unavailable { .. } => "unavailable",
        S::Closed { .. } => "closed",
        S::Full { .. } => "full",
        S::Conflict { .. } => "conflict",
        S::Corrupt { .. } => "corrupt",
        S::Other { .. } => "other",
    }
}

/// Count a failed store call ([`STORE_ERRORS`]).
pub(crate) fn store_error(operation: &'static str, error: &crate::store::StoreError) {
    ::metrics::counter!(STORE_ERRORS, "operation" => operation, "kind" => store_error_kind(error))
        .increment(1);
}

/// Count a callback's result ([`CALLBACKS`]).
pub(crate) fn callback(result: &'static str) {
    ::metrics::counter!(CALLBACKS, "result" => result).increment(1);
}

/// The `kind` label of an engine error: `not_found`, `locked_by_other`, `conflict`,
/// `transient`, `bad_request` or `other`.
pub fn engine_error_kind(error: &crate::engine::EngineError) -> &'static str {
    use crate::engine::EngineErrorKind as K;
    match error.kind {
        K::NotFound => "not_found",
        K::LockedByOther => "locked_by_other",
        K::Conflict => "conflict",
        K::Transient => "transient",
        K::BadRequest => "bad_request",
        K::Other => "other",
    }
}

/// Describe every metric to the installed recorder (units and help texts).
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(TASKS_FETCHED, Unit::Count, "Tasks fetched and locked.");
    describe_counter!(
        TASKS_COMPLETED,
        Unit::Count,
        "Tasks completed in the engine."
    );
    describe_counter!(
        TASKS_FAILED,
        Unit::Count,
        "Failures reported to the engine."
    );
    describe_counter!(
        TASKS_BPMN_ERRORS,
        Unit::Count,
        "BPMN errors reported to the engine."
    );
    describe_counter!(
        REPORT_RETRIES,
        Unit::Count,
        "Report attempts repeated after a conflict or a transient engine error."
    );
    describe_counter!(
        LOCK_EXTENSIONS,
        Unit::Count,
        "Lock extensions the engine accepted."
    );
    describe_gauge!(
        TASKS_IN_FLIGHT,
        Unit::Count,
        "Tasks being handled right now."
    );
    describe_histogram!(UNIT_DURATION, Unit::Seconds, "How long units ran.");
    describe_gauge!(
        ENGINE_UP,
        "1 when the engine answered the last fetch, 0 when it failed."
    );
    describe_counter!(FETCH_ERRORS, Unit::Count, "Failed fetches, by kind.");
    describe_counter!(
        REPORT_ERRORS,
        Unit::Count,
        "Reports the engine did not accept after the last attempt, by topic and kind."
    );
    describe_counter!(
        STORE_ERRORS,
        Unit::Count,
        "Failed task store calls, by operation and kind."
    );
    describe_counter!(
        CALLBACKS,
        Unit::Count,
        "callbackUrl notifications, by result."
    );
}

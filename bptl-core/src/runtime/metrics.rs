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
/// Histogram: how long units ran, in seconds.
pub const UNIT_DURATION: &str = "bptl_unit_duration_seconds";

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
}

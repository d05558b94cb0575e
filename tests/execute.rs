//! `execute`: BPTL's semantics and messages, status transitions, panics, timeouts, blocking
//! units, return types.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{
    ExecuteError, InMemoryTask, Registry, TaskMapping, TaskMappings, TaskRun, TaskStatus, Timeline,
    TimelineEntry, TimelineSink, execute,
};

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Count runs and return the amount doubled.
#[register]
async fn counted(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    let amount: i64 = check_variable_as(&task.get_variables()?, "amount")?;
    Ok(variables! { "doubled": amount * 2 })
}

#[register]
async fn panics(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    panic!("the unit exploded")
}

#[register]
fn blocking_panics(_task: &dyn BaseTask) {
    panic!("blocking unit exploded")
}

#[register]
async fn slow(_task: &dyn BaseTask) -> Result<(), UnitError> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(())
}

/// Blocks its thread for 300 ms: must not stall the async runtime.
#[register]
fn blocking_sleep(_task: TaskRef) -> Variables {
    std::thread::sleep(Duration::from_millis(300));
    variables! { "slept": true }
}

#[register]
fn returns_unit(_task: &dyn BaseTask) {}

#[register]
async fn io_error(_task: &dyn BaseTask) -> Result<(), std::io::Error> {
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "config.json not found",
    ))
}

#[register]
async fn needs_amount(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    check_variable(&task.get_variables()?, "amount")?;
    Ok(Variables::new())
}

/// Sees its mapping and timeline through the task's context.
#[register]
async fn uses_context(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let mapping = task.mapping().ok_or("no mapping in the context")?;
    let topic = mapping.topic.clone();
    task.timeline().ok_or("no timeline")?.record(
        bptl::EventKind::Note,
        "hello from the unit",
        serde_json::Value::Null,
    );
    Ok(variables! { "mappedTopic": topic })
}

fn mapping(topic: &str, unit: &str) -> TaskMapping {
    TaskMapping::new(topic, format!("execute::{unit}")).engine("memory")
}

fn mappings() -> TaskMappings {
    TaskMappings::new([
        mapping("counted", "counted"),
        mapping("panics", "panics"),
        mapping("blocking_panics", "blocking_panics"),
        mapping("slow", "slow").timeout(Duration::from_millis(200)),
        mapping("blocking_sleep", "blocking_sleep"),
        mapping("returns_unit", "returns_unit"),
        mapping("io_error", "io_error"),
        mapping("needs_amount", "needs_amount"),
        mapping("uses_context", "uses_context"),
        mapping("inactive", "counted").active(false),
        TaskMapping::new("camunda_only", "execute::counted"),
        mapping("unregistered", "nowhere"),
        mapping("typo", "Counted"),
    ])
    .expect("unique topics")
}

fn run(topic: &str, vars: Variables) -> TaskRun {
    TaskRun::new(InMemoryTask::new(topic, vars).into_ref())
}

async fn exec(run: &mut TaskRun) -> Result<Variables, ExecuteError> {
    execute(run, Registry::global().expect("registry"), &mappings()).await
}

#[tokio::test]
async fn success_moves_initial_in_progress_performed_and_keeps_results() {
    let mut run = run("counted", variables! { "amount": 21 });
    assert_eq!(run.status(), TaskStatus::Initial);
    let out = exec(&mut run).await.expect("performed");
    assert_eq!(out.get("doubled"), Some(&Value::Integer(42)));
    assert_eq!(run.status(), TaskStatus::Performed);
    assert_eq!(run.record.result_variables.as_ref(), Some(&out));
    let transitions: Vec<String> = run
        .timeline
        .entries()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(
        transitions,
        ["initial → in_progress", "in_progress → performed"]
    );
}

#[tokio::test]
async fn a_performed_or_completed_task_is_not_run_again() {
    let before = RUNS.load(Ordering::SeqCst);
    let mut run = run("counted", variables! { "amount": 1 });
    exec(&mut run).await.expect("first run");
    let err = exec(&mut run).await.unwrap_err();
    assert!(
        matches!(
            err,
            ExecuteError::TaskPerformed {
                status: TaskStatus::Performed,
                ..
            }
        ),
        "{err:?}"
    );
    let mut completed =
        self::run("counted", variables! { "amount": 1 }).with_status(TaskStatus::Completed);
    assert!(matches!(
        exec(&mut completed).await,
        Err(ExecuteError::TaskPerformed { .. })
    ));
    let mut busy =
        self::run("counted", variables! { "amount": 1 }).with_status(TaskStatus::InProgress);
    assert!(matches!(
        exec(&mut busy).await,
        Err(ExecuteError::TaskInProgress { .. })
    ));
    assert_eq!(
        RUNS.load(Ordering::SeqCst) - before,
        1,
        "the unit ran exactly once"
    );
}

#[tokio::test]
async fn missing_mapping_and_missing_callback_use_bptls_messages() {
    let mut nothing = run("no_such_topic", Variables::new());
    let err = exec(&mut nothing).await.unwrap_err();
    assert!(matches!(err, ExecuteError::NoCallback(_)));
    assert_eq!(
        err.to_string(),
        "Could not find a topic/callback mapping for topic 'no_such_topic'."
    );

    let mut unregistered = run("unregistered", Variables::new());
    let err = exec(&mut unregistered).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Callback 'execute::nowhere' is not in the provided registry."),
        "{err}"
    );
    assert!(
        err.to_string().contains("use my_units as _;"),
        "suggests the link idiom: {err}"
    );

    let mut typo = run("typo", Variables::new());
    let err = exec(&mut typo).await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("Did you mean 'execute::counted'?"),
        "{err}"
    );
    assert_eq!(nothing.status(), TaskStatus::Initial, "nothing ran");
}

#[tokio::test]
async fn expired_locks_inactive_mappings_and_other_engines_are_refused() {
    let expired = InMemoryTask::new("counted", variables! { "amount": 1 })
        .with_lock_expiry(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1));
    let mut run_expired = TaskRun::new(expired.into_ref());
    let err = exec(&mut run_expired).await.unwrap_err();
    assert!(matches!(err, ExecuteError::TaskExpired { .. }), "{err:?}");

    let valid = InMemoryTask::new("counted", variables! { "amount": 1 })
        .with_lock_expiry(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60));
    assert!(exec(&mut TaskRun::new(valid.into_ref())).await.is_ok());

    let mut inactive = run("inactive", variables! { "amount": 1 });
    let err = exec(&mut inactive).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "The mapping for topic 'inactive' is inactive; activate it to execute its tasks."
    );

    let mut other = run("camunda_only", variables! { "amount": 1 });
    let err = exec(&mut other).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "The mapping for topic 'camunda_only' is for engine 'camunda', but the task comes from 'memory'."
    );
}

#[tokio::test]
async fn errors_set_failed_and_keep_the_error_text() {
    let mut missing = run("needs_amount", variables! { "amount": "" });
    let err = exec(&mut missing).await.unwrap_err();
    assert!(matches!(
        err,
        ExecuteError::Unit(UnitError::MissingVariable { .. })
    ));
    assert_eq!(missing.status(), TaskStatus::Failed);
    assert_eq!(
        missing.record.execution_error.as_deref(),
        Some("The variable amount is missing or empty.")
    );

    let mut io = run("io_error", Variables::new());
    exec(&mut io).await.unwrap_err();
    assert_eq!(
        io.record.execution_error.as_deref(),
        Some("config.json not found")
    );
}

#[tokio::test]
async fn panics_become_failures_with_the_panic_message() {
    let mut run_async = run("panics", Variables::new());
    let err = exec(&mut run_async).await.unwrap_err();
    assert!(
        matches!(err, ExecuteError::Unit(UnitError::Panic(_))),
        "{err:?}"
    );
    assert_eq!(run_async.status(), TaskStatus::Failed);
    assert_eq!(
        run_async.record.execution_error.as_deref(),
        Some("the work unit panicked: the unit exploded")
    );

    let mut run_blocking = run("blocking_panics", Variables::new());
    exec(&mut run_blocking).await.unwrap_err();
    assert_eq!(
        run_blocking.record.execution_error.as_deref(),
        Some("the work unit panicked: blocking unit exploded")
    );
}

#[tokio::test]
async fn a_mapping_timeout_fails_the_task() {
    let mut run = run("slow", Variables::new());
    let err = exec(&mut run).await.unwrap_err();
    assert!(
        matches!(err, ExecuteError::Unit(UnitError::Timeout(_))),
        "{err:?}"
    );
    assert_eq!(
        run.record.execution_error.as_deref(),
        Some("timed out after 200ms")
    );
}

#[test]
fn blocking_units_run_off_the_async_threads() {
    // One async thread: if the blocking unit ran on it, the ticker could not tick meanwhile.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = Arc::clone(&ticks);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let mut run = run("blocking_sleep", Variables::new());
        let out = exec(&mut run).await.expect("performed");
        ticker.abort();
        assert_eq!(out.get("slept"), Some(&Value::Boolean(true)));
        assert!(
            ticks.load(Ordering::SeqCst) >= 5,
            "the runtime kept ticking: {} ticks",
            ticks.load(Ordering::SeqCst)
        );
    });
}

#[tokio::test]
async fn returning_nothing_gives_empty_variables() {
    let mut run = run("returns_unit", Variables::new());
    assert_eq!(exec(&mut run).await.expect("performed"), Variables::new());
    assert_eq!(run.record.result_variables, Some(Variables::new()));
}

#[derive(Default)]
struct Collect(Mutex<Vec<TimelineEntry>>);

impl TimelineSink for Collect {
    fn record(&self, entry: &TimelineEntry) {
        self.0.lock().expect("lock").push(entry.clone());
    }
}

#[tokio::test]
async fn units_reach_their_mapping_and_timeline_and_sinks_see_every_entry() {
    let sink = Arc::new(Collect::default());
    let mut run =
        run("uses_context", Variables::new()).with_timeline(Timeline::with_sink(sink.clone()));
    let out = exec(&mut run).await.expect("performed");
    assert_eq!(
        out.get("mappedTopic").and_then(Value::as_str),
        Some("uses_context")
    );
    let seen: Vec<String> = sink
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|e| e.message.clone())
        .collect();
    assert_eq!(
        seen,
        [
            "initial → in_progress",
            "hello from the unit",
            "in_progress → performed"
        ]
    );
}

static STILL_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Ticks a counter for as long as it runs.
#[register]
async fn ticking(_task: &dyn BaseTask) -> Result<(), UnitError> {
    loop {
        STILL_RUNNING.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn dropping_an_execution_stops_its_unit() {
    let mappings = TaskMappings::new([mapping("ticking", "ticking")]).expect("mapping");
    let mut run = run("ticking", Variables::new());
    let registry = Registry::global().expect("registry");
    // Give up on the execution after 100 ms: the future is dropped.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        execute(&mut run, registry, &mappings),
    )
    .await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = STILL_RUNNING.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        STILL_RUNNING.load(Ordering::SeqCst),
        after_drop,
        "the unit stopped with its execution"
    );
}

/// Reaches the concrete task type through the runtime's wrapper.
#[register]
async fn downcasts(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let concrete = task
        .downcast_ref::<InMemoryTask>()
        .ok_or("the task is not an InMemoryTask")?;
    Ok(variables! { "id": concrete.id.clone(), "wrapped": task.context().is_some() })
}

#[tokio::test]
async fn units_downcast_to_the_engine_specific_task() {
    let mappings = TaskMappings::new([mapping("downcasts", "downcasts")]).expect("mapping");
    let task = InMemoryTask::new("downcasts", Variables::new()).with_id("task-7");
    let mut run = TaskRun::new(task.into_ref());
    let out = execute(&mut run, Registry::global().expect("registry"), &mappings)
        .await
        .expect("performed");
    assert_eq!(out.get("id").and_then(Value::as_str), Some("task-7"));
    assert_eq!(out.get("wrapped"), Some(&Value::Boolean(true)));
}

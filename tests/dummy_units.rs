//! The demonstration units of bptl-dummy, run through `execute` with in-memory tasks.

use std::time::{Duration, Instant};

use bptl::prelude::*;
use bptl::{
    DateValue, ExecuteError, InMemoryTask, Registry, TaskMapping, TaskMappings, TaskRun, execute,
};

async fn run_unit(unit: &str, vars: Variables) -> (TaskRun, Result<Variables, ExecuteError>) {
    let mappings =
        TaskMappings::new([TaskMapping::new("t", format!("bptl_dummy::{unit}")).engine("memory")])
            .expect("mapping");
    let mut run = TaskRun::new(InMemoryTask::new("t", vars).into_ref());
    let result = execute(&mut run, Registry::global().expect("registry"), &mappings).await;
    (run, result)
}

fn unit_error(result: Result<Variables, ExecuteError>) -> UnitError {
    match result {
        Err(ExecuteError::Unit(e)) => e,
        other => panic!("expected a unit error, got {other:?}"),
    }
}

#[tokio::test]
async fn double_keeps_integers_integers() {
    let (_, out) = run_unit("Double", variables! { "amount": 21 }).await;
    assert_eq!(out.expect("ok").get("doubled"), Some(&Value::Integer(42)));
    let (_, out) = run_unit("Double", variables! { "amount": 3_000_000_000_i64 }).await;
    assert_eq!(
        out.expect("ok").get("doubled"),
        Some(&Value::Long(6_000_000_000))
    );
    let (_, out) = run_unit("Double", variables! { "amount": 1.25 }).await;
    assert_eq!(out.expect("ok").get("doubled"), Some(&Value::Double(2.5)));
}

#[tokio::test]
async fn double_explains_bad_input() {
    let (_, out) = run_unit("Double", Variables::new()).await;
    assert_eq!(
        unit_error(out).to_string(),
        "The variable amount is missing or empty."
    );
    let (_, out) = run_unit("Double", variables! { "amount": "ten" }).await;
    assert_eq!(
        unit_error(out).to_string(),
        "The variable amount must be a number (f64), but it is a String (\"ten\")."
    );
    let (_, out) = run_unit("Double", variables! { "amount": i64::MAX }).await;
    assert!(unit_error(out).to_string().contains("too large to double"));
}

#[tokio::test]
async fn echo_returns_values_with_their_kind() {
    let date = DateValue::parse("2015-10-06T16:34:42.000+0200").expect("date");
    let vars = variables! {
        "when": date, "big": Value::Long(5), "raw": vec![1_u8, 2, 3],
        "doc": serde_json::json!({"a": [1, 2]}), "name": "Ada"
    };
    let (_, out) = run_unit("echo", vars.clone()).await;
    let out = out.expect("ok");
    assert_eq!(out.len(), 5);
    for (name, value) in vars.iter() {
        assert_eq!(out.get(&format!("echo_{name}")), Some(value), "{name}");
    }
    let mut listed = vars.clone();
    listed.insert("echoVariables", serde_json::json!(["name", "big"]));
    let (_, out) = run_unit("echo", listed).await;
    let out = out.expect("ok");
    assert_eq!(
        out.names().cloned().collect::<Vec<_>>(),
        ["echo_big", "echo_name"]
    );
    assert_eq!(out.get("echo_big"), Some(&Value::Long(5)));

    let (_, out) = run_unit(
        "echo",
        variables! { "echoVariables": serde_json::json!(["ghost"]) },
    )
    .await;
    assert!(unit_error(out).to_string().contains("ghost"));
}

#[tokio::test]
async fn sleep_sleeps_and_checks_its_input() {
    let started = Instant::now();
    let (_, out) = run_unit("sleep", variables! { "durationMs": 150 }).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(out.expect("ok").get("sleptMs"), Some(&Value::Integer(150)));
    let (_, out) = run_unit("sleep", variables! { "durationMs": 0 }).await;
    assert!(out.is_ok(), "0 is a valid duration");
    let (_, out) = run_unit("sleep", variables! { "durationMs": -5 }).await;
    assert_eq!(
        unit_error(out).to_string(),
        "The variable durationMs must be an integer ≥ 0 (milliseconds), but it is an Integer (-5)."
    );
}

#[tokio::test]
async fn fail_fails_with_the_requested_retries() {
    let (run, out) = run_unit("fail", Variables::new()).await;
    match unit_error(out) {
        UnitError::Failure(f) => {
            assert_eq!(f.message, "failure requested");
            assert_eq!((f.retries, f.retry_timeout), (None, None));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        run.record.execution_error.as_deref(),
        Some("failure requested")
    );
    let (_, out) = run_unit(
        "fail",
        variables! { "message": "boom", "retries": 2, "retryTimeoutMs": 1500 },
    )
    .await;
    match unit_error(out) {
        UnitError::Failure(f) => {
            assert_eq!(f.message, "boom");
            assert_eq!(f.retries, Some(2));
            assert_eq!(f.retry_timeout, Some(Duration::from_millis(1500)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bpmn_error_raises_its_code() {
    let (_, out) = run_unit(
        "bpmn_error",
        variables! { "errorCode": "REJECTED", "errorMessage": "no" },
    )
    .await;
    match unit_error(out) {
        UnitError::BpmnError(e) => {
            assert_eq!((e.code.as_str(), e.message.as_str()), ("REJECTED", "no"))
        }
        other => panic!("{other:?}"),
    }
    let (_, out) = run_unit("bpmn_error", Variables::new()).await;
    assert_eq!(
        unit_error(out).to_string(),
        "The variable errorCode is missing or empty."
    );
}

#[tokio::test]
async fn dummy_accepts_anything() {
    let (run, out) = run_unit("dummy", variables! { "x": 1 }).await;
    assert_eq!(out.expect("ok"), Variables::new());
    assert_eq!(run.status().as_str(), "performed");
}

#[tokio::test]
async fn the_noops_complete_with_nothing_one_async_one_blocking() {
    let registry = Registry::global().expect("registry");
    for (unit, kind) in [
        ("noop", bptl::UnitKind::AsyncFn),
        ("noop_blocking", bptl::UnitKind::BlockingFn),
    ] {
        let entry = registry
            .get(&format!("bptl_dummy::{unit}"))
            .expect("registered");
        assert_eq!(entry.kind, kind, "{unit}");
        let (run, out) = run_unit(unit, variables! { "x": 1 }).await;
        assert_eq!(out.expect("ok"), Variables::new(), "{unit}");
        assert_eq!(run.status().as_str(), "performed", "{unit}");
    }
}

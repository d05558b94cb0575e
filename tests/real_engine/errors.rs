//! BPMN errors: caught by an error boundary event, and thrown where nothing catches them.

use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use bptl::prelude::*;
use bptl::{ObjectData, ObjectValue, RetryPolicy, TaskMapping, TaskMappings};
use serde_json::json;

use crate::support::*;

/// Raise BPMN error `code` from the variable `code`.
#[register]
async fn raise(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let code: String = check_variable_as(&task.get_variables()?, "code")?;
    Err(BpmnError::new(code, "raised by the unit")
        .with_variables(variables! { "raisedBy": "bptl" })
        .into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bpmn_error_is_caught_by_its_boundary_event_or_ends_the_instance_uncaught() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("bpmn_errors");
    let topic = rig.unique("bpmn-errors");
    let after = rig.unique("bpmn-after");
    // Task_0 catches LIMIT_EXCEEDED; nothing else. Task_1 runs only on the normal path.
    rig.deploy(&process(
        &key,
        &[Task::new(&topic).catch("LIMIT_EXCEEDED"), Task::new(&after)],
        None,
    ))
    .await;
    let caught = rig
        .start(&key, variables! { "code": "LIMIT_EXCEEDED" })
        .await;
    let uncaught = rig
        .start(&key, variables! { "code": "NOBODY_CATCHES_THIS" })
        .await;
    let worker = rig.spawn_worker(
        TaskMappings::new([
            TaskMapping::new(&topic, "real_engine::errors::raise"),
            TaskMapping::new(&after, "bptl_dummy::dummy"),
        ])
        .unwrap(),
        config(),
        |b| b,
    );
    let states = rig
        .wait_ended(&[caught.clone(), uncaught.clone()], Duration::from_secs(30))
        .await;
    let stats = worker.stop().await;
    assert_eq!(
        (stats.bpmn_errors, stats.completed, stats.failed),
        (2, 0, 0),
        "{stats:?}"
    );

    // Caught: the boundary path ran, the error's variables and code are there.
    assert_eq!(states[0], "COMPLETED");
    let path = rig.activities(&caught).await;
    assert!(path.contains(&"Boundary_0".to_owned()), "{path:?}");
    assert!(path.contains(&"Caught_0".to_owned()), "{path:?}");
    assert!(!path.contains(&"Task_1".to_owned()), "{path:?}");
    let vars = rig.history_typed(&caught).await;
    assert_eq!(vars["caughtCode"]["value"], json!("LIMIT_EXCEEDED"));
    assert_eq!(vars["caughtMessage"]["value"], json!("raised by the unit"));
    assert_eq!(vars["raisedBy"]["value"], json!("bptl"));

    // Uncaught: the engine ends the instance at the task — completed, without taking the
    // normal path on, and without an incident. The error's variables are still set.
    assert_eq!(states[1], "COMPLETED");
    let path = rig.activities(&uncaught).await;
    assert_eq!(path, ["Start", "Task_0"], "{path:?}");
    assert!(rig.incidents(&uncaught).await.is_empty());
    assert_eq!(
        rig.history_typed(&uncaught).await["raisedBy"]["value"],
        json!("bptl")
    );
}

static UNSENDABLE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Return a Java-serialized object, which the engines refuse to store (by default).
#[register]
async fn unsendable(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    UNSENDABLE_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(variables! {
        "legacy": Value::Object(ObjectValue {
            object_type_name: Some("java.lang.String".into()),
            serialization_data_format: Some("application/x-java-serialized-object".into()),
            data: ObjectData::Serialized("rO0ABXQAA2FiYw==".into()),
        }),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_the_engine_refuses_becomes_a_failure_and_the_unit_does_not_run_again() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("refused");
    let topic = rig.unique("refused");
    rig.deploy(&process(&key, &[Task::new(&topic)], None)).await;
    let instance = rig.start(&key, Variables::new()).await;
    let policy = RetryPolicy {
        retries: 2,
        retry_timeout: std::time::Duration::ZERO,
        ..RetryPolicy::default()
    };
    let worker = rig.spawn_worker(
        TaskMappings::new([
            TaskMapping::new(&topic, "real_engine::errors::unsendable").retry(policy)
        ])
        .unwrap(),
        config(),
        |b| b,
    );
    // The engine answers 500 ("Java serialization format is prohibited"): the worker reports a
    // failure each time, completes from its stored result when the task comes back, and the
    // retries run out into an incident.
    wait_until_async("an incident", Duration::from_secs(30), || async {
        !rig.incidents(&instance).await.is_empty()
    })
    .await;
    let stats = worker.stop().await;
    assert_eq!(UNSENDABLE_RUNS.load(Ordering::SeqCst), 1, "{stats:?}");
    assert_eq!((stats.failed, stats.completed), (2, 0), "{stats:?}");
    let incident = &rig.incidents(&instance).await[0];
    let message = incident["incidentMessage"].as_str().unwrap();
    assert!(
        message.starts_with("The engine refused the completion")
            && message.contains("Java serialization format is prohibited"),
        "{message}"
    );
    assert_eq!(rig.state(&instance).await, "ACTIVE");
}

//! `CamundaEngine`: the runtime's `Engine` trait end to end against the dev engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::time::{Duration, Instant};

use bptl_camunda::{CamundaEngine, ExternalTask};
use bptl_core::{
    BpmnError, Engine, EngineErrorKind, FailureReport, FetchRequest, TopicRequest, Value, variables,
};
use bptl_dev_engine::Endpoint;
use client_support::{Env, LOCK, TOPIC};
use serde_json::json;

fn request(worker: &str, long_poll: Option<Duration>) -> FetchRequest {
    FetchRequest {
        worker_id: worker.into(),
        max_tasks: 10,
        use_priority: true,
        async_response_timeout: long_poll,
        topics: vec![TopicRequest {
            topic: TOPIC.into(),
            lock_duration: LOCK,
            variables: None,
            local_variables: false,
        }],
    }
}

fn engine(env: &Env) -> CamundaEngine {
    CamundaEngine::new(env.client.clone())
}

/// Fetch and lock as worker `w` (no long poll) through the adapter under test (`env.fetch_one`
/// goes through the client); the first task.
async fn fetch_one_through_the_adapter(engine: &CamundaEngine) -> bptl_core::TaskRef {
    engine
        .fetch_and_lock(&request("w", None))
        .await
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn fetch_and_lock_gives_external_tasks() {
    let env = Env::new().await;
    let engine = engine(&env);
    assert_eq!(engine.engine_type(), "camunda");
    env.start_key("client_low", variables! {}, None).await;
    let instance = env
        .start(variables! { "a": 1, "b": "two" }, Some("bk"))
        .await;

    let mut req = request("adapter", None);
    req.topics[0].variables = Some(vec!["a".into()]);
    let tasks = engine.fetch_and_lock(&req).await.unwrap();
    assert_eq!(tasks.len(), 2);
    // usePriority: the priority-7 task first.
    let first = &tasks[0];
    assert_eq!(first.engine_type(), "camunda");
    assert_eq!(first.priority(), 7);
    assert_eq!(first.process_instance_id(), Some(instance.as_str()));
    assert_eq!(first.business_key(), Some("bk"));
    assert_eq!(first.worker_id(), Some("adapter"));
    assert!(first.lock_expires_at().is_some());
    assert_eq!(first.get_variables().unwrap(), variables! { "a": 1 });
    let external = first
        .downcast_ref::<ExternalTask>()
        .expect("an ExternalTask");
    assert_eq!(external.activity_id.as_deref(), Some("Task_Echo"));
    assert_eq!(tasks[1].priority(), 1);
}

#[tokio::test]
async fn without_a_long_poll_fetch_answers_at_once_and_with_one_it_waits_for_work() {
    let env = Env::new().await;
    let engine = engine(&env);
    let started = Instant::now();
    assert!(
        engine
            .fetch_and_lock(&request("w", None))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    let engine2 = engine.clone();
    let poll = tokio::spawn(async move {
        engine2
            .fetch_and_lock(&request("w", Some(Duration::from_secs(20))))
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.engine.parked_fetch_count() == 0 {
        assert!(Instant::now() < deadline, "never parked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.start(variables! {}, None).await;
    let tasks = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("woken")
        .unwrap()
        .unwrap();
    assert_eq!(tasks.len(), 1);
}

#[tokio::test]
async fn local_variables_per_topic() {
    let env = Env::new().await;
    let engine = engine(&env);
    env.start(variables! { "global": true }, None).await;
    let task = fetch_one_through_the_adapter(&engine).await;
    engine
        .failure(
            task.task_id(),
            "w",
            &FailureReport {
                error_message: "again".into(),
                error_details: None,
                retries: 1,
                retry_timeout: Duration::ZERO,
            },
        )
        .await
        .unwrap();
    // Local variables of the task: none set, so none come back.
    let mut req = request("w", None);
    req.topics[0].local_variables = true;
    let again = engine.fetch_and_lock(&req).await.unwrap().remove(0);
    assert!(again.get_variables().unwrap().is_empty());
    assert_eq!(again.retries(), Some(1));
}

#[tokio::test]
async fn complete_failure_bpmn_error_and_locks() {
    let env = Env::new().await;
    let engine = engine(&env);

    // complete
    let done = env.start(variables! {}, None).await;
    let task = fetch_one_through_the_adapter(&engine).await;
    engine
        .extend_lock(task.task_id(), "w", Duration::from_secs(120))
        .await
        .unwrap();
    engine
        .complete(task.task_id(), "w", &variables! { "result": 42 })
        .await
        .unwrap();
    assert_eq!(env.state(&done).await, "COMPLETED");
    assert_eq!(
        env.client
            .get_historic_variables(&done)
            .await
            .unwrap()
            .get("result"),
        Some(&Value::Integer(42))
    );

    // failure with 0 retries: an incident with the message; details kept.
    let failed = env.start(variables! {}, None).await;
    let task = fetch_one_through_the_adapter(&engine).await;
    engine
        .failure(
            task.task_id(),
            "w",
            &FailureReport {
                error_message: "boom".into(),
                error_details: Some("caused by: x".into()),
                retries: 0,
                retry_timeout: Duration::from_secs(1),
            },
        )
        .await
        .unwrap();
    let incidents = env.client.list_incidents(&failed).await.unwrap();
    assert_eq!(incidents[0].incident_message.as_deref(), Some("boom"));
    assert_eq!(
        env.client
            .get_error_details(task.task_id())
            .await
            .unwrap()
            .as_deref(),
        Some("caused by: x")
    );

    // bpmn error: the boundary path.
    let rejected = env.start(variables! {}, None).await;
    let task = fetch_one_through_the_adapter(&engine).await;
    engine
        .bpmn_error(
            task.task_id(),
            "w",
            &BpmnError::new("REJECTED", "no").with_variables(variables! { "why": "no" }),
        )
        .await
        .unwrap();
    let next = env.fetch_one("w", "client-rejected").await;
    assert_eq!(next.process_instance_id.as_deref(), Some(rejected.as_str()));
    assert_eq!(
        next.variables().unwrap().get("why"),
        Some(&Value::from("no"))
    );

    // lock and unlock.
    env.start(variables! {}, None).await;
    let open = env.engine.external_tasks(Some(TOPIC));
    let id = open
        .iter()
        .find(|t| t["workerId"].is_null())
        .and_then(|t| t["id"].as_str())
        .unwrap()
        .to_owned();
    engine.lock(&id, "re-runner", LOCK).await.unwrap();
    let err = engine.lock(&id, "other", LOCK).await.unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::LockedByOther);
    engine.unlock(&id).await.unwrap();
    engine.lock(&id, "other", LOCK).await.unwrap();
}

#[tokio::test]
async fn errors_are_classified_for_the_runtime() {
    let env = Env::new().await;
    let engine = engine(&env);
    let instance = env.start(variables! {}, None).await;
    let task = fetch_one_through_the_adapter(&engine).await;

    let err = engine
        .complete(task.task_id(), "other", &variables! {})
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::LockedByOther);
    assert_eq!(err.status, Some(400));
    assert!(
        err.message.starts_with("POST /external-task/"),
        "{}",
        err.message
    );

    env.engine.faults().fail_next(
        Endpoint::Complete,
        1,
        500,
        json!({"type": "OptimisticLockingException", "message": "conflict", "code": 1}),
    );
    let err = engine
        .complete(task.task_id(), "w", &variables! {})
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::Conflict);
    assert!(err.is_retryable());

    env.engine
        .faults()
        .fail_next(Endpoint::ExtendLock, 1, 503, json!({"message": "busy"}));
    let err = engine
        .extend_lock(task.task_id(), "w", LOCK)
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::Transient);
    assert_eq!(err.status, Some(503));

    env.client.delete_process_instance(&instance).await.unwrap();
    let err = engine
        .extend_lock(task.task_id(), "w", LOCK)
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::NotFound);
    assert!(err.is_not_found());
    assert!(err.body.unwrap().contains("does not exist"));
    let err = engine
        .complete(task.task_id(), "w", &variables! {})
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::NotFound);

    let err = engine
        .bpmn_error("missing", "w", &BpmnError::new("X", ""))
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::NotFound);

    env.engine.stop_http().await;
    let err = engine
        .fetch_and_lock(&request("w", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, EngineErrorKind::Transient);
    assert_eq!(err.status, None);
}

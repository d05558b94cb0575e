//! Every error predicate against real HTTP: cancelled instances, wrong workers, optimistic
//! locking, overload, refused and dropped connections, timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::time::{Duration, Instant};

use bptl_camunda::{
    BpmnErrorRequest, CamundaClient, CamundaError, FailureRequest, FetchAndLock, FetchTopic,
    NetworkErrorKind,
};
use bptl_core::{EngineError, EngineErrorKind, ObjectData, ObjectValue, Value, variables};
use bptl_dev_engine::Endpoint;
use client_support::{Env, LOCK, TOPIC};
use serde_json::json;

fn kind(err: CamundaError) -> EngineErrorKind {
    EngineError::from(err).kind
}

#[tokio::test]
async fn a_cancelled_instance_answers_not_found_to_complete_and_extend_lock() {
    let env = Env::new().await;
    let instance = env.start(variables! {}, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    env.client.delete_process_instance(&instance).await.unwrap();
    assert_eq!(env.state(&instance).await, "EXTERNALLY_TERMINATED");

    let err = env
        .client
        .complete(&task.id, "w", &variables! {})
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(!err.is_transient() && !err.is_bad_request() && !err.is_locked_by_other_worker());
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.error_type(), Some("RestException"));
    assert_eq!(
        err.to_string(),
        format!(
            // Operaton 1.0 and Camunda 7.24 answer this 404 with code 0 (the engine's
            // NotFoundException), see tests/fixtures/transcripts/*/task_ops.json.
            "POST /external-task/{id}/complete: HTTP 404 (RestException, code 0): External task with id {id} does not exist",
            id = task.id
        )
    );
    let engine = EngineError::from(err);
    assert_eq!(engine.kind, EngineErrorKind::NotFound);
    assert!(engine.is_not_found());
    assert_eq!(engine.status, Some(404));
    assert!(engine.body.unwrap().contains("does not exist"));

    let err = env
        .client
        .extend_lock(&task.id, "w", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("POST /external-task/{}/extendLock", task.id))
    );
}

#[tokio::test]
async fn every_task_operation_on_an_unknown_task_is_not_found() {
    let env = Env::new().await;
    let id = "no-such-task";
    let errors = [
        env.client
            .complete(id, "w", &variables! {})
            .await
            .unwrap_err(),
        env.client
            .failure(id, &FailureRequest::new("w", "x", 1, Duration::ZERO))
            .await
            .unwrap_err(),
        env.client
            .bpmn_error(id, &BpmnErrorRequest::new("w", "E"))
            .await
            .unwrap_err(),
        env.client.extend_lock(id, "w", LOCK).await.unwrap_err(),
        env.client.lock(id, "w", LOCK).await.unwrap_err(),
        env.client.unlock(id).await.unwrap_err(),
        env.client.get_external_task(id).await.unwrap_err(),
        env.client.set_retries(id, 1).await.unwrap_err(),
    ];
    for err in errors {
        assert!(err.is_not_found(), "{err}");
        assert_eq!(kind(err), EngineErrorKind::NotFound);
    }
    // The error details of an unknown task are no 404 in Operaton 1.0 and Camunda 7.24 but
    // 500 NullValueException (tests/fixtures/transcripts/*/task_ops.json).
    let err = env.client.get_error_details(id).await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(err.error_type(), Some("NullValueException"), "{err}");
}

#[tokio::test]
async fn a_task_locked_by_another_worker_is_refused() {
    let env = Env::new().await;
    env.start(variables! {}, None).await;
    let task = env.fetch_one("owner", TOPIC).await;
    let errors = [
        env.client
            .complete(&task.id, "intruder", &variables! {})
            .await
            .unwrap_err(),
        env.client
            .failure(
                &task.id,
                &FailureRequest::new("intruder", "x", 1, Duration::ZERO),
            )
            .await
            .unwrap_err(),
        env.client
            .bpmn_error(&task.id, &BpmnErrorRequest::new("intruder", "REJECTED"))
            .await
            .unwrap_err(),
        env.client
            .extend_lock(&task.id, "intruder", LOCK)
            .await
            .unwrap_err(),
        env.client
            .lock(&task.id, "intruder", LOCK)
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.status(), Some(400), "{err}");
        assert!(err.is_bad_request());
        assert!(err.is_locked_by_other_worker(), "{err}");
        assert!(!err.is_not_found());
        assert!(
            err.to_string().contains("It is locked by worker 'owner'"),
            "{err}"
        );
        assert_eq!(kind(err), EngineErrorKind::LockedByOther);
    }
    // The owner still can.
    env.client
        .complete(&task.id, "owner", &variables! {})
        .await
        .unwrap();
}

#[tokio::test]
async fn extending_an_expired_lock_is_a_bad_request_not_a_foreign_lock() {
    let env = Env::new().await;
    env.start(variables! {}, None).await;
    let request =
        FetchAndLock::new("w", 1).topic(FetchTopic::new(TOPIC, Duration::from_millis(50)));
    let task = env.client.fetch_and_lock(&request).await.unwrap().remove(0);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(task.is_expired());
    let err = env
        .client
        .extend_lock(&task.id, "w", LOCK)
        .await
        .unwrap_err();
    assert!(err.is_bad_request(), "{err}");
    assert!(!err.is_locked_by_other_worker(), "{err}");
    assert_eq!(kind(err), EngineErrorKind::BadRequest);
    // complete checks only the worker, not the lock's validity.
    env.client
        .complete(&task.id, "w", &variables! {})
        .await
        .unwrap();
}

#[tokio::test]
async fn an_invalid_variable_is_a_bad_request() {
    let env = Env::new().await;
    env.start(variables! {}, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    // Camunda needs an objectTypeName for a serialized Object.
    let object = Value::Object(ObjectValue {
        object_type_name: None,
        serialization_data_format: Some("application/json".into()),
        data: ObjectData::Json(json!({"a": 1})),
    });
    let err = env
        .client
        .complete(&task.id, "w", &variables! { "obj": object })
        .await
        .unwrap_err();
    // Operaton 1.0 and Camunda 7.24 refuse it with 500 ProcessEngineException, not 400
    // (tests/fixtures/transcripts/*/errors.json, "complete with an Object without
    // objectTypeName").
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(err.error_type(), Some("ProcessEngineException"), "{err}");
    assert!(!err.is_transient() && !err.is_optimistic_locking(), "{err}");
    assert!(err.to_string().contains("objectTypeName"), "{err}");
    assert_eq!(kind(err), EngineErrorKind::Other);

    // A value this client cannot send is refused before any call.
    let no_content = Value::File(bptl_core::FileValue {
        filename: "a.txt".into(),
        mime_type: None,
        encoding: None,
        content: None,
    });
    let err = env
        .client
        .complete(&task.id, "w", &variables! { "doc": no_content })
        .await
        .unwrap_err();
    assert!(matches!(err, CamundaError::Variable(_)), "{err}");
    assert_eq!(kind(err), EngineErrorKind::BadRequest);
}

#[tokio::test]
async fn an_optimistic_locking_conflict_is_recognised_and_retrying_succeeds() {
    let env = Env::new().await;
    let instance = env.start(variables! {}, None).await;
    let task = env.fetch_one("w", TOPIC).await;
    env.engine.faults().fail_next(
        Endpoint::Complete,
        1,
        500,
        json!({"type": "OptimisticLockingException",
               "message": "ENGINE-03005 Execution of 'UPDATE ExecutionEntity' failed.", "code": 1}),
    );
    let err = env
        .client
        .complete(&task.id, "w", &variables! {})
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.code(), Some(1));
    assert!(err.is_optimistic_locking(), "{err}");
    assert!(!err.is_transient() && !err.is_not_found());
    assert_eq!(
        err.to_string(),
        format!(
            "POST /external-task/{}/complete: HTTP 500 (OptimisticLockingException, code 1): ENGINE-03005 Execution of 'UPDATE ExecutionEntity' failed.",
            task.id
        )
    );
    let engine = EngineError::from(err);
    assert_eq!(engine.kind, EngineErrorKind::Conflict);
    assert!(engine.is_retryable());

    // Code 1 alone is enough (other exception classes wrap it).
    env.engine.faults().fail_next(
        Endpoint::Complete,
        1,
        500,
        json!({"type": "ProcessEngineException", "message": "conflict", "code": 1}),
    );
    let err = env
        .client
        .complete(&task.id, "w", &variables! {})
        .await
        .unwrap_err();
    assert!(err.is_optimistic_locking(), "{err}");

    // A generic 500 is not.
    env.engine.faults().fail_next(
        Endpoint::Complete,
        1,
        500,
        json!({"type": "ProcessEngineException", "message": "boom", "code": 0}),
    );
    let err = env
        .client
        .complete(&task.id, "w", &variables! {})
        .await
        .unwrap_err();
    assert!(!err.is_optimistic_locking(), "{err}");
    assert_eq!(kind(err), EngineErrorKind::Other);

    env.client
        .complete(&task.id, "w", &variables! {})
        .await
        .unwrap();
    assert_eq!(env.state(&instance).await, "COMPLETED");
}

#[tokio::test]
async fn overloaded_gateways_are_transient() {
    let env = Env::new().await;
    for status in [502, 503, 504] {
        env.engine.faults().fail_next(
            Endpoint::FetchAndLock,
            1,
            status,
            json!({"message": "try later"}),
        );
        let err = env
            .client
            .fetch_and_lock(&FetchAndLock::new("w", 1).topic(FetchTopic::new(TOPIC, LOCK)))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(err.is_transient(), "{err}");
        assert_eq!(kind(err), EngineErrorKind::Transient);
    }
    assert!(env.fetch("w", TOPIC, 1).await.is_empty());
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let port = client_support::closed_port().await;
    let client = CamundaClient::new(format!("http://127.0.0.1:{port}/engine-rest")).unwrap();
    let started = Instant::now();
    let err = client.unlock("t1").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(
            err,
            CamundaError::Network {
                kind: NetworkErrorKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("POST /external-task/t1/unlock: could not connect to the engine"),
        "{err}"
    );
    assert_eq!(kind(err), EngineErrorKind::Transient);
}

async fn parked_poll(
    env: &Env,
) -> tokio::task::JoinHandle<(
    Result<Vec<bptl_camunda::ExternalTask>, CamundaError>,
    Duration,
)> {
    let request = FetchAndLock::new("poller", 1)
        .long_poll(Duration::from_secs(30))
        .topic(FetchTopic::new(TOPIC, LOCK));
    let client = env.client.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let result = client.fetch_and_lock(&request).await;
        (result, started.elapsed())
    })
}

#[tokio::test]
async fn a_server_dropping_the_connection_mid_poll_gives_a_prompt_transient_error() {
    let env = Env::new().await;
    env.engine
        .faults()
        .drop_next(Endpoint::FetchAndLock, 1, Duration::from_millis(300));
    let (result, elapsed) = parked_poll(&env).await.await.unwrap();
    let err = result.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(
            err,
            CamundaError::Network {
                kind: NetworkErrorKind::ConnectionLost,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        err.to_string()
            .starts_with("POST /external-task/fetchAndLock: the connection"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_going_away_mid_poll_never_hangs_the_client() {
    let env = Env::new().await;
    let poll = parked_poll(&env).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.engine.parked_fetch_count() == 0 {
        assert!(Instant::now() < deadline, "the fetch was never parked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.engine.stop_http().await;
    let (result, elapsed) = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the client returns")
        .unwrap();
    let err = result.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    // While it is down: refused, transient.
    let err = fetch_err(&env).await;
    assert!(err.is_transient(), "{err}");

    // And back.
    env.engine.restart_http().await.unwrap();
    env.start(variables! {}, None).await;
    assert_eq!(env.fetch("w", TOPIC, 1).await.len(), 1);
}

async fn fetch_err(env: &Env) -> CamundaError {
    env.client
        .fetch_and_lock(&FetchAndLock::new("w", 1).topic(FetchTopic::new(TOPIC, LOCK)))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_silent_server_times_out_after_the_long_poll_plus_the_margin() {
    let env = Env::new().await;
    let client = CamundaClient::builder(env.engine.url())
        .long_poll_margin(Duration::from_millis(400))
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    env.engine
        .faults()
        .add_latency(Endpoint::FetchAndLock, Duration::from_secs(5));
    let request = FetchAndLock::new("w", 1)
        .long_poll(Duration::from_millis(300))
        .topic(FetchTopic::new(TOPIC, LOCK));
    let started = Instant::now();
    let err = client.fetch_and_lock(&request).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(
            err,
            CamundaError::Network {
                kind: NetworkErrorKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(elapsed >= Duration::from_millis(650), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    // Other calls use the plain timeout.
    env.engine
        .faults()
        .add_latency(Endpoint::Unlock, Duration::from_secs(5));
    let started = Instant::now();
    let err = client.unlock("t1").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(kind(err), EngineErrorKind::Transient);
}

#[tokio::test]
async fn an_unreadable_answer_is_a_decode_error_naming_the_call() {
    let env = Env::new().await;
    env.engine
        .faults()
        .fail_next(Endpoint::FetchAndLock, 1, 200, json!({"not": "a list"}));
    let err = fetch_err(&env).await;
    assert!(matches!(err, CamundaError::Decode { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("POST /external-task/fetchAndLock: the engine's answer could not be read"),
        "{err}"
    );
    assert!(!err.is_transient());
    assert_eq!(kind(err), EngineErrorKind::Other);
}

//! The test kit (`bptl::testing`) on the demonstration units: what the engine hears, the
//! kit's messages when a test is set up wrongly, the mock service and the test engine.

use std::time::Duration;

use bptl::prelude::*;
use bptl::testing::{
    AppCredentials, EngineHears, MockService, ServiceSpec, TestEngine, TestKitError, UnitTest,
};
use bptl::{RetryPolicy, TaskMapping};
use serde_json::json;

use bptl_dummy as _;

#[tokio::test]
async fn double_completes_with_typed_variables() {
    let run = UnitTest::new("bptl_dummy::Double")
        .variables(variables! { "amount": 3_000_000_000_i64 })
        .run()
        .await;
    assert_eq!(
        run.assert_completed().get("doubled"),
        Some(&Value::Long(6_000_000_000))
    );
    let statuses: Vec<&str> = run
        .timeline()
        .iter()
        .filter(|e| e.kind == bptl::EventKind::Status)
        .filter_map(|e| e.data["to"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["in_progress", "performed", "completed"],
        "{:?}",
        run.timeline()
    );
}

#[tokio::test]
async fn failures_carry_the_retry_policy_and_the_units_own_retries() {
    let run = UnitTest::new("bptl_dummy::fail").run().await;
    let failure = run.assert_failure();
    assert_eq!(failure.error_message, "failure requested");
    assert_eq!(
        (failure.retries, failure.retry_timeout),
        (2, Duration::from_secs(30))
    );

    let run = UnitTest::new("bptl_dummy::fail")
        .retry_policy(RetryPolicy {
            retries: 5,
            retry_timeout: Duration::from_secs(10),
            backoff_factor: 2.0,
            ..RetryPolicy::default()
        })
        .retries_left(3)
        .run()
        .await;
    let failure = run.assert_failure();
    assert_eq!(
        (failure.retries, failure.retry_timeout),
        (2, Duration::from_secs(40))
    );

    let run = UnitTest::new("bptl_dummy::fail")
        .variables(
            variables! { "message": "the Zaken API is down", "retries": 7, "retryTimeoutMs": 1500 },
        )
        .run()
        .await;
    let failure = run.assert_failure();
    assert_eq!(failure.error_message, "the Zaken API is down");
    assert_eq!(
        (failure.retries, failure.retry_timeout),
        (7, Duration::from_millis(1500))
    );
}

#[tokio::test]
async fn bpmn_errors_carry_their_code_and_message() {
    let run = UnitTest::new("bptl_dummy::bpmn_error")
        .variables(variables! { "errorCode": "LIMIT_EXCEEDED", "errorMessage": "over 40" })
        .run()
        .await;
    let error = run.assert_bpmn_error("LIMIT_EXCEEDED");
    assert_eq!(error.message, "over 40");
    assert!(matches!(run.outcome(), EngineHears::BpmnError(_)));
}

#[tokio::test]
#[should_panic(
    expected = "expected a BPMN error 'OTHER' from unit 'bptl_dummy::bpmn_error', the engine would hear: BPMN error 'LIMIT_EXCEEDED' (over 40)"
)]
async fn a_bpmn_error_with_another_code_fails_the_assertion() {
    UnitTest::new("bptl_dummy::bpmn_error")
        .variables(variables! { "errorCode": "LIMIT_EXCEEDED", "errorMessage": "over 40" })
        .run()
        .await
        .assert_bpmn_error("OTHER");
}

#[tokio::test]
#[should_panic(
    expected = "expected a BPMN error 'CODE' from unit 'bptl_dummy::fail', the engine would hear: failure 'failure requested' (retries 2, retry timeout 30s)"
)]
async fn a_failure_fails_the_bpmn_error_assertion_saying_what_the_engine_heard() {
    UnitTest::new("bptl_dummy::fail")
        .run()
        .await
        .assert_bpmn_error("CODE");
}

#[tokio::test]
#[should_panic(
    expected = "expected unit 'bptl_dummy::Double' to complete the task, the engine would hear: failure 'The variable amount must be a number (f64), but it is a String (\"ten\").' (retries 0"
)]
async fn a_failure_fails_the_completion_assertion() {
    UnitTest::new("bptl_dummy::Double")
        .variables(variables! { "amount": "ten" })
        .run()
        .await
        .assert_completed();
}

#[tokio::test]
async fn the_mappings_timeout_becomes_a_failure() {
    let run = UnitTest::new("bptl_dummy::sleep")
        .variables(variables! { "durationMs": 10_000 })
        .timeout(Duration::from_millis(100))
        .run()
        .await;
    assert_eq!(run.assert_failure().error_message, "timed out after 100ms");
}

#[tokio::test]
async fn a_unit_still_running_after_the_wait_is_an_error_that_says_so() {
    let err = UnitTest::new("bptl_dummy::sleep")
        .variables(variables! { "durationMs": 10_000 })
        .wait_at_most(Duration::from_millis(200))
        .try_run()
        .await
        .expect_err("no outcome within 200 ms");
    assert!(matches!(err, TestKitError::NotHeard { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the engine heard nothing from the worker within 200ms"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_unit_is_named_with_what_is_registered() {
    let err = UnitTest::new("bptl_dummy::Dubble")
        .try_run()
        .await
        .expect_err("not registered");
    let text = err.to_string();
    assert!(
        text.starts_with("unit 'bptl_dummy::Dubble' is not in the registry; did you mean 'bptl_dummy::Double'? registered: "),
        "{text}"
    );
    assert!(text.contains("bptl_dummy::fetch_json"), "{text}");
}

#[tokio::test]
async fn services_and_credentials_are_checked_like_the_workers_configuration() {
    let err = UnitTest::new("bptl_dummy::fetch_json")
        .service(
            "api",
            ServiceSpec::new("http://127.0.0.1:9/").key("scop", "x"),
        )
        .try_run()
        .await
        .expect_err("unknown key");
    assert!(
        err.to_string().starts_with(
            "the services or applications of the test are invalid: services.api: unknown field `scop`"
        ),
        "{err}"
    );

    let err = UnitTest::new("bptl_dummy::fetch_json")
        .service(
            "api",
            ServiceSpec::new("http://127.0.0.1:9/").zgw("bptl", ""),
        )
        .try_run()
        .await
        .expect_err("empty secret");
    assert!(matches!(err, TestKitError::Services(_)), "{err:?}");
    assert!(
        err.to_string().contains("An empty secret is refused"),
        "{err}"
    );

    let err = UnitTest::new("bptl_dummy::fetch_json")
        .try_run()
        .await
        .expect_err("no service");
    assert_eq!(
        err,
        TestKitError::Mapping(vec!["Missing service alias 'api'".into()])
    );
}

#[tokio::test]
async fn unmatched_requests_get_a_404_and_app_claims_override_the_services() {
    let api = MockService::start().await;
    api.get("zaken/1").respond_json(json!({"ok": true})).await;
    let run = UnitTest::new("bptl_dummy::fetch_json")
        .service(
            "api",
            ServiceSpec::new(api.url())
                .zgw("bptl", "service-secret")
                .key("user_id", "svc"),
        )
        .app(
            "https://app.example",
            [(
                "api",
                AppCredentials::zgw("zac", "app-secret").key("user_id", "zac-user"),
            )],
        )
        .variables(variables! { "bptlAppId": "https://app.example", "path": "zaken/2" })
        .run()
        .await;
    let failure = run.assert_failure();
    assert_eq!(
        failure.error_message,
        format!("GET {}zaken/2 answered 404:", api.url())
    );
    assert_eq!(
        failure.retries, 2,
        "an error status follows the retry policy"
    );
    assert_eq!(run.outgoing_requests()[0].status, Some(404));

    let got = api.requests().await;
    assert_eq!(got.len(), 1);
    let claims = got[0].jwt_claims().expect("a JWT");
    assert_eq!(claims["client_id"], "zac");
    assert_eq!(claims["user_id"], "zac-user");
    let verified = got[0]
        .zgw_claims("app-secret")
        .expect("signed with the app's secret");
    assert_eq!(verified.user_id, "zac-user");
    assert!(verified.exp > verified.iat);
}

#[tokio::test]
#[should_panic(expected = "Verifications failed")]
async fn an_unmet_expectation_fails_verification() {
    let api = MockService::start().await;
    api.post("zaken").times(1).respond_status(201).await;
    api.verify().await;
}

const TWO_STEPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <bpmn:error id="Limit" errorCode="LIMIT_EXCEEDED" />
  <bpmn:process id="check" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="double" />
    <bpmn:serviceTask id="double" camunda:type="external" camunda:topic="double" />
    <bpmn:sequenceFlow id="f2" sourceRef="double" targetRef="limit" />
    <bpmn:serviceTask id="limit" camunda:type="external" camunda:topic="limit" />
    <bpmn:boundaryEvent id="over" attachedToRef="limit">
      <bpmn:errorEventDefinition errorRef="Limit" camunda:errorCodeVariable="caughtCode" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="limit" targetRef="end" />
    <bpmn:sequenceFlow id="f4" sourceRef="over" targetRef="rejected" />
    <bpmn:endEvent id="end" />
    <bpmn:endEvent id="rejected" />
  </bpmn:process>
</bpmn:definitions>"#;

#[tokio::test]
async fn a_process_runs_end_to_end_through_the_worker() {
    let engine = TestEngine::builder()
        .bpmn(TWO_STEPS)
        .mapping(TaskMapping::new("double", "bptl_dummy::Double"))
        .mapping(TaskMapping::new("limit", "bptl_dummy::bpmn_error"))
        .start()
        .await
        .expect("engine");
    let a = engine
        .start(
            "check",
            variables! { "amount": 21, "errorCode": "LIMIT_EXCEEDED" },
        )
        .expect("started");
    let b = engine
        .start(
            "check",
            variables! { "amount": 2, "errorCode": "LIMIT_EXCEEDED" },
        )
        .expect("started");
    engine.wait_until_ended(&[&a, &b]).await.expect("ended");
    let vars = engine.history_variables(&a).expect("history");
    assert_eq!(vars.get("doubled"), Some(&Value::from(42)));
    assert_eq!(vars.get("caughtCode"), Some(&Value::from("LIMIT_EXCEEDED")));
    assert!(engine.incidents().is_empty());

    let tasks = engine.tasks_of(&a).await;
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let double = tasks.iter().find(|t| t.topic == "double").expect("double");
    assert_eq!(double.status.as_str(), "completed");
    assert!(!engine.timeline(&double.task_id).await.is_empty());

    let stats = engine.shutdown().await;
    assert_eq!((stats.completed, stats.bpmn_errors), (2, 2), "{stats:?}");
}

#[tokio::test]
async fn an_incident_ends_the_wait_at_once_naming_the_failure() {
    let engine = TestEngine::builder()
        .bpmn(TWO_STEPS)
        .mapping(TaskMapping::new("double", "bptl_dummy::fail"))
        .start()
        .await
        .expect("engine");
    let id = engine
        .start(
            "check",
            variables! { "message": "no zaak found", "retries": 0 },
        )
        .expect("started");
    let started = std::time::Instant::now();
    let err = engine
        .wait_until_ended(&[&id])
        .await
        .expect_err("an incident");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        err.to_string(),
        format!("process instance {id} has an incident at 'double': no zaak found")
    );
    let incidents = engine.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].message, "no zaak found");
}

#[tokio::test]
async fn an_unmapped_topic_is_named_when_the_wait_runs_out() {
    let engine = TestEngine::builder()
        .bpmn(TWO_STEPS)
        .mapping(TaskMapping::new("double", "bptl_dummy::Double"))
        .wait_at_most(Duration::from_millis(500))
        .start()
        .await
        .expect("engine");
    let id = engine
        .start("check", variables! { "amount": 1 })
        .expect("started");
    let err = engine
        .wait_until_ended(&[&id])
        .await
        .expect_err("stuck at limit");
    assert_eq!(
        err.to_string(),
        format!(
            "process instance(s) {id} still running after 500ms; open external tasks: limit (limit) (is a mapping for each topic given?)"
        )
    );
}

#[tokio::test]
async fn mappings_are_checked_before_anything_starts() {
    let err = TestEngine::builder()
        .bpmn(TWO_STEPS)
        .mapping(TaskMapping::new("double", "bptl_dummy::Dubble"))
        .start()
        .await
        .expect_err("unknown unit");
    assert!(
        err.to_string().starts_with(
            "unit 'bptl_dummy::Dubble' is not in the registry; did you mean 'bptl_dummy::Double'?"
        ),
        "{err}"
    );
    let err = TestEngine::builder()
        .mapping(TaskMapping::new("fetch", "bptl_dummy::fetch_json").service("api", "zaken"))
        .start()
        .await
        .expect_err("service not given");
    assert!(
        err.to_string()
            .contains("topic 'fetch': The service 'zaken' for alias 'api' is not configured"),
        "{err}"
    );
}

#[tokio::test]
async fn services_reach_units_in_a_process_and_drop_stops_everything() {
    let api = MockService::start().await;
    api.get("zaken/7")
        .respond_json(json!({"identificatie": "ZAAK-7"}))
        .await;
    let engine = TestEngine::builder()
        .bpmn(TWO_STEPS)
        .mapping(TaskMapping::new("double", "bptl_dummy::fetch_json").service("api", "zaken"))
        .mapping(TaskMapping::new("limit", "bptl_dummy::dummy"))
        .service(
            "zaken",
            ServiceSpec::new(api.url()).api_key("X-Api-Key", "k"),
        )
        .start()
        .await
        .expect("engine");
    let id = engine
        .start(
            "check",
            variables! { "bptlAppId": "https://app.example", "path": "zaken/7" },
        )
        .expect("started");
    engine.wait_until_ended(&[&id]).await.expect("ended");
    assert_eq!(
        engine
            .history_variables(&id)
            .expect("history")
            .get("response")
            .map(|v| v.to_json()),
        Some(json!({"identificatie": "ZAAK-7"}))
    );
    assert_eq!(api.requests().await[0].header("x-api-key"), Some("k"));

    let url = format!("{}/external-task", engine.dev_engine().url());
    drop(engine);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // reqwest needs a TLS crypto provider before its first client.
    bptl::credentials::install_crypto_provider();
    let after = bptl::credentials::reqwest::get(&url).await;
    assert!(
        after.is_err(),
        "the engine still answers after drop: {after:?}"
    );
}

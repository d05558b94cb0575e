//! Calls and their answers: variables, failures, bad calls, tokens, app ids, concurrency.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_and_plain_variables_run_the_unit_and_answer_its_variables() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let (status, answer) = api
        .call_a(
            json!({ "topic": "double", "vars": { "amount": { "value": 21, "type": "Integer" } } }),
        )
        .await;
    assert_eq!(
        (status, &answer["resultVars"]),
        (200, &json!({ "doubled": 42 }))
    );
    let (status, answer) = api
        .call_a(json!({ "topic": "double", "vars": { "amount": 2.5 } }))
        .await;
    assert_eq!(
        (status, &answer["resultVars"]),
        (200, &json!({ "doubled": 5.0 }))
    );
    let (status, answer) = api
        .call_a(json!({ "topic": "echo", "vars": {
            "when": { "value": "2026-12-02T14:00:00.000+0100", "type": "Date" },
            "big": { "value": 5, "type": "Long" },
            "doc": { "nested": [1, 2] },
            "name": "plain",
        } }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultVars"],
        json!({
            "echo_when": "2026-12-02T14:00:00.000+0100",
            "echo_big": 5,
            "echo_doc": { "nested": [1, 2] },
            "echo_name": "plain",
            "echo_bptlAppId": "app-a",
        })
    );
    // The record keeps the variables in Camunda's typed form, kinds preserved.
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    assert_eq!(
        record.variables["big"],
        json!({ "value": 5, "type": "Long" })
    );
    assert_eq!(record.variables["when"]["type"], json!("Date"));
    assert_eq!(record.variables["doc"]["type"], json!("Json"));
    assert_eq!(
        record.variables["bptlAppId"],
        json!({ "value": "app-a", "type": "String" })
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_answers_500_at_once_and_a_bpmn_error_422() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let (status, answer) = api
        .call_a(json!({ "topic": "counted", "vars": { "counter": "fails", "outcome": "fail" } }))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (500, Some("failed on run 1"))
    );
    // The mapping has retries = 3, but a synchronous caller hears the failure at once.
    let record = api.record_once(task_id(&answer), TaskStatus::Failed).await;
    assert_eq!(record.executions, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs("fails"), 1, "not retried");

    let (status, answer) = api
        .call_a(json!({ "topic": "counted", "vars": { "counter": "bpmn", "outcome": "bpmn" } }))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errorCode"], json!("COUNTED"));
    assert_eq!(answer["errorMessage"], json!("raised on run 1"));

    // A variable the unit needs is missing: a failure too, naming it.
    let (status, answer) = api.call_a(json!({ "topic": "double", "vars": {} })).await;
    assert_eq!(status, 500);
    assert_eq!(
        answer["error"],
        json!("The variable amount is missing or empty.")
    );
    let stats = api.stop().await;
    assert_eq!((stats.failed, stats.bpmn_errors), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_answer_400_naming_the_problem() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let cases = [
        (
            json!({ "topic": "nothing", "vars": {} }),
            "Could not find a topic/callback mapping for topic 'nothing'",
        ),
        // Mapped, but for the polled engine: not something HTTP callers may run.
        (
            json!({ "topic": "polled", "vars": { "amount": 1 } }),
            "Could not find a topic/callback mapping for topic 'polled'",
        ),
        (
            json!({ "vars": {} }),
            "the request body is not valid: missing field `topic`",
        ),
        (
            json!({ "topic": "double", "variables": {} }),
            "the request body is not valid: unknown field `variables`",
        ),
        (
            json!({ "topic": "double", "vars": [1] }),
            "the request body is not valid: invalid type: sequence, expected a map",
        ),
        (
            json!({ "topic": "double", "vars": { "amount": { "value": "x", "type": "Integer" } } }),
            "vars.amount: variable 'amount' has type Integer but its value is a string (\"x\")",
        ),
        (
            json!({ "topic": "double", "vars": { "amount": { "value": 1, "type": "Number" } } }),
            "vars.amount: variable 'amount' has unknown type 'Number'",
        ),
        (
            json!({ "topic": "echo", "vars": { "bptlAppId": "app-b" } }),
            "vars.bptlAppId: your token is the application 'app-a's",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = api.call_a(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.starts_with(expected), "{body}: {message}");
    }
    // Not JSON at all.
    let response = api
        .client
        .post(&api.url)
        .bearer_auth("token-a")
        .body("{\"topic\": \"double\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: Json = response.json().await.unwrap();
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.starts_with(
            "the request body is not valid: EOF while parsing a value at line 1 column 20"
        ),
        "{message}"
    );
    assert!(
        message.contains(r#"send {"topic": "TOPIC", "vars""#),
        "{message}"
    );
    let (status, answer) = api
        .call(
            Some("token-a"),
            Some("has space"),
            json!({ "topic": "double", "vars": { "amount": 1 } }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("the Idempotency-Key header must be")
    );
    // Nothing of these ran.
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_without_a_valid_token_get_401() {
    let api = start("10s", 4, "http://127.0.0.1:9/").await;
    let body = json!({ "topic": "double", "vars": { "amount": 1 } });
    for token in [None, Some("token-c"), Some("token-a2"), Some("oken-a")] {
        let mut request = api.client.post(&api.url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{token:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let answer: Json = response.json().await.unwrap();
        assert!(answer["error"].as_str().unwrap().contains("Bearer"));
    }
    let response = api
        .client
        .post(&api.url)
        .basic_auth("app-a", Some("token-a"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // The token of app-b, read from the environment, works.
    let (status, answer) = api.call(Some("token-b"), None, body).await;
    assert_eq!(
        (status, &answer["resultVars"]),
        (200, &json!({ "doubled": 2 }))
    );
    let stats = api.stop().await;
    assert_eq!(stats.fetched, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_app_id_chooses_the_credentials() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let peer = MockServer::start().await;
    for key in ["app-b-key", "service-key"] {
        Mock::given(method("GET"))
            .and(path("/api/things/1"))
            .and(header("X-Api-Key", key))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "seenKey": key })))
            .mount(&peer)
            .await;
    }
    let api = start("10s", 4, &format!("{}/api/", peer.uri())).await;
    let body = json!({ "topic": "fetch", "vars": { "path": "things/1" } });
    let (status, answer) = api.call(Some("token-b"), None, body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultVars"]["response"],
        json!({ "seenKey": "app-b-key" })
    );
    // app-a has no credentials of its own: the service's apply.
    let (status, answer) = api.call_a(body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultVars"]["response"],
        json!({ "seenKey": "service-key" })
    );
    // The unit's request is on the task's timeline.
    let record = api
        .record_once(task_id(&answer), TaskStatus::Completed)
        .await;
    let timeline = api.store.timeline(&record.key()).await.unwrap();
    assert!(
        timeline.iter().any(|e| e.kind == bptl::EventKind::Request),
        "{timeline:?}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_are_all_answered_correctly() {
    let api = Arc::new(start("30s", 4, "http://127.0.0.1:9/").await);
    let mut calls = tokio::task::JoinSet::new();
    for amount in 0..50_i64 {
        let api = Arc::clone(&api);
        calls.spawn(async move {
            let token = if amount % 2 == 0 {
                "token-a"
            } else {
                "token-b"
            };
            let (status, answer) = api
                .call(
                    Some(token),
                    None,
                    json!({ "topic": "echo", "vars": { "amount": amount, "sleepMs": 20 } }),
                )
                .await;
            (amount, status, answer)
        });
    }
    let mut seen = 0;
    while let Some(done) = calls.join_next().await {
        let (amount, status, answer) = done.unwrap();
        assert_eq!(status, 200, "{amount}: {answer}");
        let app = if amount % 2 == 0 { "app-a" } else { "app-b" };
        assert_eq!(
            answer["resultVars"],
            json!({ "echo_amount": amount, "echo_sleepMs": 20, "echo_bptlAppId": app })
        );
        seen += 1;
    }
    assert_eq!(seen, 50);
    let api = Arc::into_inner(api).unwrap();
    let stats = api.stop().await;
    assert_eq!((stats.fetched, stats.completed), (50, 50));
}

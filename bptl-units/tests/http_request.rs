//! `http_request` end to end with the test kit: the worker runtime runs it against a real HTTP
//! server on 127.0.0.1 (the kit's mock service), with the credentials a worker would have.

use bptl::prelude::*;
use bptl::testing::wiremock::ResponseTemplate;
use bptl::testing::{AppCredentials, MockService, ServiceSpec, UnitTest};
use bptl::{Registry, UnitEntry};
use serde_json::json;

use bptl_units as _;

const UNIT: &str = "bptl_units::http_request";
const APP: &str = "https://app.example";

fn entry() -> UnitEntry {
    *Registry::global()
        .expect("registry")
        .get(UNIT)
        .expect("http_request is registered as bptl_units::http_request")
}

/// The unit on the mock's API below `api/v1/`, with the service's own API key and `APP`'s own.
fn on(api: &MockService) -> UnitTest {
    UnitTest::new(UNIT)
        .service(
            "api",
            ServiceSpec::new(format!("{}api/v1/", api.url()))
                .name("orders")
                .api_type("orders")
                .api_key("X-Api-Key", "service-key"),
        )
        .app(
            APP,
            [("api", AppCredentials::api_key("X-Api-Key", "app-key"))],
        )
}

#[test]
fn documented_with_its_variables_and_service() {
    let entry = entry();
    assert_eq!(entry.required_services.len(), 1);
    assert_eq!(entry.required_services[0].alias, Some("api"));
    assert_eq!(entry.required_services[0].service_type, "*");
    for part in [
        "**Required process variables**",
        "**Optional process variables**",
        "**Sets the process variables**",
        "* `path`",
        "* `expectedStatuses`",
        "* `status`",
        "* `response`",
    ] {
        assert!(
            entry.doc.contains(part),
            "{part} missing from:\n{}",
            entry.doc
        );
    }
}

#[tokio::test]
async fn posts_json_with_query_and_keeps_the_json_answer() {
    let api = MockService::start().await;
    api.post("api/v1/orders")
        .query("dry", "true")
        .json_body(json!({"item": "book", "amount": 2}))
        .header("x-api-key", "app-key")
        .times(1)
        .respond(201, json!({"id": 17, "state": "new"}))
        .await;
    let run = on(&api)
        .variables(variables! {
            "bptlAppId": APP,
            "method": "post",
            "path": "orders",
            "query": json!({"dry": true, "tag": ["a", "b"]}),
            "body": json!({"item": "book", "amount": 2}),
        })
        .run()
        .await;
    let vars = run.assert_completed();
    assert_eq!(vars.get("status"), Some(&Value::from(201)));
    assert_eq!(
        vars.get("response"),
        Some(&Value::from(json!({"id": 17, "state": "new"})))
    );
    let received = api.requests().await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].query,
        vec![
            ("dry".to_owned(), "true".to_owned()),
            ("tag".to_owned(), "a".to_owned()),
            ("tag".to_owned(), "b".to_owned()),
        ]
    );
    // On the timeline, with the key redacted.
    let sent = run.outgoing_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].status, Some(201));
    assert_eq!(sent[0].request_headers["x-api-key"], json!("***"));
    api.verify().await;
}

#[tokio::test]
async fn a_text_answer_is_kept_as_text_and_an_empty_one_as_null() {
    let api = MockService::start().await;
    api.get("api/v1/hello")
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/plain; charset=utf-8")
                .set_body_string("grüß dich"),
        )
        .await;
    api.delete("api/v1/orders/3").respond_status(204).await;
    let run = on(&api)
        .variables(variables! { "bptlAppId": APP, "path": "hello" })
        .run()
        .await;
    assert_eq!(
        run.assert_completed().get("response"),
        Some(&Value::from("grüß dich"))
    );
    let run = on(&api)
        .variables(variables! { "bptlAppId": APP, "path": "orders/3", "method": "DELETE" })
        .run()
        .await;
    let vars = run.assert_completed();
    assert_eq!(vars.get("status"), Some(&Value::from(204)));
    assert_eq!(vars.get("response"), Some(&Value::Null));
}

#[tokio::test]
async fn an_unexpected_status_fails_and_an_expected_one_completes() {
    let api = MockService::start().await;
    api.get("api/v1/orders/9")
        .respond(404, json!({"detail": "no order 9"}))
        .await;
    let run = on(&api)
        .variables(variables! { "bptlAppId": APP, "path": "orders/9" })
        .run()
        .await;
    let failure = run.assert_failure();
    assert!(
        failure.error_message.contains("answered 404")
            && failure.error_message.contains("no order 9")
            && failure.error_message.contains("expected 2xx"),
        "{}",
        failure.error_message
    );

    let run = on(&api)
        .variables(variables! {
            "bptlAppId": APP, "path": "orders/9", "expectedStatuses": json!([200, 404]),
        })
        .run()
        .await;
    let vars = run.assert_completed();
    assert_eq!(vars.get("status"), Some(&Value::from(404)));
    assert_eq!(
        vars.get("response"),
        Some(&Value::from(json!({"detail": "no order 9"})))
    );

    // A 200 that is not among the expected statuses fails too.
    api.get("api/v1/orders/10").respond_json(json!({})).await;
    let run = on(&api)
        .variables(variables! {
            "bptlAppId": APP, "path": "orders/10", "expectedStatuses": json!([201]),
        })
        .run()
        .await;
    let message = &run.assert_failure().error_message;
    assert!(
        message.contains("answered 200") && message.contains("expected 201"),
        "{message}"
    );
}

#[tokio::test]
async fn bad_variables_fail_naming_the_variable() {
    let api = MockService::start().await;
    let cases = [
        (variables! { "bptlAppId": APP }, "path"),
        (
            variables! { "bptlAppId": APP, "path": "x", "method": "FETCH" },
            "method",
        ),
        (
            variables! { "bptlAppId": APP, "path": "x", "query": "a=b" },
            "query",
        ),
        (
            variables! { "bptlAppId": APP, "path": "x", "expectedStatuses": json!([700]) },
            "expectedStatuses",
        ),
        (variables! { "path": "x" }, "bptlAppId"),
    ];
    for (vars, name) in cases {
        let run = on(&api).variables(vars).run().await;
        let message = &run.assert_failure().error_message;
        assert!(message.contains(name), "{name}: {message}");
    }
    assert!(api.requests().await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn an_absolute_url_outside_the_api_root_is_refused() {
    let api = MockService::start().await;
    let run = on(&api)
        .variables(variables! { "bptlAppId": APP, "path": "http://elsewhere.example/x" })
        .run()
        .await;
    let message = &run.assert_failure().error_message;
    assert!(message.contains("not below the API root"), "{message}");
    assert!(api.requests().await.is_empty());
}

//! `fetch_json` end to end with the test kit: registered with its required service, run by the
//! worker runtime with the services and application credentials a worker would have, against a
//! mock service on 127.0.0.1 that records what it gets.

use bptl::prelude::*;
use bptl::testing::{AppCredentials, MockService, ServiceSpec, UnitTest};
use bptl::{EventKind, Registry, UnitEntry};
use serde_json::json;

use bptl_dummy as _;

const UNIT: &str = "bptl_dummy::fetch_json";
const APP: &str = "https://app.example";

fn fetch_json_entry() -> UnitEntry {
    let registry = Registry::global().expect("registry");
    *registry
        .iter()
        .find(|u| u.name == "fetch_json")
        .filter(|u| u.path == UNIT)
        .expect("fetch_json is registered as bptl_dummy::fetch_json")
}

/// `fetch_json` on the mock's Zaken API: the service's own API key, and `APP`'s own key.
fn on_zaken(api: &MockService) -> UnitTest {
    UnitTest::new(UNIT)
        .service(
            "api",
            ServiceSpec::new(format!("{}api/v1", api.url()))
                .name("zaken")
                .api_type("zrc")
                .api_key("X-Api-Key", "service-key"),
        )
        .app(
            APP,
            [("api", AppCredentials::api_key("X-Api-Key", "app-key"))],
        )
}

/// `fetch_json` on the mock's Catalogi API: ZGW JWTs with the service's own client id and
/// secret.
fn on_catalogi(api: &MockService) -> UnitTest {
    UnitTest::new(UNIT).service(
        "api",
        ServiceSpec::new(format!("{}catalogi/api/v1", api.url()))
            .name("catalogi")
            .api_type("ztc")
            .zgw("bptl", "a-long-zgw-secret"),
    )
}

#[test]
fn registered_with_any_service_under_alias_api_and_documented() {
    let entry = fetch_json_entry();
    assert_eq!(entry.required_services.len(), 1);
    let required = entry.required_services[0];
    assert_eq!(required.service_type, "*");
    assert_eq!(required.alias, Some("api"));
    assert!(
        entry.doc.contains("**Required process variables**"),
        "{}",
        entry.doc
    );
    assert!(
        entry.doc.contains("**Sets the process variables**"),
        "{}",
        entry.doc
    );
    assert!(entry.doc.contains("* `response`"), "{}", entry.doc);
}

#[tokio::test]
async fn fetches_json_with_the_app_credentials() {
    let api = MockService::start().await;
    api.get("api/v1/zaken/7")
        .times(1)
        .respond_json(json!({"identificatie": "ZAAK-7", "open": true}))
        .await;
    let run = on_zaken(&api)
        .variables(variables! { "bptlAppId": APP, "path": "zaken/7" })
        .run()
        .await;
    let out = run.assert_completed();
    assert_eq!(
        out.get("response").map(|v| v.to_json()),
        Some(json!({"identificatie": "ZAAK-7", "open": true}))
    );
    assert_eq!(
        run.record().map(|r| r.status.as_str()),
        Some("completed"),
        "the worker stored the task as completed"
    );

    let got = api.requests().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].line(), "GET /api/v1/zaken/7");
    assert_eq!(got[0].header("x-api-key"), Some("app-key"));

    let requests = run.outgoing_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].request_headers["x-api-key"], "***");
    assert_eq!(requests[0].status, Some(200));
    assert_eq!(requests[0].service, "zaken");
    let recorded: Vec<_> = run
        .timeline()
        .iter()
        .filter(|e| e.kind == EventKind::Request)
        .collect();
    assert_eq!(recorded.len(), 1);
    assert!(!recorded[0].data.to_string().contains("app-key"));
}

#[tokio::test]
async fn other_apps_use_the_service_credentials_and_zgw_sends_a_jwt() {
    let api = MockService::start().await;
    api.get("api/v1/zaken").respond_json(json!([1, 2, 3])).await;
    api.get("catalogi/api/v1/zaaktypen")
        .respond_json(json!([1, 2, 3]))
        .await;
    let other_app = variables! { "bptlAppId": "https://other.example" };

    let run = on_zaken(&api)
        .variables(other_app.clone())
        .variables(variables! { "path": "/zaken" })
        .run()
        .await;
    run.assert_completed();
    let run = on_catalogi(&api)
        .variables(other_app)
        .variables(variables! { "path": "zaaktypen" })
        .run()
        .await;
    assert_eq!(
        run.assert_completed().get("response").map(|v| v.to_json()),
        Some(json!([1, 2, 3]))
    );

    let got = api.requests().await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].line(), "GET /api/v1/zaken");
    assert_eq!(got[0].header("x-api-key"), Some("service-key"));
    assert_eq!(got[1].line(), "GET /catalogi/api/v1/zaaktypen");
    let jwt = got[1].bearer_token().expect("a bearer token");
    assert_eq!(jwt.split('.').count(), 3, "a JWT: {jwt}");
    let claims = got[1]
        .zgw_claims("a-long-zgw-secret")
        .expect("signed with the service's secret");
    assert_eq!(
        (claims.iss.as_str(), claims.client_id.as_str()),
        ("bptl", "bptl")
    );
    assert!(got[1].zgw_claims("another-secret").is_err());
    assert_eq!(
        run.outgoing_requests()[0].request_headers["authorization"],
        "***"
    );
}

#[tokio::test]
async fn missing_variables_fail_the_task() {
    let api = MockService::start().await;
    api.get("api/v1/zaken").respond_json(json!({})).await;
    let run = on_zaken(&api)
        .variables(variables! { "path": "zaken" })
        .run()
        .await;
    let failure = run.assert_failure();
    assert_eq!(
        failure.error_message,
        "The variable bptlAppId is missing or empty."
    );
    assert_eq!(
        failure.retries, 0,
        "a missing variable is an incident at once"
    );
    assert_eq!(run.record().map(|r| r.status.as_str()), Some("failed"));

    let run = on_zaken(&api)
        .variables(variables! { "bptlAppId": APP })
        .run()
        .await;
    assert_eq!(
        run.assert_failure().error_message,
        "The variable path is missing or empty."
    );
    assert!(api.requests().await.is_empty());
    assert!(run.outgoing_requests().is_empty());
}

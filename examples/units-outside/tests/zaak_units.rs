//! The zaak units tested with bptl's test kit, through its public API only: unit tests against a
//! mock Zaken API, and the BPMN process end to end on the test engine.

use std::time::Duration;

use bptl::TaskMapping;
use bptl::prelude::*;
use bptl::testing::{AppCredentials, MockService, ServiceSpec, TestEngine, UnitTest};
use serde_json::json;

use units_outside as _;

const APP: &str = "https://zaakafhandeling.example";

/// The Zaken API of `zrc`, with ZGW JWTs signed with the service's own secret.
fn zaken(zrc: &MockService) -> ServiceSpec {
    ServiceSpec::new(zrc.url())
        .zgw("bptl", "the-service-secret")
        .key("user_id", "bptl")
        .key("user_representation", "BPTL")
}

fn create_zaak(zrc: &MockService) -> UnitTest {
    UnitTest::new("units_outside::CreateZaak")
        .service("zrc", zaken(zrc))
        .variables(variables! {
            "bptlAppId": APP,
            "zaaktype": "https://catalogi.example/zaaktypen/1",
            "omschrijving": "Melding openbare ruimte",
        })
}

#[tokio::test]
async fn creates_a_zaak_with_the_service_credentials() {
    let zrc = MockService::start().await;
    zrc.post("zaken")
        .json_body(json!({"zaaktype": "https://catalogi.example/zaaktypen/1", "bronorganisatie": "002220647"}))
        .times(1)
        .respond(201, json!({"url": format!("{}zaken/9", zrc.url()), "identificatie": "ZAAK-9"}))
        .await;

    let run = create_zaak(&zrc).run().await;
    let out = run.assert_completed();
    assert_eq!(out.get("identificatie"), Some(&Value::from("ZAAK-9")));
    assert_eq!(
        out.get("zaak"),
        Some(&Value::from(format!("{}zaken/9", zrc.url())))
    );

    let sent = &zrc.requests().await[0];
    assert_eq!(sent.line(), "POST /zaken");
    assert_eq!(
        sent.body_json().expect("JSON")["omschrijving"],
        "Melding openbare ruimte"
    );
    let claims = sent.zgw_claims("the-service-secret").expect("a ZGW token");
    assert_eq!(
        (
            claims.client_id.as_str(),
            claims.user_representation.as_str()
        ),
        ("bptl", "BPTL")
    );

    let recorded = run.outgoing_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].method.as_str(), recorded[0].status),
        ("POST", Some(201))
    );
    assert_eq!(recorded[0].request_headers["authorization"], "***");
}

#[tokio::test]
async fn the_applications_own_credentials_win() {
    let zrc = MockService::start().await;
    zrc.post("zaken")
        .respond(201, json!({"url": "u", "identificatie": "ZAAK-10"}))
        .await;
    create_zaak(&zrc)
        .app(
            APP,
            [(
                "zrc",
                AppCredentials::zgw("zac", "the-app-secret").key("user_id", "zac"),
            )],
        )
        .run()
        .await
        .assert_completed();
    let claims = zrc.requests().await[0]
        .zgw_claims("the-app-secret")
        .expect("signed with the app's secret");
    assert_eq!(
        (claims.client_id.as_str(), claims.user_id.as_str()),
        ("zac", "zac")
    );
}

#[tokio::test]
async fn a_refused_zaak_is_a_bpmn_error_and_a_server_error_a_failure() {
    let zrc = MockService::start().await;
    zrc.post("zaken")
        .respond(400, json!({"detail": "zaaktype is not published"}))
        .await;
    let run = create_zaak(&zrc).run().await;
    assert_eq!(
        run.assert_bpmn_error("ZAAK_REFUSED").message,
        "zaaktype is not published"
    );

    let down = MockService::start().await;
    down.post("zaken").respond_status(503).await;
    let run = create_zaak(&down).run().await;
    let failure = run.assert_failure();
    assert_eq!(
        failure.error_message,
        format!("POST {}zaken answered 503:", down.url())
    );
    assert_eq!(
        (failure.retries, failure.retry_timeout),
        (2, Duration::from_secs(30))
    );
}

#[tokio::test]
async fn a_missing_variable_is_an_incident_at_once_and_nothing_is_sent() {
    let zrc = MockService::start().await;
    let run = UnitTest::new("units_outside::CreateZaak")
        .service("zrc", zaken(&zrc))
        .variables(variables! { "bptlAppId": APP, "zaaktype": "z" })
        .run()
        .await;
    let failure = run.assert_failure();
    assert_eq!(
        failure.error_message,
        "The variable omschrijving is missing or empty."
    );
    assert_eq!(failure.retries, 0);
    assert!(zrc.requests().await.is_empty());
}

#[tokio::test]
async fn the_process_creates_a_zaak_or_takes_the_refusal_path() {
    let zrc = MockService::start().await;
    let zaak = format!("{}zaken/9", zrc.url());
    zrc.post("zaken")
        .json_body(json!({"omschrijving": "ok"}))
        .respond(201, json!({"url": zaak, "identificatie": "ZAAK-9"}))
        .await;
    zrc.post("zaken")
        .json_body(json!({"omschrijving": "refused"}))
        .respond(400, json!({"detail": "not today"}))
        .await;
    zrc.get("zaken/9")
        .respond_json(json!({"url": zaak, "status": "https://zrc.example/statussen/1"}))
        .await;

    let engine = TestEngine::builder()
        .bpmn_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/create_zaak.bpmn"
        ))
        .mapping(
            TaskMapping::new("create-zaak", "units_outside::CreateZaak").service("zrc", "zaken"),
        )
        .mapping(
            TaskMapping::new("zaak-status", "units_outside::zaak_status").service("zrc", "zaken"),
        )
        .service("zaken", zaken(&zrc))
        .start()
        .await
        .expect("the test engine");
    let vars = |omschrijving: &str| {
        variables! { "bptlAppId": APP, "zaaktype": "z", "omschrijving": omschrijving }
    };
    let created = engine.start("create-zaak", vars("ok")).expect("started");
    let refused = engine
        .start("create-zaak", vars("refused"))
        .expect("started");
    engine
        .wait_until_ended(&[&created, &refused])
        .await
        .expect("both ended");

    let history = engine.history_variables(&created).expect("history");
    assert_eq!(history.get("identificatie"), Some(&Value::from("ZAAK-9")));
    assert_eq!(
        history.get("status"),
        Some(&Value::from("https://zrc.example/statussen/1"))
    );
    let history = engine.history_variables(&refused).expect("history");
    assert_eq!(history.get("refusal"), Some(&Value::from("not today")));
    assert_eq!(history.get("identificatie"), None);
    assert!(engine.incidents().is_empty());

    let stats = engine.shutdown().await;
    assert_eq!((stats.completed, stats.bpmn_errors), (2, 1), "{stats:?}");
}

//! Service clients over real TLS (a private CA made with rcgen, an axum app over tokio-rustls):
//! a custom CA passes, a wrong or missing one fails clearly, mutual TLS with and without a
//! client certificate, and the configuration's TLS problems name the key and the file.
#![cfg(feature = "tls")]

mod tls_support;

use std::path::Path;

use axum::Router;
use axum::routing::get;
use bptl_credentials::{CredentialStore, CredentialsError, ServicesConfig};
use tls_support::{Ca, PemDir};

const APP: &str = "https://app.example";

fn service_toml(base: &str, extra: &str) -> String {
    format!("[services.secure]\napi_root = \"{base}/api/\"\napi_type = \"orc\"\n{extra}\n")
}

fn store(
    toml_text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CredentialStore, Vec<String>> {
    let config: ServicesConfig = toml::from_str(toml_text).expect("valid TOML");
    CredentialStore::from_config_with_env(config, env)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect())
}

fn app() -> Router {
    Router::new().route("/api/ping", get(|| async { r#"{"pong":true}"# }))
}

async fn ping(store: &CredentialStore) -> Result<serde_json::Value, CredentialsError> {
    store.client(APP, "secure", None).await?.get("ping").await
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test]
async fn a_server_signed_by_the_configured_ca_is_trusted_and_others_are_not() {
    let ca = Ca::new("bptl test CA");
    let other = Ca::new("some other CA");
    let dir = PemDir::new("service-ca");
    let ca_file = dir.write("ca.pem", &ca.cert_pem());
    let other_file = dir.write("other.pem", &other.cert_pem());
    let (addr, _) = tls_support::serve(tls_support::server_config(&ca.server(), None), app()).await;
    let base = format!("https://localhost:{}", addr.port());

    let trusted = store(
        &service_toml(&base, &format!("ca_file = {:?}", path(&ca_file))),
        &|_| None,
    )
    .expect("store");
    let answer = ping(&trusted).await.expect("the custom CA is trusted");
    assert_eq!(answer, serde_json::json!({"pong": true}));

    for (label, extra) in [
        ("another CA", format!("ca_file = {:?}", path(&other_file))),
        ("the system's roots only", String::new()),
    ] {
        let untrusted = store(&service_toml(&base, &extra), &|_| None).expect("store");
        let error = ping(&untrusted).await.expect_err(label).to_string();
        assert!(
            error.contains("invalid peer certificate") && error.contains("UnknownIssuer"),
            "{label}: {error}"
        );
        assert!(
            error.contains("set ca_file to that CA's certificate"),
            "{label}: the message says what to do: {error}"
        );
    }
}

#[tokio::test]
async fn mutual_tls_accepts_the_right_client_certificate_and_refuses_none_or_a_foreign_one() {
    let ca = Ca::new("bptl test CA");
    let clients_ca = Ca::new("client CA");
    let foreign_ca = Ca::new("foreign client CA");
    let dir = PemDir::new("service-mtls");
    let ca_file = dir.write("ca.pem", &ca.cert_pem());
    let good = clients_ca.client("bptl-worker");
    let good_cert = dir.write("worker.crt", &good.cert_pem);
    let good_key = dir.write("worker.key", &good.key_pem);
    let foreign = foreign_ca.client("intruder");
    let foreign_cert = dir.write("intruder.crt", &foreign.cert_pem);
    let (addr, refusals) = tls_support::serve(
        tls_support::server_config(&ca.server(), Some(&clients_ca)),
        app(),
    )
    .await;
    let base = format!("https://localhost:{}", addr.port());
    let ca_line = format!("ca_file = {:?}", path(&ca_file));

    // The key as a file secret.
    let with_cert = store(
        &service_toml(
            &base,
            &format!(
                "{ca_line}\nclient_cert = {:?}\nclient_key = {{ file = {:?} }}",
                path(&good_cert),
                path(&good_key)
            ),
        ),
        &|_| None,
    )
    .expect("store");
    assert_eq!(
        ping(&with_cert)
            .await
            .expect("the right client certificate"),
        serde_json::json!({"pong": true})
    );
    // The key from the environment works the same.
    let key_pem = good.key_pem.clone();
    let from_env = store(
        &service_toml(
            &base,
            &format!(
                "{ca_line}\nclient_cert = {:?}\nclient_key = {{ env = \"WORKER_KEY\" }}",
                path(&good_cert)
            ),
        ),
        &move |name| (name == "WORKER_KEY").then(|| key_pem.clone()),
    )
    .expect("store");
    ping(&from_env).await.expect("the key from the environment");
    assert!(refusals.lock().unwrap().is_empty(), "{:?}", refusals.lock());

    let without = store(&service_toml(&base, &ca_line), &|_| None).expect("store");
    let error = ping(&without)
        .await
        .expect_err("no client certificate")
        .to_string();
    assert!(
        error.contains("CertificateRequired") && error.contains("set client_cert and client_key"),
        "{error}"
    );

    // The foreign certificate's key: a pair that belongs together, from a CA the server does
    // not know.
    let foreign_key = dir.write("intruder.key", &foreign.key_pem);
    let intruder = store(
        &service_toml(
            &base,
            &format!(
                "{ca_line}\nclient_cert = {:?}\nclient_key = {{ file = {:?} }}",
                path(&foreign_cert),
                path(&foreign_key)
            ),
        ),
        &|_| None,
    )
    .expect("store");
    let error = ping(&intruder)
        .await
        .expect_err("a foreign client certificate")
        .to_string();
    assert!(
        error.contains("UnknownCA") || error.contains("BadCertificate"),
        "{error}"
    );

    let seen = refusals.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "the server refused both handshakes: {seen:?}"
    );
    assert!(seen[0].contains("peer sent no certificates"), "{seen:?}");
    assert!(seen[1].contains("UnknownIssuer"), "{seen:?}");
}

#[test]
fn tls_problems_name_the_key_and_the_file_and_never_show_the_key() {
    let ca = Ca::new("bptl test CA");
    let dir = PemDir::new("service-problems");
    let client = ca.client("bptl-worker");
    let other = ca.client("someone-else");
    let cert = dir.write("worker.crt", &client.cert_pem);
    let not_pem = dir.write("notes.txt", "just some text\n");
    let missing = dir.path.join("missing.pem");
    let base = "https://zaken.example";
    let cases: Vec<(String, &str, String)> = vec![
        (
            format!("ca_file = {:?}", path(&missing)),
            "services.secure.ca_file: cannot read the CA bundle",
            path(&missing),
        ),
        (
            format!("ca_file = {:?}", path(&not_pem)),
            "services.secure.ca_file: the CA bundle",
            "is not a PEM certificate file".to_owned(),
        ),
        (
            format!("client_cert = {:?}", path(&cert)),
            "services.secure.client_key: client_cert is set but client_key is not",
            String::new(),
        ),
        (
            format!("client_key = {:?}", client.key_pem),
            "services.secure.client_cert: client_key is set but client_cert is not",
            String::new(),
        ),
        (
            format!(
                "client_cert = {:?}\nclient_key = {{ file = {:?} }}",
                path(&not_pem),
                path(&not_pem)
            ),
            "services.secure.client_cert: the client certificate",
            path(&not_pem),
        ),
        (
            format!(
                "client_cert = {:?}\nclient_key = {{ file = {:?} }}",
                path(&cert),
                path(&not_pem)
            ),
            "services.secure.client_key: the file",
            "is not a PEM private key".to_owned(),
        ),
        (
            format!(
                "client_cert = {:?}\nclient_key = {{ env = \"OTHER_KEY\" }}",
                path(&cert)
            ),
            "services.secure.client_key: the private key in the environment variable OTHER_KEY \
             does not belong to the client certificate",
            path(&cert),
        ),
    ];
    let other_key = other.key_pem.clone();
    let env = move |name: &str| (name == "OTHER_KEY").then(|| other_key.clone());
    for (extra, start, detail) in cases {
        let problems = store(&service_toml(base, &extra), &env).expect_err(&extra);
        let text = problems.join("\n");
        assert!(text.starts_with(start), "{extra}:\n{text}");
        assert!(text.contains(&detail), "{extra}:\n{text}");
        for key in [&client.key_pem, &other.key_pem] {
            let body = key.lines().nth(1).expect("a key line");
            assert!(!text.contains(body), "a key in the message: {text}");
        }
    }

    // A valid configuration's Debug names the files, never the key.
    let good_key = dir.write("worker.key", &client.key_pem);
    let config = service_toml(
        base,
        &format!(
            "client_cert = {:?}\nclient_key = {{ file = {:?} }}",
            path(&cert),
            path(&good_key)
        ),
    );
    let store = store(&config, &|_| None).expect("store");
    let debug = format!("{:?}", store.service("secure").expect("the service"));
    assert!(debug.contains("worker.crt"), "{debug}");
    let body = client.key_pem.lines().nth(1).expect("a key line");
    assert!(!debug.contains(body), "{debug}");
}

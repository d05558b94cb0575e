//! The engine client over real TLS: the dev engine behind a TLS terminator (a private CA made
//! with rcgen, tokio-rustls) that requires a client certificate. `[engine] ca_file`,
//! `client_cert` and `client_key` are read from the configuration as `worker run` reads them.
#![cfg(feature = "tls")]

#[path = "../bptl-credentials/tests/tls_support/mod.rs"]
mod tls_support;

use bptl::config::Config;
use bptl_dev_engine::DevEngine;
use tls_support::{Ca, PemDir};

fn config(url: &str, tls: &str) -> Config {
    let text = format!(
        "[engine]\nurl = \"{url}\"\n{tls}\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n"
    );
    Config::from_toml_str(&text, &|_| None).expect("a valid configuration")
}

#[tokio::test]
async fn the_engine_over_mutual_tls_with_its_own_ca() {
    let engine = DevEngine::start().await.expect("the dev engine");
    let ca = Ca::new("engine CA");
    let clients = Ca::new("worker client CA");
    let dir = PemDir::new("engine");
    let ca_file = dir.write("engine-ca.pem", &ca.cert_pem());
    let worker = clients.client("bptl-worker");
    let cert = dir.write("worker.crt", &worker.cert_pem);
    let key = dir.write("worker.key", &worker.key_pem);
    let upstream = format!("127.0.0.1:{}", engine.port())
        .parse()
        .expect("address");
    let (front, refusals) = tls_support::terminate(
        tls_support::server_config(&ca.server(), Some(&clients)),
        upstream,
    )
    .await;
    let url = format!("https://localhost:{}/engine-rest", front.port());
    let ca_line = format!("ca_file = {:?}", ca_file.display().to_string());

    let full = config(
        &url,
        &format!(
            "{ca_line}\nclient_cert = {:?}\nclient_key = {{ file = {:?} }}",
            cert.display().to_string(),
            key.display().to_string()
        ),
    );
    let client = full.engine_client().expect("the engine client");
    let version = client.version().await.expect("the engine over mutual TLS");
    assert!(!version.is_empty());
    assert!(refusals.lock().unwrap().is_empty(), "{:?}", refusals.lock());

    // The system's roots do not know the engine's CA.
    let error = config(&url, "")
        .engine_client()
        .expect("a client")
        .version()
        .await
        .expect_err("an unknown CA")
        .to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(error.contains("set [engine] ca_file"), "{error}");

    // No client certificate: the terminator refuses the handshake.
    let error = config(&url, &ca_line)
        .engine_client()
        .expect("a client")
        .version()
        .await
        .expect_err("no client certificate")
        .to_string();
    assert!(error.contains("CertificateRequired"), "{error}");
    assert!(
        error.contains("set [engine] client_cert and client_key"),
        "{error}"
    );
    let seen = refusals.lock().unwrap().clone();
    assert!(
        seen.iter().any(|r| r.contains("peer sent no certificates")),
        "{seen:?}"
    );
}

#[test]
fn engine_tls_problems_name_the_key_and_the_file() {
    let dir = PemDir::new("engine-problems");
    let missing = dir.path.join("missing-ca.pem");
    let error = config(
        "https://engine.example/engine-rest",
        &format!("ca_file = {:?}", missing.display().to_string()),
    )
    .engine_client()
    .expect_err("a missing CA file");
    assert_eq!(error.key, "engine.ca_file");
    assert!(error.to_string().contains("missing-ca.pem"), "{error}");

    let ca = Ca::new("engine CA");
    let worker = ca.client("bptl-worker");
    let cert = dir.write("worker.crt", &worker.cert_pem);
    let error = config(
        "https://engine.example/engine-rest",
        &format!(
            "client_cert = {:?}\nclient_key = {{ env = \"BPTL_TEST_UNSET_KEY\" }}",
            cert.display().to_string()
        ),
    )
    .engine_client()
    .expect_err("an unset key variable");
    assert_eq!(error.key, "engine.client_key");
    assert!(error.message.contains("BPTL_TEST_UNSET_KEY"), "{error}");
}

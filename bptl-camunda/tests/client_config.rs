//! Building the client: URLs, authentication, and secrets that never show.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bptl_camunda::{CamundaClient, CamundaError, EngineAuth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn the_base_url_is_normalised() {
    for url in [
        "http://127.0.0.1:8080/engine-rest",
        "http://127.0.0.1:8080/engine-rest/",
        " http://127.0.0.1:8080/engine-rest// ",
    ] {
        let client = CamundaClient::new(url).unwrap();
        assert_eq!(
            client.base_url(),
            "http://127.0.0.1:8080/engine-rest",
            "{url}"
        );
    }
    assert_eq!(
        CamundaClient::new("http://engine:8080/")
            .unwrap()
            .base_url(),
        "http://engine:8080"
    );
}

#[test]
fn bad_urls_are_clear_errors() {
    let err = CamundaClient::new("not a url").unwrap_err();
    assert!(matches!(err, CamundaError::Config(_)));
    assert!(
        err.to_string()
            .contains("'not a url' is not a valid engine URL"),
        "{err}"
    );
    let err = CamundaClient::new("ftp://engine/engine-rest").unwrap_err();
    assert!(err.to_string().contains("must be http or https"), "{err}");
    let err = CamundaClient::new("http://demo:secret@engine/engine-rest").unwrap_err();
    assert!(err.to_string().contains("use basic_auth"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn https_without_the_tls_feature_says_which_feature_to_enable() {
    let err = CamundaClient::new("https://engine.example/engine-rest").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("https"), "{text}");
    assert!(
        text.contains("the `tls` feature of bptl (or bptl-camunda)"),
        "{text}"
    );
}

#[cfg(feature = "tls")]
#[test]
fn https_is_accepted_by_default() {
    let client = CamundaClient::new("https://engine.example/engine-rest").unwrap();
    assert_eq!(client.base_url(), "https://engine.example/engine-rest");
}

#[test]
fn debug_output_never_shows_secrets() {
    let basic = CamundaClient::builder("http://engine/engine-rest")
        .basic_auth("demo", "pw-basic-123")
        .build()
        .unwrap();
    let bearer = CamundaClient::builder("http://engine/engine-rest")
        .bearer_token("tok-bearer-456")
        .build()
        .unwrap();
    let headers = CamundaClient::builder("http://engine/engine-rest")
        .header("X-Api-Key", "key-789")
        .header("X-Other", "other-000")
        .build()
        .unwrap();
    for (client, secret) in [
        (&basic, "pw-basic-123"),
        (&bearer, "tok-bearer-456"),
        (&headers, "key-789"),
        (&headers, "other-000"),
    ] {
        let debug = format!("{client:?} {client:#?}");
        assert!(!debug.contains(secret), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
    }
    assert!(
        format!("{basic:?}").contains("demo"),
        "the user name is not secret"
    );
    assert!(format!("{headers:?}").contains("X-Api-Key"));
    let auth = EngineAuth::Bearer {
        token: "tok-bearer-456".into(),
    };
    assert!(!format!("{auth:?}").contains("tok-bearer-456"));
}

#[test]
fn invalid_header_names_and_values_are_refused_without_showing_the_value() {
    let err = CamundaClient::builder("http://engine/engine-rest")
        .header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("'bad header' is not a valid HTTP header name")
    );
    let err = CamundaClient::builder("http://engine/engine-rest")
        .header("X-Key", "line\nbreak-secret")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("break-secret"), "{err}");
}

/// A port on 127.0.0.1 that nobody listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Accepts one connection, answers `GET /version` and returns the request head it received.
/// (The dev engine does not check credentials, so this listener only records what was sent.)
async fn capture_request_head(client: CamundaClient, port: u16) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0_u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let body = br#"{"version":"7.24.0"}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        String::from_utf8_lossy(&head).to_lowercase()
    });
    assert_eq!(client.version().await.unwrap(), "7.24.0");
    server.await.unwrap()
}

#[tokio::test]
async fn engine_credentials_are_sent_with_every_call() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/engine-rest");

    let client = CamundaClient::builder(&url)
        .basic_auth("demo", "s3cret")
        .build()
        .unwrap();
    let head = capture_request_head(client, port).await;
    assert!(
        head.starts_with("get /engine-rest/version http/1.1"),
        "{head}"
    );
    // base64("demo:s3cret")
    assert!(
        head.contains("authorization: basic zgvtbzpzm2nyzxq="),
        "{head}"
    );
    assert!(head.contains("accept: application/json"), "{head}");

    let client = CamundaClient::builder(&url)
        .bearer_token("tok")
        .build()
        .unwrap();
    let head = capture_request_head(client, port).await;
    assert!(head.contains("authorization: bearer tok"), "{head}");

    let client = CamundaClient::builder(&url)
        .header("X-Api-Key", "k1")
        .build()
        .unwrap();
    let head = capture_request_head(client, port).await;
    assert!(head.contains("x-api-key: k1"), "{head}");
    assert!(!head.contains("authorization"), "{head}");
}

#[tokio::test]
async fn errors_never_contain_credentials() {
    let port = closed_port().await;
    let client = CamundaClient::builder(format!("http://127.0.0.1:{port}/engine-rest"))
        .basic_auth("demo", "pw-in-error-123")
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = client.version().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let mut text = format!("{err} {err:?}");
    let engine = bptl_core::EngineError::from(err);
    text.push_str(&format!(" {engine} {engine:?}"));
    assert!(!text.contains("pw-in-error-123"), "{text}");
    assert!(!text.contains("ZGVtbzpwdy1pbi1lcnJvci0xMjM"), "{text}");
}

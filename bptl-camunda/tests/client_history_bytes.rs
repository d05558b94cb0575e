//! History lists Bytes variables without their value (Camunda 7.24 and Operaton answer
//! `"value": null` in `GET /history/variable-instance`, where the runtime API sends base64):
//! the client reads their content from `GET /history/variable-instance/{id}/data`. Tested
//! against a canned server that answers as those engines do.
#![allow(clippy::unwrap_used)]

use bptl_camunda::CamundaClient;
use bptl_core::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serve canned answers as the real engines do; each connection gets one answer.
async fn canned_engine() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let (content_type, body): (&str, Vec<u8>) =
                    if path.starts_with("/engine-rest/history/variable-instance?") {
                        ("application/json", serde_json::json!([
                        {"type": "Bytes", "value": null, "valueInfo": {}, "id": "v-bytes",
                         "name": "raw", "processInstanceId": "pi", "activityInstanceId": "pi"},
                        {"type": "String", "value": "text", "valueInfo": {}, "id": "v-text",
                         "name": "text", "processInstanceId": "pi", "activityInstanceId": "pi"},
                        {"type": "Null", "value": null, "valueInfo": {}, "id": "v-null",
                         "name": "nothing", "processInstanceId": "pi", "activityInstanceId": "pi"}
                    ])
                    .to_string()
                    .into_bytes())
                    } else if path == "/engine-rest/history/variable-instance/v-bytes/data" {
                        ("application/octet-stream", vec![0, 1, 2, 254, 255])
                    } else {
                        (
                            "application/json",
                            br#"{"type":"RestException","message":"no"}"#.to_vec(),
                        )
                    };
                let status = if content_type == "application/json" && body.starts_with(b"{") {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
                socket.write_all(&body).await.unwrap();
                socket.shutdown().await.ok();
            });
        }
    });
    format!("http://127.0.0.1:{port}/engine-rest")
}

#[tokio::test]
async fn historic_bytes_are_read_from_their_data() {
    let client = CamundaClient::new(canned_engine().await).unwrap();
    let vars = client.get_historic_variables("pi").await.unwrap();
    assert_eq!(
        vars.get("raw"),
        Some(&Value::Bytes(vec![0, 1, 2, 254, 255]))
    );
    assert_eq!(vars.get("text"), Some(&Value::from("text")));
    assert_eq!(vars.get("nothing"), Some(&Value::Null));
    assert_eq!(
        client.get_historic_variable_data("v-bytes").await.unwrap(),
        [0, 1, 2, 254, 255]
    );
}

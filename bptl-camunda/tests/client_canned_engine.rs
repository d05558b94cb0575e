//! Answers the real engines give where our first reading was wrong, replayed by a canned
//! server (Camunda 7.24 and Operaton 1.0 answer so; `tests/real_engine/` checks it against
//! them):
//!
//! * history lists Bytes variables without their value (`"value": null` in
//!   `GET /history/variable-instance`, where the runtime API sends base64): the client reads
//!   their content from `GET /history/variable-instance/{id}/data`;
//! * a File variable of the task's own scope is not a process instance variable
//!   (`GET /process-instance/{id}/variables/{name}/data` answers 404): it is downloaded from
//!   `GET /execution/{executionId}/localVariables/{name}/data`.
#![allow(clippy::unwrap_used)]

use bptl_camunda::{CamundaClient, ExternalTask};
use bptl_core::{FileValue, Value};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One canned answer: the request path (with query), status, content type and body.
type Route = (&'static str, u16, &'static str, Vec<u8>);

/// Serve `routes`; any other path answers 404 with Camunda's error body.
async fn canned_engine(routes: Vec<Route>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = std::sync::Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let routes = std::sync::Arc::clone(&routes);
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
                let path = head.split_whitespace().nth(1).unwrap_or_default();
                let not_found = (
                    "",
                    404,
                    "application/json",
                    br#"{"type":"InvalidRequestException","message":"does not exist","code":null}"#
                        .to_vec(),
                );
                let (_, status, content_type, body) =
                    routes.iter().find(|r| r.0 == path).unwrap_or(&not_found);
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
                socket.write_all(body).await.unwrap();
                socket.shutdown().await.ok();
            });
        }
    });
    format!("http://127.0.0.1:{port}/engine-rest")
}

fn json_body(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[tokio::test]
async fn historic_bytes_are_read_from_their_data() {
    let history = json!([
        {"type": "Bytes", "value": null, "valueInfo": {}, "id": "v-bytes",
         "name": "raw", "processInstanceId": "pi", "activityInstanceId": "pi"},
        {"type": "String", "value": "text", "valueInfo": {}, "id": "v-text",
         "name": "text", "processInstanceId": "pi", "activityInstanceId": "pi"},
        {"type": "Null", "value": null, "valueInfo": {}, "id": "v-null",
         "name": "nothing", "processInstanceId": "pi", "activityInstanceId": "pi"}
    ]);
    let url = canned_engine(vec![
        (
            "/engine-rest/history/variable-instance?processInstanceId=pi&deserializeValues=false",
            200,
            "application/json",
            json_body(history),
        ),
        (
            "/engine-rest/history/variable-instance/v-bytes/data",
            200,
            "application/octet-stream",
            vec![0, 1, 2, 254, 255],
        ),
    ])
    .await;
    let client = CamundaClient::new(url).unwrap();
    let vars = client.get_historic_variables("pi").await.unwrap();
    assert_eq!(
        vars.get("raw"),
        Some(&Value::Bytes(vec![0, 1, 2, 254, 255]))
    );
    assert_eq!(vars.get("text"), Some(&Value::from("text")));
    assert_eq!(vars.get("nothing"), Some(&Value::Null));
}

fn task(execution: &str) -> ExternalTask {
    ExternalTask::from_json(json!({
        "id": "t1", "topicName": "files", "processInstanceId": "pi", "executionId": execution,
        "variables": {
            "local": {"type": "File", "value": null,
                      "valueInfo": {"filename": "a.txt", "mimeType": "text/plain"}},
            "global": {"type": "File", "value": null, "valueInfo": {"filename": "b.txt"}}
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn files_of_the_tasks_own_scope_are_downloaded_from_its_execution() {
    let url = canned_engine(vec![
        (
            "/engine-rest/execution/ex/localVariables/local/data",
            200,
            "text/plain",
            b"local content".to_vec(),
        ),
        (
            "/engine-rest/process-instance/pi/variables/global/data",
            200,
            "application/octet-stream",
            b"global content".to_vec(),
        ),
    ])
    .await;
    let client = CamundaClient::new(url).unwrap();
    let scoped = task("ex");
    assert_eq!(
        scoped.download_file(&client, "local").await.unwrap(),
        FileValue {
            filename: "a.txt".into(),
            mime_type: Some("text/plain".into()),
            encoding: None,
            content: Some(b"local content".to_vec()),
        }
    );
    // Not local to the task: from the process instance.
    let global = scoped.download_file(&client, "global").await.unwrap();
    assert_eq!(global.content.as_deref(), Some(&b"global content"[..]));
    // A task running in the process instance's own execution asks the process instance.
    let flat = task("pi");
    let global = flat.download_file(&client, "global").await.unwrap();
    assert_eq!(global.content.as_deref(), Some(&b"global content"[..]));
    assert!(
        flat.download_file(&client, "local")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

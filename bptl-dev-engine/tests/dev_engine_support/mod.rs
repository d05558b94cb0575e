//! Helpers shared by the dev engine integration tests: a started engine and a thin HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use bptl_dev_engine::DevEngine;
use serde_json::{Value, json};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// A dev engine with the `double` and `two_steps` fixtures deployed, and an HTTP client.
pub struct Api {
    pub engine: DevEngine,
    pub http: reqwest::Client,
    pub base: String,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// Asserts an error answer in Camunda's shape and returns its message.
    pub fn error(&self, status: u16, kind: &str) -> String {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.text
        );
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        assert_eq!(self.body["type"], kind, "body: {}", self.text);
        assert!(
            self.body.get("code").is_some(),
            "no code field: {}",
            self.text
        );
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Api {
    pub async fn new() -> Api {
        Api::with(DevEngine::builder()).await
    }

    /// [`Api::new`] with an engine of this builder.
    pub async fn with(builder: bptl_dev_engine::DevEngineBuilder) -> Api {
        let engine = builder.start().await.expect("dev engine starts");
        engine
            .deploy_file(fixture("double.bpmn"))
            .expect("double deploys");
        engine
            .deploy_file(fixture("two_steps.bpmn"))
            .expect("two_steps deploys");
        // reqwest needs a TLS crypto provider before its first client.
        bptl_camunda::install_crypto_provider();
        let base = engine.url();
        Api {
            engine,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !text.is_empty() && status != 204 && content_type.as_deref() != Some("text/plain") {
            assert_eq!(
                content_type.as_deref(),
                Some("application/json"),
                "JSON answers carry exactly application/json"
            );
        }
        Answer {
            status,
            content_type,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.put(format!("{}{path}", self.base)).json(&body))
            .await
    }

    /// Starts an instance over HTTP; returns its id.
    pub async fn start(&self, key: &str, variables: Value) -> String {
        let answer = self
            .post(
                &format!("/process-definition/key/{key}/start"),
                json!({"variables": variables}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body["id"].as_str().unwrap().to_string()
    }

    /// fetchAndLock of one topic without long polling.
    pub async fn fetch(&self, worker: &str, topic: &str, max: u32, lock_ms: u64) -> Vec<Value> {
        let answer = self
            .post(
                "/external-task/fetchAndLock",
                json!({"workerId": worker, "maxTasks": max,
                       "topics": [{"topicName": topic, "lockDuration": lock_ms}]}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body.as_array().unwrap().clone()
    }

    /// Fetches exactly one task of a topic; returns its id.
    pub async fn fetch_one(&self, worker: &str, topic: &str, lock_ms: u64) -> String {
        let tasks = self.fetch(worker, topic, 1, lock_ms).await;
        assert_eq!(tasks.len(), 1, "expected one task of {topic}: {tasks:?}");
        tasks[0]["id"].as_str().unwrap().to_string()
    }

    pub async fn history_state(&self, instance: &str) -> String {
        let answer = self
            .get(&format!("/history/process-instance/{instance}"))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body["state"].as_str().unwrap().to_string()
    }

    pub async fn history_vars(&self, instance: &str) -> Vec<Value> {
        let answer = self
            .send(
                self.http
                    .get(format!("{}/history/variable-instance", self.base))
                    .query(&[("processInstanceId", instance)]),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body.as_array().unwrap().clone()
    }

    /// The history variable `name` of an instance as `(type, value)`.
    pub async fn history_var(&self, instance: &str, name: &str) -> Option<(String, Value)> {
        self.history_vars(instance)
            .await
            .into_iter()
            .find(|v| v["name"] == name)
            .map(|v| (v["type"].as_str().unwrap().to_string(), v["value"].clone()))
    }
}

/// A multipart/form-data body built by hand: `(field name, file name, content)`.
pub fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "----bptl-dev-engine-test-boundary";
    let mut body = String::new();
    for (name, file, content) in parts {
        body.push_str(&format!("--{boundary}\r\n"));
        match file {
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )),
        }
        body.push_str(content);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

//! The worker binary as an operator runs it: it lists the units of both units crates, and runs
//! the bptl-core-only units against the dev engine over real HTTP.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bptl::dev_engine::{DevEngine, InstanceState};
use serde_json::json;

const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="units-outside">
  <bpmn:process id="greet-and-count" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="greet" />
    <bpmn:serviceTask id="greet" camunda:type="external" camunda:topic="greet" />
    <bpmn:sequenceFlow id="f2" sourceRef="greet" targetRef="count" />
    <bpmn:serviceTask id="count" camunda:type="external" camunda:topic="count-words" />
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"#;

fn worker(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    cmd.args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A directory of its own for one test, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "units-outside-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        Self(path)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn output_of(mut child: Child) -> String {
    let _ = child.kill();
    child
        .wait_with_output()
        .map(|o| text(&o))
        .unwrap_or_default()
}

#[test]
fn lists_the_units_of_both_crates() {
    let output = worker(&["registry"]).output().expect("the worker runs");
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    for listed in [
        "core_units::CountWords\n    Count the words of a text.",
        "core_units::greet\n    Greet someone.",
        "units_outside::CreateZaak\n    Create a zaak.",
        "units_outside::zaak_status\n    Read the status of a zaak.",
    ] {
        assert!(out.contains(listed), "{listed:?} missing from:\n{out}");
    }
    assert!(
        !out.contains("bptl_dummy"),
        "no demo units by default:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_the_function_and_the_struct_unit_against_the_dev_engine() {
    let engine = DevEngine::start().await.expect("the dev engine starts");
    engine
        .deploy_str("greet-and-count.bpmn", BPMN)
        .expect("deploy");
    let instance = engine
        .start_process(
            "greet-and-count",
            json!({
                "name": {"value": "Ada", "type": "String"},
                "text": {"value": "three small words", "type": "String"},
            }),
            None,
        )
        .expect("start an instance");
    let dir = TempDir::new("run");
    let config = dir.write(
        "worker.toml",
        &format!(
            "[engine]\nurl = \"{}\"\nasync_response_timeout = \"1s\"\n\n[store]\nenabled = false\n\n\
             [[task_mappings]]\ntopic = \"greet\"\ncallback = \"core_units::greet\"\n\n\
             [[task_mappings]]\ntopic = \"count-words\"\ncallback = \"core_units::CountWords\"\n",
            engine.url()
        ),
    );
    let mut child = worker(&["run", "--config", path(&config)])
        .spawn()
        .expect("the worker starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.instance_state(&instance) != Some(InstanceState::Completed) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the worker exited early ({status}):\n{}", output_of(child));
        }
        if Instant::now() > deadline {
            panic!("the instance did not complete:\n{}", output_of(child));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let vars = engine.history_variables(&instance).expect("history");
    assert_eq!(vars["greeting"]["value"], "Hello, Ada!", "{vars}");
    assert_eq!(vars["words"]["value"], 3, "{vars}");

    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    engine.shutdown().await;
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

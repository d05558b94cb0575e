//! The command-line interface as a user runs it: a real child process (this test binary
//! re-executed into `bptl::cli::run_cli`), its exit codes and output. This file is the
//! harness; the tests, by command: `help` (`--help`, `registry`), `check` (every problem
//! listed, `run` refusing to start), `run` (a full run whose every output is searched for
//! secrets, metrics, JSON logs), `dev_engine` (the standalone dev engine), `fetch_and_lock`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bptl_dev_engine::{DevEngine, InstanceState};
use serde_json::json;

#[path = "../support/store_support.rs"]
mod store_support;

use store_support::TempDir;

mod check;
mod dev_engine;
mod fetch_and_lock;
mod help;
mod run;

const CHILD_ARGS: &str = "BPTL_TEST_CLI_ARGS";

/// Not a test: the child process. Runs the CLI with the arguments in `BPTL_TEST_CLI_ARGS`.
#[test]
#[ignore = "not a test: the CLI child process the other tests start"]
fn cli_child() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("arguments as a JSON list");
    let code = bptl::cli::run_cli_code(std::iter::once("worker".to_owned()).chain(args));
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code));
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        "cli_child",
        "--ignored",
        "--nocapture",
        "--quiet",
    ])
    .env(CHILD_ARGS, serde_json::to_string(args).expect("json"))
    .env("RUST_LOG", "info")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

fn run_cli(args: &[&str]) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command(args).output().expect("child runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code().unwrap_or(-1), text)
}

/// Write `text` to `name` in `dir`.
fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.0.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `check --config` on a `worker.toml` holding `text`: its exit code and output.
fn check(text: &str) -> (i32, String) {
    let dir = TempDir::new();
    let config = write(&dir, "worker.toml", text);
    run_cli(&["check", "--config", arg(&config)])
}

const FETCH_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="bptl-tests">
  <bpmn:process id="fetch" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Fetch" />
    <bpmn:serviceTask id="Fetch" camunda:type="external" camunda:topic="fetch" />
    <bpmn:sequenceFlow id="F2" sourceRef="Fetch" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>"#;

/// A dev engine with the `double` process deployed and `instances` of it started (`amount` 1,
/// 2, ...); their ids in order.
async fn double_engine(instances: i64) -> (DevEngine, Vec<String>) {
    let engine = DevEngine::start().await.expect("engine");
    engine
        .deploy_str(
            "double.bpmn",
            &FETCH_BPMN.replace("\"fetch\"", "\"double\""),
        )
        .expect("deploy");
    let ids = (1..=instances)
        .map(|n| {
            engine
                .start_process(
                    "double",
                    json!({"amount": {"value": n, "type": "Integer"}}),
                    None,
                )
                .expect("start")
        })
        .collect();
    (engine, ids)
}

fn read_all(child: &mut Child) -> String {
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut out);
    }
    out
}

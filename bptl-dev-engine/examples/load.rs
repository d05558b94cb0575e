//! A load generator for the dev engine alone: how many external tasks per second it fetches,
//! locks and completes over real HTTP, with a given number of open tasks.
//!
//! ```text
//! cargo run --release -p bptl-dev-engine --example load -- --open 1000,15000 --rounds 3
//! ```
//!
//! Each measurement starts a fresh dev engine in this process, deploys a one-task process,
//! starts `--finished` instances and runs them to their end (history only), starts `--held`
//! instances whose tasks another worker fetches and keeps locked, starts `--open`
//! instances (each with one `Integer` variable, over HTTP), then only fetches (`maxTasks`
//! `--max-tasks`, default 64) and completes (`--in-flight` completions at a time, default 64)
//! until `--measure` tasks (default 1 000, at most `--open`) are done, and prints the rate of
//! starts and of fetched-and-completed tasks. Several `--open` values are measured in
//! alternating rounds, so that they share the machine's load; the load average is printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl_dev_engine::DevEngine;
use serde_json::{Value, json};
use tokio::task::JoinSet;

const BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="Definitions_load" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="load" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Work" camunda:type="external" camunda:topic="load">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Work" />
    <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
"#;

#[derive(Debug, Clone)]
struct Options {
    open: Vec<usize>,
    finished: usize,
    held: usize,
    measure: usize,
    max_tasks: usize,
    in_flight: usize,
    rounds: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: load [--open N[,N...]] [--finished N] [--held N] [--measure N] [--max-tasks N] \
         [--in-flight N] [--rounds N]"
    );
    std::process::exit(2)
}

fn number(text: Option<String>) -> usize {
    text.and_then(|t| t.replace('_', "").parse().ok())
        .unwrap_or_else(|| usage())
}

fn options() -> Options {
    let mut o = Options {
        open: vec![15_000],
        finished: 0,
        held: 0,
        measure: 1_000,
        max_tasks: 64,
        in_flight: 64,
        rounds: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--open" => {
                let list = args.next().unwrap_or_else(|| usage());
                o.open = list
                    .split(',')
                    .map(|n| number(Some(n.to_string())))
                    .collect();
            }
            "--finished" => o.finished = number(args.next()),
            "--held" => o.held = number(args.next()),
            "--measure" => o.measure = number(args.next()),
            "--max-tasks" => o.max_tasks = number(args.next()),
            "--in-flight" => o.in_flight = number(args.next()).max(1),
            "--rounds" => o.rounds = number(args.next()).max(1),
            _ => usage(),
        }
    }
    o
}

/// The 1-minute load average, as `/proc/loadavg` has it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

struct Figures {
    starts_per_s: f64,
    tasks_per_s: f64,
    fetches: usize,
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> Value {
    let response = http.post(&url).json(&body).send().await;
    let response = match response {
        Ok(r) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "POST {url}: {status} {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// Starts `n` instances over HTTP, `in_flight` at a time.
async fn start_instances(http: &reqwest::Client, root: &str, n: usize, in_flight: usize) {
    let mut running = JoinSet::new();
    for i in 0..n {
        if running.len() >= in_flight {
            running.join_next().await;
        }
        let http = http.clone();
        let url = format!("{root}/process-definition/key/load/start");
        let body = json!({"variables": {"n": {"value": i, "type": "Integer"}}});
        running.spawn(async move { post(&http, url, body).await });
    }
    while running.join_next().await.is_some() {}
}

/// Fetches and completes until `count` tasks are done; returns the number of fetches.
async fn work(http: &reqwest::Client, root: &str, count: usize, o: &Options) -> usize {
    let mut done = 0;
    let mut fetches = 0;
    let mut running = JoinSet::new();
    while done < count {
        let max = o.max_tasks.min(count - done);
        let tasks = post(
            http,
            format!("{root}/external-task/fetchAndLock"),
            json!({"workerId": "load", "maxTasks": max,
                   "topics": [{"topicName": "load", "lockDuration": 60_000}]}),
        )
        .await;
        fetches += 1;
        let tasks = tasks.as_array().cloned().unwrap_or_default();
        assert!(
            !tasks.is_empty(),
            "the engine ran out of tasks after {done}"
        );
        for task in tasks {
            if running.len() >= o.in_flight {
                running.join_next().await;
            }
            let id = task["id"].as_str().unwrap_or_default().to_string();
            let http = http.clone();
            let url = format!("{root}/external-task/{id}/complete");
            let body = json!({"workerId": "load",
                              "variables": {"done": {"value": true, "type": "Boolean"}}});
            running.spawn(async move { post(&http, url, body).await });
            done += 1;
        }
        // Complete what was fetched before fetching again, as a worker with all slots busy.
        while running.join_next().await.is_some() {}
    }
    fetches
}

async fn measure(open: usize, o: &Options) -> Figures {
    let engine = DevEngine::start().await.expect("the dev engine starts");
    engine.deploy_str("load.bpmn", BPMN).expect("deploys");
    let root = engine.url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("HTTP client");
    if o.finished > 0 {
        start_instances(&http, &root, o.finished, o.in_flight).await;
        work(&http, &root, o.finished, o).await;
    }
    let started = Instant::now();
    start_instances(&http, &root, open, o.in_flight).await;
    let start_time = started.elapsed();
    assert_eq!(
        engine.open_task_count(),
        open,
        "every instance waits at its task"
    );
    let count = o.measure.min(open);
    let begun = Instant::now();
    let fetches = work(&http, &root, count, o).await;
    let work_time = begun.elapsed();
    engine.shutdown().await;
    let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
    Figures {
        starts_per_s: rate(open, start_time),
        tasks_per_s: rate(count, work_time),
        fetches,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let o = options();
    let o = Arc::new(o);
    println!(
        "dev engine load: maxTasks {}, {} completions in flight, {} finished instances before, \
         {} held locked by another worker, {} tasks measured per run",
        o.max_tasks, o.in_flight, o.finished, o.held, o.measure
    );
    for round in 1..=o.rounds {
        for &open in &o.open {
            let before = load_average();
            let f = measure(open, &o).await;
            println!(
                "round {round}: open {open:>6}: {:>7.0} tasks/s fetched+completed ({} fetches), \
                 {:>7.0} starts/s (load average {before} -> {})",
                f.tasks_per_s,
                f.fetches,
                f.starts_per_s,
                load_average()
            );
        }
    }
}

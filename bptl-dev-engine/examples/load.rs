//! A load generator for the dev engine alone: how many external tasks per second it fetches,
//! locks and completes over real HTTP, with a given number of open tasks.
//!
//! ```text
//! cargo run --release -p bptl-dev-engine --example load -- --open 1000,15000 --rounds 3
//! ```
//!
//! Each measurement starts a fresh dev engine in this process, on a runtime of its own
//! (`--engine-threads`, default 2, named `dev-engine`), deploys a one-task process, starts
//! `--finished` instances and runs them to their end (history only), starts `--held` instances
//! whose tasks another worker fetches and keeps locked, starts `--open` instances (each with
//! one `Integer` variable, over HTTP), then only fetches and completes: `--lanes` loops at once
//! (default 4), each fetching up to `--max-tasks` (default 64) and completing them
//! (`--in-flight` at a time, default 64) before it fetches again, until `--measure` tasks
//! (default 10 000, at most `--open`) are done. It prints the rate of starts and of
//! fetched-and-completed tasks, and the CPU time per task of the engine's threads and of the
//! load generator's (`/proc/self/task`, 10 ms ticks): the engine's CPU per task says how many
//! tasks per second one core of it serves. Several `--open` values are measured in
//! alternating rounds, so that they share the machine's load; the load average is printed.
//!
//! The process allocates with jemalloc, as `worker dev-engine` (`examples/worker`) does: on
//! glibc's malloc the engine spends about half as much again per task once its history is at
//! its bound (freeing the oldest instance's allocations).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bptl_dev_engine::DevEngine;
use serde_json::{Value, json};
use tokio::task::JoinSet;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    lanes: usize,
    engine_threads: usize,
    rounds: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: load [--open N[,N...]] [--finished N] [--held N] [--measure N] [--max-tasks N] \
         [--in-flight N] [--lanes N] [--engine-threads N] [--rounds N]"
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
        measure: 10_000,
        max_tasks: 64,
        in_flight: 64,
        lanes: 4,
        engine_threads: 2,
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
            "--lanes" => o.lanes = number(args.next()).max(1),
            "--engine-threads" => o.engine_threads = number(args.next()).max(1),
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
    /// CPU µs per task of the dev engine's threads, and of the load generator's.
    engine_us: f64,
    generator_us: f64,
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

/// Fetches and completes until `count` tasks are done, `--lanes` fetch loops at once (as
/// several workers, or one whose fetches overlap its completions); returns the number of
/// fetches.
async fn work(http: &reqwest::Client, root: &str, count: usize, o: &Options) -> usize {
    let claimed = Arc::new(AtomicUsize::new(0));
    let mut lanes = JoinSet::new();
    for _ in 0..o.lanes {
        let (http, root, claimed, o) = (http.clone(), root.to_owned(), claimed.clone(), o.clone());
        lanes.spawn(async move { lane(&http, &root, count, &claimed, &o).await });
    }
    let mut fetches = 0;
    while let Some(lane) = lanes.join_next().await {
        fetches += lane.expect("a lane ends without panicking");
    }
    fetches
}

/// One fetch loop: fetches up to `--max-tasks` (no more than the measurement still needs) and
/// completes them, `--in-flight` at a time, before it fetches again.
async fn lane(
    http: &reqwest::Client,
    root: &str,
    count: usize,
    claimed: &AtomicUsize,
    o: &Options,
) -> usize {
    let mut fetches = 0;
    let mut running = JoinSet::new();
    loop {
        // Reserve what this fetch may take, so that the lanes together fetch `count`.
        let before = claimed.fetch_add(o.max_tasks, Ordering::Relaxed);
        if before >= count {
            return fetches;
        }
        let wanted = o.max_tasks.min(count - before);
        let tasks = post(
            http,
            format!("{root}/external-task/fetchAndLock"),
            json!({"workerId": "load", "maxTasks": wanted,
                   "topics": [{"topicName": "load", "lockDuration": 60_000}]}),
        )
        .await;
        fetches += 1;
        let tasks = tasks.as_array().cloned().unwrap_or_default();
        assert_eq!(tasks.len(), wanted, "the engine ran out of tasks");
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
        }
        // Complete what was fetched before fetching again, as a worker with all slots busy.
        while running.join_next().await.is_some() {}
    }
}

/// CPU time so far (user + system, 10 ms ticks) of this process's threads: those of the dev
/// engine's runtime (named `dev-engine`), and all the others (the load generator).
fn cpu_times() -> (Duration, Duration) {
    let (mut engine, mut rest) = (0u64, 0u64);
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let ticks = tick(11) + tick(12);
        if head.contains("(dev-engine") {
            engine += ticks;
        } else {
            rest += ticks;
        }
    }
    (
        Duration::from_millis(engine * 10),
        Duration::from_millis(rest * 10),
    )
}

async fn measure(open: usize, o: &Options, engine_rt: &tokio::runtime::Runtime) -> Figures {
    let engine = engine_rt
        .spawn(DevEngine::start())
        .await
        .expect("the dev engine's runtime runs")
        .expect("the dev engine starts");
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
    if o.held > 0 {
        start_instances(&http, &root, o.held, o.in_flight).await;
        let held = post(
            &http,
            format!("{root}/external-task/fetchAndLock"),
            json!({"workerId": "holder", "maxTasks": o.held,
                   "topics": [{"topicName": "load", "lockDuration": 3_600_000}]}),
        )
        .await;
        assert_eq!(
            held.as_array().map(Vec::len),
            Some(o.held),
            "every held task is locked"
        );
    }
    let started = Instant::now();
    start_instances(&http, &root, open, o.in_flight).await;
    let start_time = started.elapsed();
    assert_eq!(
        engine.open_task_count(),
        open + o.held,
        "every instance waits at its task"
    );
    let count = o.measure.min(open);
    let begun = Instant::now();
    let cpu_before = cpu_times();
    let fetches = work(&http, &root, count, o).await;
    let work_time = begun.elapsed();
    let cpu_after = cpu_times();
    engine.shutdown().await;
    let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
    let per_task = |t: Duration| t.as_secs_f64() * 1e6 / count as f64;
    Figures {
        starts_per_s: rate(open, start_time),
        tasks_per_s: rate(count, work_time),
        fetches,
        engine_us: per_task(cpu_after.0 - cpu_before.0),
        generator_us: per_task(cpu_after.1 - cpu_before.1),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let o = options();
    let o = Arc::new(o);
    // The engine on a runtime of its own, so that its threads' CPU time is told apart.
    let engine_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.engine_threads)
        .thread_name("dev-engine")
        .enable_all()
        .build()
        .expect("the dev engine's runtime");
    println!(
        "dev engine load: maxTasks {}, {} completions in flight, {} finished instances before, \
         {} held locked by another worker, {} tasks measured per run",
        o.max_tasks, o.in_flight, o.finished, o.held, o.measure
    );
    for round in 1..=o.rounds {
        for &open in &o.open {
            let before = load_average();
            let f = measure(open, &o, &engine_rt).await;
            println!(
                "round {round}: open {open:>6}: {:>7.0} tasks/s fetched+completed ({} fetches), \
                 engine {:>5.1} µs CPU/task ({:>6.0} tasks/s per core), generator {:>5.1} µs, \
                 {:>7.0} starts/s (load average {before} -> {})",
                f.tasks_per_s,
                f.fetches,
                f.engine_us,
                // Under one 10 ms tick the engine's CPU time reads 0: no rate then.
                if f.engine_us > 0.0 {
                    1e6 / f.engine_us
                } else {
                    f64::NAN
                },
                f.generator_us,
                f.starts_per_s,
                load_average()
            );
        }
    }
    // A runtime may not be dropped (it blocks) inside another one's async context.
    engine_rt.shutdown_background();
}

//! The in-process benchmark: `cargo run --release --example bench -- --tasks 20000
//! --concurrency 64 [--shape none|realistic] [--unit async|blocking] [--store URL]`.
//!
//! Runs the dev engine in a separate OS process (this binary re-executed with
//! `--engine-only`), and the worker (the library, built in this process; `bench/peers.sh`
//! measures the CLI as users run it) with a no-op unit in this process, so that the figures
//! are the worker's alone: tasks/s, p50/p99 latency from task creation to the engine's answer
//! to the completion, worker CPU time per task and RSS (idle and peak, from /proc on Linux).
//! `--shape realistic` starts every instance with 10 variables of mixed types (about 2 KB,
//! examples/bench_peers/shapes.rs); `--unit blocking` runs a plain `fn` unit (on the blocking
//! pool) instead of an `async fn`.
//!
//! `--engine-only --port P --tasks N --start-delay-ms D [--shape S]` runs just the engine: it
//! prints `READY <url>`, waits D ms, starts N instances of a one-task process (topic `bench`)
//! and runs until its stdin closes. `bench/js-bench.sh` uses it to measure the official JS
//! client on the same workload.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use bptl::camunda::{CamundaClient, CamundaEngine, ExternalTask};
use bptl::prelude::*;
use bptl::runtime::{Worker, WorkerConfig};
use bptl::{InMemoryStore, TaskFilter, TaskMapping, TaskMappings, TaskStore};
use jiff::Timestamp;

// Shared with bench_peers, which reads the load average too.
#[path = "bench_peers/procfs.rs"]
#[allow(dead_code)]
mod procfs;
#[path = "bench_peers/shapes.rs"]
mod shapes;

/// Creation time of each task, by task id (recorded by the unit, read after the run).
static CREATED: LazyLock<Mutex<HashMap<String, Timestamp>>> = LazyLock::new(Mutex::default);

/// Do nothing (remember the task's creation time for the latency figures).
#[register]
async fn noop(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    remember_created(task);
    Ok(Variables::new())
}

/// Do nothing, as a blocking unit (remember the task's creation time).
#[register]
fn noop_blocking(task: &dyn BaseTask) -> Result<(), UnitError> {
    remember_created(task);
    Ok(())
}

fn remember_created(task: &dyn BaseTask) {
    if let Some(created) = task
        .downcast_ref::<ExternalTask>()
        .and_then(|t| t.create_time)
    {
        CREATED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(task.task_id().to_owned(), created.timestamp);
    }
}

struct Args {
    tasks: usize,
    concurrency: usize,
    engine_only: bool,
    port: u16,
    start_delay_ms: u64,
    store: Option<String>,
    shape: String,
    blocking: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tasks: 10_000,
        concurrency: 64,
        engine_only: false,
        port: 0,
        start_delay_ms: 2000,
        store: None,
        shape: "none".to_owned(),
        blocking: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))?
                .parse::<u64>()
                .map_err(|_| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--tasks" => args.tasks = value("--tasks")? as usize,
            "--concurrency" => args.concurrency = value("--concurrency")? as usize,
            "--port" => args.port = value("--port")? as u16,
            "--start-delay-ms" => args.start_delay_ms = value("--start-delay-ms")?,
            "--engine-only" => args.engine_only = true,
            "--store" => {
                args.store = Some(
                    it.next()
                        .ok_or("--store needs a URL, e.g. sqlite:///tmp/bench.db")?,
                )
            }
            "--shape" => {
                args.shape = it.next().ok_or("--shape needs none or realistic")?;
                shapes::start_variables(&args.shape)?;
            }
            "--unit" => {
                args.blocking = match it.next().as_deref() {
                    Some("async") => false,
                    Some("blocking") => true,
                    _ => return Err("--unit needs async or blocking".into()),
                }
            }
            "--help" | "-h" => {
                println!(
                    "bench [--tasks N] [--concurrency C] [--shape none|realistic] [--unit async|blocking] [--store URL (default: in memory; e.g. sqlite:///tmp/bench.db)]   (engine-only: --engine-only --port P --tasks N --start-delay-ms D [--shape S])"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    if args.engine_only {
        return engine_only(&args);
    }
    // The worker side: a multi-threaded runtime like the production CLI's.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(worker_side(&args))
}

fn engine_only(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let engine = bptl_dev_engine::DevEngine::builder()
            .port(args.port)
            .start()
            .await?;
        engine.deploy_str("bench.bpmn", shapes::BPMN)?;
        println!("READY {}", engine.url());
        std::io::stdout().flush()?;
        tokio::time::sleep(Duration::from_millis(args.start_delay_ms)).await;
        let variables = shapes::start_variables(&args.shape)?;
        for _ in 0..args.tasks {
            engine.start_process("bench", variables.clone(), None)?;
        }
        eprintln!("started {} instances", args.tasks);
        // Run until the parent closes stdin (or kills us).
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                sink.clear();
            }
        })
        .await?;
        engine.shutdown().await;
        Ok(())
    })
}

async fn worker_side(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let start_delay_ms = 1500;
    let mut child = Command::new(exe)
        .args([
            "--engine-only",
            "--port",
            "0",
            "--tasks",
            &args.tasks.to_string(),
            "--start-delay-ms",
            &start_delay_ms.to_string(),
            "--shape",
            &args.shape,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().ok_or("the engine process ended early")??;
        if let Some(url) = line.strip_prefix("READY ") {
            break url.to_owned();
        }
    };

    let store: Arc<dyn TaskStore> = match &args.store {
        Some(url) => bptl::sql_store::connect(url).await?,
        None => Arc::new(InMemoryStore::with_capacity(args.tasks + 10)),
    };
    let worker = Worker::builder(CamundaEngine::new(CamundaClient::new(url.clone())?))
        .registry(bptl::Registry::global()?.clone())
        .mappings(TaskMappings::new([TaskMapping::new(
            "bench",
            if args.blocking {
                "bench::noop_blocking"
            } else {
                "bench::noop"
            },
        )])?)
        .store(store.clone())
        .config(WorkerConfig {
            max_tasks: args.concurrency,
            lock_duration: Duration::from_secs(60),
            async_response_timeout: Duration::from_secs(10),
            ..WorkerConfig::default()
        })
        .build()?;
    let handle = worker.handle();
    let running = tokio::spawn(worker.run(std::future::pending::<()>()));

    // Idle: long polling, nothing to do.
    tokio::time::sleep(Duration::from_millis(start_delay_ms - 300)).await;
    let me = std::process::id();
    let idle_rss = procfs::status_mb(me, "VmRSS");
    let cpu_before = procfs::cpu_seconds(me);

    let deadline = Instant::now() + Duration::from_secs(600);
    while handle.stats().completed < args.tasks as u64 {
        if Instant::now() > deadline {
            return Err("the benchmark did not finish within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cpu = procfs::cpu_seconds(me) - cpu_before;
    handle.shutdown();
    let stats = running.await?;
    drop(child.stdin.take());
    let _ = child.wait();

    let records = store.list(&TaskFilter::default()).await?;
    let created = CREATED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut latencies = Vec::new();
    let (mut first, mut last): (Option<Timestamp>, Option<Timestamp>) = (None, None);
    for r in &records {
        if let (Some(done), Some(made)) = (r.reported_at, created.get(&r.task_id)) {
            latencies.push(done.duration_since(*made).as_secs_f64() * 1000.0);
            first = Some(first.map_or(*made, |f| f.min(*made)));
            last = Some(last.map_or(done, |l| l.max(done)));
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let wall = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => f64::NAN,
    };
    let n = stats.completed as f64;
    println!(
        "bptl worker (Rust, in process), {} tasks, shape {}, {} unit, concurrency {}, store {}",
        args.tasks,
        args.shape,
        if args.blocking { "blocking" } else { "async" },
        args.concurrency,
        args.store
            .as_deref()
            .map_or_else(|| "in memory".to_owned(), bptl::sql_store::redact_url)
    );
    println!("  throughput      {:>10.0} tasks/s", n / wall);
    println!(
        "  latency p50     {:>10.1} ms (task creation → completion accepted)",
        pct(0.50)
    );
    println!("  latency p99     {:>10.1} ms", pct(0.99));
    println!(
        "  CPU per task    {:>10.1} µs (user + system)",
        cpu / n * 1e6
    );
    println!("  RSS idle        {:>10.1} MB", idle_rss);
    println!(
        "  RSS peak        {:>10.1} MB",
        procfs::status_mb(me, "VmHWM")
    );
    Ok(())
}

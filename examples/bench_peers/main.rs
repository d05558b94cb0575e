//! The benchmark of workers as users run them: `bench/peers.sh` builds and runs it.
//!
//! ```text
//! bench_peers --worker PATH [--js FILE] [--java-cp CP] [--peers bptl-sqlite,bptl,js,java]
//!             [--shapes none,realistic] [--instances 3000,15000] [--rounds 3]
//!             [--max-tasks 64] [--latency 1000] [--latency-peers bptl,js,java] [--out DIR]
//! ```
//!
//! This process is the dev engine (the library `worker dev-engine` serves, on its own
//! runtime and port); every worker is another OS process, so the figures are the worker's
//! alone. Each run starts a fresh dev engine, starts N instances of a one-task process
//! (topic `bench`) before the worker starts, starts the worker and samples, every
//! millisecond, the engine's count of running instances and the worker's CPU time (from
//! /proc). Throughput and CPU per task are taken from the first completion to the last
//! (the worker's start-up is left out, for every peer alike); RSS peak is the worker's VmHWM
//! at the end. The engine's CPU per task over the same window shows whether the engine is
//! the limit. Rounds alternate the peers' order.
//!
//! Shapes: `none` (no variables) and `realistic` (10 variables of mixed types, about 2 KB).
//! Latency: per peer, a fresh engine and no instances; once the worker idles (long polling),
//! its RSS is the idle figure; then one instance at a time, creation to the instance's end
//! (the completion accepted).

mod peers;
mod procfs;
mod shapes;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bptl_dev_engine::DevEngine;
use peers::{Peer, Programs};
use serde_json::json;

struct Options {
    programs: Programs,
    peers: Vec<Peer>,
    shapes: Vec<String>,
    instances: Vec<usize>,
    rounds: usize,
    max_tasks: usize,
    latency: usize,
    latency_peers: Vec<Peer>,
    out: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        programs: Programs {
            worker: PathBuf::new(),
            js: None,
            java_cp: None,
        },
        peers: ["bptl-sqlite", "bptl", "js", "java"]
            .iter()
            .map(|p| Peer::parse(p))
            .collect::<Result<_, _>>()?,
        shapes: vec!["none".into(), "realistic".into()],
        instances: vec![3_000, 15_000],
        rounds: 3,
        max_tasks: 64,
        latency: 1_000,
        latency_peers: vec![Peer::parse("bptl")?, Peer::Js, Peer::Java { pool: false }],
        out: std::env::temp_dir().join("bench-peers"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |text: String| {
            text.replace('_', "")
                .parse::<usize>()
                .map_err(|_| format!("{text} is not a number"))
        };
        let peers = |text: String| -> Result<Vec<Peer>, String> {
            text.split(',').map(Peer::parse).collect()
        };
        match arg.as_str() {
            "--worker" => o.programs.worker = value()?.into(),
            "--js" => o.programs.js = Some(value()?.into()),
            "--java-cp" => o.programs.java_cp = Some(value()?),
            "--peers" => o.peers = peers(value()?)?,
            "--latency-peers" => o.latency_peers = peers(value()?)?,
            "--shapes" => o.shapes = value()?.split(',').map(str::to_owned).collect(),
            "--instances" => {
                o.instances = value()?
                    .split(',')
                    .map(|n| number(n.to_owned()))
                    .collect::<Result<_, _>>()?
            }
            "--rounds" => o.rounds = number(value()?)?,
            "--max-tasks" => o.max_tasks = number(value()?)?,
            "--latency" => o.latency = number(value()?)?,
            "--out" => o.out = value()?.into(),
            "-h" | "--help" => {
                println!("see the top of examples/bench_peers/main.rs, or bench/peers.sh --help");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    if o.programs.worker.as_os_str().is_empty() {
        return Err("--worker PATH (the release build of examples/worker) is required".into());
    }
    for shape in &o.shapes {
        shapes::start_variables(shape)?;
    }
    Ok(o)
}

/// One throughput run's figures.
struct Run {
    tasks_per_s: f64,
    cpu_us_per_task: f64,
    engine_cpu_us_per_task: f64,
    rss_peak_mb: f64,
    load: f64,
}

async fn fresh_engine() -> Result<DevEngine, Box<dyn std::error::Error>> {
    let engine = DevEngine::builder().port(0).start().await?;
    engine.deploy_str("bench.bpmn", shapes::BPMN)?;
    Ok(engine)
}

async fn throughput(
    o: &Options,
    peer: &Peer,
    shape: &str,
    n: usize,
    dir: PathBuf,
) -> Result<Run, Box<dyn std::error::Error>> {
    let engine = fresh_engine().await?;
    let vars = shapes::start_variables(shape)?;
    for _ in 0..n {
        engine.start_process("bench", vars.clone(), None)?;
    }
    let load = procfs::load_average();
    let mut child = peer.start(&o.programs, &engine.url(), "bench", o.max_tasks, &dir)?;
    let pid = child.id();
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut first: Option<(Instant, f64, f64, usize)> = None;
    let mut polls = 0u64;
    let result = loop {
        let active = engine.active_instance_count();
        if first.is_none() && active < n {
            first = Some((
                Instant::now(),
                procfs::cpu_seconds(pid),
                procfs::cpu_seconds(me),
                n - active,
            ));
        }
        if active == 0 {
            let (t0, cpu0, engine0, done0) = first.ok_or("no task completed")?;
            let (cpu1, engine1) = (procfs::cpu_seconds(pid), procfs::cpu_seconds(me));
            let tasks = (n - done0).max(1) as f64;
            break Ok(Run {
                tasks_per_s: tasks / t0.elapsed().as_secs_f64(),
                cpu_us_per_task: (cpu1 - cpu0) / tasks * 1e6,
                engine_cpu_us_per_task: (engine1 - engine0) / tasks * 1e6,
                rss_peak_mb: procfs::status_mb(pid, "VmHWM"),
                load,
            });
        }
        polls += 1;
        if polls.is_multiple_of(200) {
            if let Some(status) = child.try_wait()? {
                break Err(format!(
                    "{} ended ({status}); see {}",
                    peer.name(),
                    dir.display()
                ));
            }
            if Instant::now() > deadline {
                break Err(format!("{}: not done within 15 minutes", peer.name()));
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    stop(&mut child).await;
    engine.shutdown().await;
    Ok(result?)
}

/// Idle RSS and latency percentiles of one peer.
struct Latency {
    rss_idle_mb: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    load: f64,
}

async fn latency(
    o: &Options,
    peer: &Peer,
    dir: PathBuf,
) -> Result<Latency, Box<dyn std::error::Error>> {
    let engine = fresh_engine().await?;
    let mut child = peer.start(&o.programs, &engine.url(), "bench", o.max_tasks, &dir)?;
    let pid = child.id();
    // Idle: the worker's fetch is parked and its CPU time stands still (at most 30 s).
    let (mut last, mut still) = (procfs::cpu_seconds(pid), 0);
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(status) = child.try_wait()? {
            return Err(format!("{} ended ({status}); see {}", peer.name(), dir.display()).into());
        }
        let now = procfs::cpu_seconds(pid);
        still = if now == last && engine.parked_fetch_count() > 0 {
            still + 1
        } else {
            0
        };
        last = now;
        if still >= 4 {
            break;
        }
    }
    let rss_idle_mb = procfs::status_mb(pid, "VmRSS");
    let load = procfs::load_average();
    let mut samples = Vec::with_capacity(o.latency);
    for _ in 0..o.latency {
        // Each sample starts with the worker long polling (as at low load).
        for _ in 0..200 {
            if engine.parked_fetch_count() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let started = Instant::now();
        engine.start_process("bench", json!({}), None)?;
        engine.wait_until_all_ended(Duration::from_secs(30)).await?;
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    stop(&mut child).await;
    engine.shutdown().await;
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    Ok(Latency {
        rss_idle_mb,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: samples.last().copied().unwrap_or(f64::NAN),
        load,
    })
}

/// Stops a worker: SIGTERM (a profiler in front of it writes its data), SIGKILL after 5 s.
async fn stop(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(std::process::Stdio::null())
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}–{})", fmt(median(v.to_vec())), fmt(lo), fmt(hi))
}

fn fmt(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    std::fs::create_dir_all(&o.out)?;
    // The engine's runtime: multi-threaded, as `worker dev-engine` runs it.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(o))
}

async fn bench(o: Options) -> Result<(), Box<dyn std::error::Error>> {
    // (instances, shape, peer) -> one Run per round
    let mut runs: Vec<(usize, String, String, usize, Run)> = Vec::new();
    println!(
        "round\tinstances\tshape\tpeer\ttasks/s\tCPU µs/task\tengine CPU µs/task\tRSS peak MB\tload"
    );
    let mut k = 0;
    for round in 1..=o.rounds {
        for &n in &o.instances {
            for shape in &o.shapes {
                let np = o.peers.len();
                for i in 0..np {
                    let peer = &o.peers[(i + round - 1) % np];
                    k += 1;
                    let dir = o.out.join(format!("run-{k}-{}", peer.name()));
                    let r = throughput(&o, peer, shape, n, dir).await?;
                    println!(
                        "{round}\t{n}\t{shape}\t{}\t{:.0}\t{:.1}\t{:.1}\t{:.1}\t{:.2}",
                        peer.name(),
                        r.tasks_per_s,
                        r.cpu_us_per_task,
                        r.engine_cpu_us_per_task,
                        r.rss_peak_mb,
                        r.load
                    );
                    runs.push((n, shape.clone(), peer.name().to_owned(), round, r));
                }
            }
        }
    }
    summary(&o, &runs);
    if o.latency > 0 {
        println!(
            "\nlatency, one instance at a time ({} samples), long polling; RSS idle",
            o.latency
        );
        println!("| peer | p50 | p99 | max | RSS idle | load |\n|---|---|---|---|---|---|");
        for (i, peer) in o.latency_peers.iter().enumerate() {
            let l = latency(&o, peer, o.out.join(format!("latency-{i}-{}", peer.name()))).await?;
            println!(
                "| {} | {:.2} ms | {:.2} ms | {:.1} ms | {:.1} MB | {:.2} |",
                peer.name(),
                l.p50_ms,
                l.p99_ms,
                l.max_ms,
                l.rss_idle_mb,
                l.load
            );
        }
    }
    Ok(())
}

/// Medians (range) per instances, shape and peer, and the per-round ratios of each bptl peer
/// to the JS client (side by side: the same round saw the same machine).
fn summary(o: &Options, runs: &[(usize, String, String, usize, Run)]) {
    let loads: Vec<f64> = runs.iter().map(|r| r.4.load).collect();
    println!(
        "\nmedian (min–max) of {} round(s); load average {:.1}–{:.1}",
        o.rounds,
        loads.iter().copied().fold(f64::INFINITY, f64::min),
        loads.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "| instances | shape | peer | tasks/s | CPU µs/task | engine CPU µs/task | RSS peak MB | vs js: throughput | vs js: CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &n in &o.instances {
        for shape in &o.shapes {
            for peer in &o.peers {
                let mine: Vec<&(usize, String, String, usize, Run)> = runs
                    .iter()
                    .filter(|r| r.0 == n && &r.1 == shape && r.2 == peer.name())
                    .collect();
                let col =
                    |f: fn(&Run) -> f64| range(&mine.iter().map(|r| f(&r.4)).collect::<Vec<_>>());
                let js = |round: usize| {
                    runs.iter()
                        .find(|r| r.0 == n && &r.1 == shape && r.2 == "js" && r.3 == round)
                        .map(|r| &r.4)
                };
                let ratio = |f: fn(&Run, &Run) -> f64| {
                    let v: Vec<f64> = mine
                        .iter()
                        .filter_map(|r| js(r.3).map(|j| f(&r.4, j)))
                        .collect();
                    if v.is_empty() || *peer == Peer::Js {
                        "".to_owned()
                    } else {
                        format!("{:.1}×", median(v))
                    }
                };
                println!(
                    "| {n} | {shape} | {} | {} | {} | {} | {} | {} | {} |",
                    peer.name(),
                    col(|r| r.tasks_per_s),
                    col(|r| r.cpu_us_per_task),
                    col(|r| r.engine_cpu_us_per_task),
                    col(|r| r.rss_peak_mb),
                    ratio(|me, js| me.tasks_per_s / js.tasks_per_s),
                    ratio(|me, js| js.cpu_us_per_task / me.cpu_us_per_task),
                );
            }
        }
    }
}

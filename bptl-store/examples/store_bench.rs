//! The task store alone, without engine or HTTP: `cargo run --release -p bptl-store --example
//! store_bench -- [--store URL|memory] [--tasks N] [--concurrency C]`.
//!
//! Each task does what the worker's runtime does with a store: a claim before the unit runs,
//! a save when it performed, a last save once the engine accepted the completion, and three
//! timeline entries (through a writer task that hands them over in batches, as the runtime
//! does). Prints tasks/s and the process's CPU time per task, up to the moment every write is
//! committed. Without `--store` it measures a fresh SQLite file in the temporary directory.

use std::sync::Arc;
use std::time::Instant;

use bptl_core::store::{Claim, TaskKey, TaskRecord, TaskStore};
use bptl_core::{EventKind, InMemoryTask, TaskStatus, TimelineEntry, variables};
use tokio::sync::{Semaphore, mpsc};

type Error = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "store_bench [--store URL|memory] [--tasks N] [--concurrency C]";

/// User + system CPU seconds of this process (Linux /proc; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn entry(message: &str) -> TimelineEntry {
    TimelineEntry {
        at: jiff::Timestamp::now(),
        kind: EventKind::Status,
        message: message.to_owned(),
        data: serde_json::Value::Null,
    }
}

/// One task's writes, as the runtime makes them.
async fn one_task(
    store: Arc<dyn TaskStore>,
    timeline: mpsc::UnboundedSender<(TaskKey, TimelineEntry)>,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> Result<(), Error> {
    let task = InMemoryTask::new("bench", variables! { "amount": 21 });
    let fetched = TaskRecord::from_task(&task, "bench-worker");
    let key = fetched.key();
    // The runtime appends timeline entries through its writer task.
    let record_entry = |message: &str| -> Result<(), Error> {
        timeline.send((key.clone(), entry(message)))?;
        Ok(())
    };
    let Claim::Run { mut record, .. } = store.claim(&fetched).await? else {
        return Err("a new task was not claimed".into());
    };
    record_entry("initial → in_progress")?;
    record.status = TaskStatus::Performed;
    record.result_variables = Some(variables! { "doubled": 42 });
    store.save(&record).await?;
    record_entry("in_progress → performed")?;
    record.status = TaskStatus::Completed;
    record.reported_at = Some(jiff::Timestamp::now());
    record_entry("performed → completed")?;
    // The last save, after the engine accepted the completion.
    store.save(&record).await?;
    drop(slot);
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("store_bench: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let mut url = None;
    let mut tasks = 20_000usize;
    let mut concurrency = 64usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--store" => url = Some(value()?),
            "--tasks" => tasks = value()?.parse()?,
            "--concurrency" => concurrency = value()?.parse()?,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}; usage: {USAGE}").into()),
        }
    }
    let dir = std::env::temp_dir().join(format!("bptl-store-bench-{}", std::process::id()));
    let url = match url {
        Some(url) => url,
        None => {
            std::fs::create_dir_all(&dir)?;
            format!("sqlite://{}", dir.join("bench.db").display())
        }
    };
    // `memory`: core's in-memory store, the worker's default (what the store costs on top).
    let store: Arc<dyn TaskStore> = if url == "memory" {
        Arc::new(bptl_core::InMemoryStore::with_capacity(tasks + 10))
    } else {
        bptl_store::connect(&url).await?
    };

    let (timeline, mut entries) = mpsc::unbounded_channel::<(TaskKey, TimelineEntry)>();
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(first) = entries.recv().await {
                batch.push(first);
                while batch.len() < 512 {
                    match entries.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                store.append_timelines(&batch).await?;
                batch.clear();
            }
            Ok::<(), bptl_core::store::StoreError>(())
        })
    };

    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let slot = Arc::clone(&slots).acquire_owned().await?;
        let (store, timeline) = (Arc::clone(&store), timeline.clone());
        running.push(tokio::spawn(one_task(store, timeline, slot)));
    }
    for task in running {
        task.await??;
    }
    drop(timeline);
    writer.await??;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "task store {}: {tasks} tasks, concurrency {concurrency}",
        bptl_store::redact_url(&url)
    );
    println!("  throughput      {:>10.0} tasks/s", tasks as f64 / wall);
    println!(
        "  CPU per task    {:>10.1} µs (user + system)",
        cpu / tasks as f64 * 1e6
    );
    Ok(())
}

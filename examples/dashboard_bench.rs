//! How fast the dashboard answers on a big store: fills a SQLite store with N task records
//! (default 1 000 000, spread over 30 days, 5 topics, 90 % completed, 7 % failed, 3 % other),
//! then times the task-list queries and the pages over HTTP (median of 21 runs each).
//!
//! ```text
//! cargo run --release --example dashboard_bench [-- N]
//! ```
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bptl::config::DashboardConfig;
use bptl::dashboard::Dashboard;
use bptl::sql_store::SqliteStore;
use bptl_core::TaskStatus;
use bptl_core::store::{TaskFilter, TaskStore};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort_unstable();
    runs[runs.len() / 2]
}

async fn time<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await; // warm-up
    let mut runs = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        f().await;
        runs.push(start.elapsed());
    }
    median(runs)
}

#[tokio::main]
async fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("N: a number of records"));
    let dir = std::env::temp_dir().join(format!("bptl-dashboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.db");
    let store = SqliteStore::open(&path).await.unwrap();

    let fill = Instant::now();
    let now = i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap();
    let span: i64 = 30 * 86_400 * 1_000_000_000;
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         INSERT INTO bptl_tasks (engine, task_id, topic, worker_id, process_instance_id, \
         business_key, priority, retries, lock_expires_at, variables, status, result_variables, \
         execution_error, engine_error, executions, created_at, updated_at, reported_at) \
         SELECT 'camunda', 'task-' || i, 'topic-' || (i % 5), 'worker-' || (i % 4), 'pi-' || i, \
         'bk-' || (i % 100000), 0, NULL, NULL, '{{\"amount\":{{\"type\":\"Integer\",\"value\":21}}}}', \
         CASE WHEN i % 100 < 90 THEN 'completed' WHEN i % 100 < 97 THEN 'failed' ELSE 'in_progress' END, \
         NULL, CASE WHEN i % 100 BETWEEN 90 AND 96 THEN 'boom' END, NULL, 1, \
         {now} - ({n} - i) * ({span} / {n}), {now} - ({n} - i) * ({span} / {n}), NULL FROM n"
    );
    bptl::sql_store::sqlx::query(bptl::sql_store::sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .unwrap();
    println!("filled {n} records in {:.1?}", fill.elapsed());
    let store: Arc<dyn TaskStore> = Arc::new(store);

    let page = |f: TaskFilter| f.page(0, 51);
    let cases: Vec<(&str, TaskFilter)> = vec![
        ("list: newest 50", page(TaskFilter::default())),
        (
            "list: status=failed",
            page(TaskFilter::default().status(TaskStatus::Failed)),
        ),
        (
            "list: topic=topic-3",
            page(TaskFilter::default().topic("topic-3")),
        ),
        (
            "list: topic=topic-3, page 200",
            TaskFilter::default().topic("topic-3").page(199 * 50, 51),
        ),
        (
            "list: business_key=bk-4242",
            page(TaskFilter::default().business_key("bk-4242")),
        ),
        (
            "list: process instance",
            page(TaskFilter::default().process_instance("pi-777777")),
        ),
        (
            "list: status=failed, since 24h",
            page(
                TaskFilter::default()
                    .status(TaskStatus::Failed)
                    .since(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24)),
            ),
        ),
    ];
    println!("{:<40} {:>10}", "query (SQLite, 1 page of 50)", "median");
    for (name, filter) in cases {
        let store = Arc::clone(&store);
        let d = time(|| {
            let store = Arc::clone(&store);
            let filter = filter.clone();
            async move {
                store.list(&filter).await.unwrap();
            }
        })
        .await;
        println!("{name:<40} {:>8.2} ms", d.as_secs_f64() * 1000.0);
    }

    let day = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    let d = time(|| {
        let store = Arc::clone(&store);
        async move {
            store.stats(Some(day)).await.unwrap();
        }
    })
    .await;
    println!(
        "{:<40} {:>8.2} ms",
        "stats: last 24 h",
        d.as_secs_f64() * 1000.0
    );
    let d = time(|| {
        let store = Arc::clone(&store);
        async move {
            store.hourly(day).await.unwrap();
        }
    })
    .await;
    println!(
        "{:<40} {:>8.2} ms",
        "hourly: last 24 h",
        d.as_secs_f64() * 1000.0
    );

    let running = Dashboard::new(Arc::clone(&store), &DashboardConfig::default())
        .unwrap()
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // reqwest needs a TLS crypto provider before its first client.
    bptl::credentials::install_crypto_provider();
    let client = reqwest::Client::new();
    let base = format!("http://{}", running.addr);
    println!("{:<40} {:>10}", "page over HTTP", "median");
    for path in [
        "/tasks",
        "/tasks?status=failed",
        "/tasks?topic=topic-3&page=200",
        "/api/tasks?status=failed",
        "/api/tasks?business_key=bk-4242",
        "/",
        "/api/stats",
    ] {
        let url = format!("{base}{path}");
        let d = time(|| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let r = client.get(&url).send().await.unwrap();
                assert!(r.status().is_success(), "{url}: {}", r.status());
                r.bytes().await.unwrap();
            }
        })
        .await;
        println!("GET {path:<36} {:>8.2} ms", d.as_secs_f64() * 1000.0);
    }
    running.task.abort();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

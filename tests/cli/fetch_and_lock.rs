//! `fetch-and-lock`: tasks saved in the store, no unit run.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_lock_saves_tasks_without_running_them() {
    let (engine, _) = double_engine(3).await;
    let dir = TempDir::new();
    let config = write(
        &dir,
        "worker.toml",
        &format!(
            "[engine]\nurl = \"{}\"\nworker_id = \"operator-1\"\n\n[store]\nurl = \"sqlite://{}\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
            engine.url(),
            dir.0.join("bptl.db").display()
        ),
    );
    let (code, out) = run_cli(&["fetch-and-lock", "2", "--config", arg(&config)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("2 task(s) saved with worker ID operator-1"),
        "{out}"
    );
    let locked: Vec<serde_json::Value> = engine
        .external_tasks(Some("double"))
        .into_iter()
        .filter(|t| t["workerId"] == "operator-1")
        .collect();
    assert_eq!(
        locked.len(),
        2,
        "two tasks locked by the operator's worker id"
    );
    let (code, listing) = run_cli(&["tasks", "--status", "initial", "--config", arg(&config)]);
    assert_eq!(code, 0, "{listing}");
    assert_eq!(listing.matches("operator-1").count(), 2, "{listing}");
    assert_eq!(engine.active_instance_count(), 3, "nothing ran");
    engine.shutdown().await;
}

//! Locks: the heartbeat keeps a long unit's lock alive, a cancelled instance is noticed
//! through the engine's 404s, and graceful shutdown unlocks what it will not finish.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bptl::prelude::*;
use bptl::{EventKind, TaskFilter, TaskMapping, TaskMappings, TaskStatus, TaskStore};
use serde_json::json;

use crate::support::*;

/// Runs per process instance: started, finished.
static RUNS: LazyLock<Mutex<HashMap<String, (usize, usize)>>> = LazyLock::new(Mutex::default);

fn started(instance: &str) -> usize {
    RUNS.lock().unwrap().get(instance).map_or(0, |r| r.0)
}

fn finished(instance: &str) -> usize {
    RUNS.lock().unwrap().get(instance).map_or(0, |r| r.1)
}

/// Sleep `sleepMs`, counting starts and ends per instance.
#[register]
async fn nap(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let instance = task.process_instance_id().unwrap_or_default().to_owned();
    let ms: u64 = check_variable_as(&task.get_variables()?, "sleepMs")?;
    RUNS.lock().unwrap().entry(instance.clone()).or_default().0 += 1;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    RUNS.lock().unwrap().entry(instance).or_default().1 += 1;
    Ok(variables! { "napped": true })
}

fn naps(topic: &str) -> TaskMappings {
    TaskMappings::new([TaskMapping::new(topic, "real_engine::locks::nap")]).unwrap()
}

async fn deploy_nap(rig: &Rig, base: &str) -> (String, String) {
    let key = rig.unique(base);
    let topic = rig.unique(base);
    rig.deploy(&process(&key, &[Task::new(&topic)], None)).await;
    (key, topic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_running_three_lock_durations_keeps_its_lock() {
    let Some(rig) = Rig::new() else { return };
    let (key, topic) = deploy_nap(&rig, "heartbeat").await;
    let instance = rig.start(&key, variables! { "sleepMs": 6000 }).await;
    let cfg = bptl::runtime::WorkerConfig {
        lock_duration: Duration::from_secs(2),
        ..config()
    };
    let first = rig.spawn_worker(naps(&topic), cfg.clone(), |b| b);
    wait_until("the unit runs", Duration::from_secs(15), || {
        started(&instance) == 1
    })
    .await;
    // A second worker polls all the while: it must never get the task.
    let second = rig.spawn_worker(naps(&topic), cfg, |b| b);
    let holder = first.handle.worker_id().to_owned();
    // What the engine shows, every 100 ms: locked by the first worker, never expired.
    let mut observed = 0;
    while finished(&instance) == 0 {
        let tasks = rig.tasks_of(&instance).await;
        let Some(task) = tasks.first() else { break };
        let expiry = task["lockExpirationTime"].as_str().unwrap_or_default();
        let expiry = bptl::DateValue::parse(expiry)
            .unwrap_or_else(|_| panic!("the task is not locked: {task}"))
            .timestamp;
        assert!(expiry > jiff::Timestamp::now(), "the lock expired: {task}");
        assert_eq!(task["workerId"], json!(holder), "{task}");
        observed += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(observed >= 10, "only {observed} observations");
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(15))
        .await;
    let store = first.store.clone();
    let (s1, s2) = (first.stop().await, second.stop().await);
    assert_eq!((s1.completed, s1.not_reported), (1, 0), "{s1:?}");
    assert_eq!(
        s2.fetched, 0,
        "the second worker got a task whose lock was kept: {s2:?}"
    );
    assert_eq!(started(&instance), 1);
    let record = store.list(&TaskFilter::default()).await.unwrap().remove(0);
    let extensions = store
        .timeline(&record.key())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::LockExtended)
        .count();
    assert!(
        (4..=8).contains(&extensions),
        "{extensions} lock extensions in 6 s with a 2 s lock"
    );
    // The completion is the engine's only record of who did it.
    let log = rig.task_log(&instance).await;
    let success: Vec<_> = log
        .iter()
        .filter(|l| l["successLog"] == json!(true))
        .collect();
    assert_eq!(success.len(), 1, "{log:#?}");
    assert_eq!(success[0]["workerId"], json!(holder));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_instance_is_noticed_on_extending_and_on_completing() {
    let Some(rig) = Rig::new() else { return };
    let (key, topic) = deploy_nap(&rig, "cancel").await;
    let cfg = bptl::runtime::WorkerConfig {
        lock_duration: Duration::from_secs(2),
        ..config()
    };
    let worker = rig.spawn_worker(naps(&topic), cfg, |b| b);

    // (a) Cancelled while the heartbeat still runs: extendLock answers 404.
    let a = rig.start(&key, variables! { "sleepMs": 3000 }).await;
    wait_until("unit a runs", Duration::from_secs(15), || started(&a) == 1).await;
    let task_a = rig.tasks_of(&a).await[0]["id"].as_str().unwrap().to_owned();
    rig.cancel(&a).await;
    wait_until("unit a finished", Duration::from_secs(10), || {
        finished(&a) == 1
    })
    .await;

    // (b) Cancelled after the last extension: the completion answers 404. A lock of 20 s is
    // not extended within a 1.5 s unit.
    let (key_b, topic_b) = deploy_nap(&rig, "cancel_late").await;
    let late = rig.spawn_worker(naps(&topic_b), config(), |b| b);
    let b = rig.start(&key_b, variables! { "sleepMs": 1500 }).await;
    wait_until("unit b runs", Duration::from_secs(15), || started(&b) == 1).await;
    let task_b = rig.tasks_of(&b).await[0]["id"].as_str().unwrap().to_owned();
    rig.cancel(&b).await;
    wait_until("unit b finished", Duration::from_secs(10), || {
        finished(&b) == 1
    })
    .await;

    // Both workers carry on with new work.
    let c = rig.start(&key, variables! { "sleepMs": 10 }).await;
    rig.wait_completed(std::slice::from_ref(&c), Duration::from_secs(15))
        .await;
    let d = rig.start(&key_b, variables! { "sleepMs": 10 }).await;
    rig.wait_completed(std::slice::from_ref(&d), Duration::from_secs(15))
        .await;

    assert_eq!(rig.state(&a).await, "EXTERNALLY_TERMINATED");
    assert_eq!(rig.state(&b).await, "EXTERNALLY_TERMINATED");
    let (store_a, store_b) = (worker.store.clone(), late.store.clone());
    let (sa, sb) = (worker.stop().await, late.stop().await);
    assert_eq!((sa.cancelled, sa.completed, sa.failed), (1, 1, 0), "{sa:?}");
    assert_eq!((sb.cancelled, sb.completed, sb.failed), (1, 1, 0), "{sb:?}");
    for (store, task, what) in [
        (&store_a, &task_a, "extending"),
        (&store_b, &task_b, "completing"),
    ] {
        let key = bptl::TaskKey::new("camunda", task.as_str());
        let errors: Vec<_> = store
            .timeline(&key)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EventKind::EngineError)
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("no longer knows the task")
                    && e.data.to_string().contains("404")),
            "{what}: the 404 is on the timeline: {errors:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_unlocks_what_it_does_not_finish() {
    let Some(rig) = Rig::new() else { return };
    let (key, topic) = deploy_nap(&rig, "shutdown").await;
    let long = rig.start(&key, variables! { "sleepMs": 30_000 }).await;
    // Free slots: a long poll is parked when the shutdown comes, and the engine hands it the
    // aborted task again as soon as that is unlocked.
    let cfg = bptl::runtime::WorkerConfig {
        max_tasks: 3,
        lock_duration: Duration::from_secs(60),
        async_response_timeout: Duration::from_secs(20),
        shutdown_grace: Duration::from_millis(500),
        ..config()
    };
    let worker = rig.spawn_worker(naps(&topic), cfg, |b| b);
    wait_until("the unit runs", Duration::from_secs(15), || {
        started(&long) == 1
    })
    .await;
    let holder = worker.handle.worker_id().to_owned();
    let task = rig.tasks_of(&long).await.remove(0);
    assert_eq!(task["workerId"], json!(holder));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let store = worker.store.clone();
    let stats = worker.stop().await;
    assert_eq!((stats.aborted, stats.unlocked), (1, 1), "{stats:?}");
    // The engine shows the task free at once (not after its 60 s lock).
    let task = rig.tasks_of(&long).await.remove(0);
    assert!(task["lockExpirationTime"].is_null(), "{task}");
    assert!(task["workerId"].is_null(), "{task}");
    let record = store.list(&TaskFilter::default()).await.unwrap().remove(0);
    assert_eq!(record.status, TaskStatus::Failed, "{record:?}");
    // Another worker takes it at once.
    let next = rig.spawn_worker(naps(&topic), config(), |b| b);
    wait_until("the task runs again", Duration::from_secs(10), || {
        started(&long) == 2
    })
    .await;
    rig.cancel(&long).await;
    next.handle.shutdown_now();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_parked_at_shutdown_has_its_tasks_unlocked() {
    let Some(rig) = Rig::new() else { return };
    let (key, topic) = deploy_nap(&rig, "shutdown_poll").await;
    let busy = rig.start(&key, variables! { "sleepMs": 2500 }).await;
    let cfg = bptl::runtime::WorkerConfig {
        max_tasks: 2,
        lock_duration: Duration::from_secs(60),
        async_response_timeout: Duration::from_secs(20),
        shutdown_grace: Duration::from_secs(10),
        ..config()
    };
    let worker = rig.spawn_worker(naps(&topic), cfg.clone(), |b| b);
    wait_until("the unit runs", Duration::from_secs(15), || {
        started(&busy) == 1
    })
    .await;
    // The second slot's long poll is parked at the engine when the shutdown comes; a task
    // created during the shutdown is locked for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.handle.shutdown();
    let late = rig.start(&key, variables! { "sleepMs": 10 }).await;
    let stats = tokio::time::timeout(Duration::from_secs(20), worker.join)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stats.completed, stats.unlocked), (1, 1), "{stats:?}");
    assert_eq!(started(&late), 0, "its unit never started");
    let task = rig.tasks_of(&late).await.remove(0);
    assert!(
        task["lockExpirationTime"].is_null() && task["workerId"].is_null(),
        "the task the kept poll brought is free again: {task}"
    );
    rig.wait_completed(std::slice::from_ref(&busy), Duration::from_secs(5))
        .await;

    // Why the poll is kept: an idle worker drops its parked poll at once, and the engine
    // still locks the next task for it, under the stopped worker's id, for the whole lock
    // duration (what the engine does; nothing a worker can undo once it is gone).
    let idle = rig.spawn_worker(naps(&topic), cfg, |b| b);
    // The late task is taken and run again by this worker; wait for that, then for it to park.
    rig.wait_completed(std::slice::from_ref(&late), Duration::from_secs(15))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let gone = idle.handle.worker_id().to_owned();
    let stats = idle.stop().await;
    assert_eq!(stats.in_flight, 0);
    let stranded = rig.start(&key, variables! { "sleepMs": 10 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let task = rig.tasks_of(&stranded).await.remove(0);
    assert_eq!(
        task["workerId"],
        json!(gone),
        "{}: a task created after the shutdown is locked for the dropped poll: {task}",
        rig.name
    );
    rig.cancel(&stranded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_unlocked_while_its_unit_runs_is_locked_again_by_the_heartbeat() {
    let Some(rig) = Rig::new() else { return };
    let (key, topic) = deploy_nap(&rig, "unlocked").await;
    let instance = rig.start(&key, variables! { "sleepMs": 3000 }).await;
    // One slot: no long poll of this worker is parked to grab the task once it is free.
    let cfg = bptl::runtime::WorkerConfig {
        max_tasks: 1,
        lock_duration: Duration::from_secs(2),
        ..config()
    };
    let worker = rig.spawn_worker(naps(&topic), cfg, |b| b);
    wait_until("the unit runs", Duration::from_secs(15), || {
        started(&instance) == 1
    })
    .await;
    let task = rig.tasks_of(&instance).await.remove(0);
    let task_id = task["id"].as_str().unwrap().to_owned();
    // An operator unlocks the task: the engine answers the next extension with "It is locked
    // by worker 'null'" — nobody holds it, so the worker takes it again.
    rig.call_204(
        reqwest::Method::POST,
        &format!("/external-task/{task_id}/unlock"),
        Some(&json!({})),
    )
    .await;
    rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(15))
        .await;
    let holder = worker.handle.worker_id().to_owned();
    let store = worker.store.clone();
    let stats = worker.stop().await;
    assert_eq!((stats.completed, stats.not_reported), (1, 0), "{stats:?}");
    assert_eq!(started(&instance), 1);
    let timeline = store
        .timeline(&bptl::TaskKey::new("camunda", task_id.as_str()))
        .await
        .unwrap();
    assert!(
        timeline.iter().any(|e| e.message.contains("locked again")),
        "{timeline:#?}"
    );
    let log = rig.task_log(&instance).await;
    let success: Vec<_> = log
        .iter()
        .filter(|l| l["successLog"] == json!(true))
        .collect();
    assert_eq!(success[0]["workerId"], json!(holder));
}

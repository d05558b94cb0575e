//! Workers and the engine's long polling: a parked worker picks a new task up at once, and two
//! workers on one engine never run one task twice.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings};
use serde_json::json;

use crate::support::*;

/// When each task's unit started, by task id (and how often).
static STARTS: LazyLock<Mutex<HashMap<String, Vec<Instant>>>> = LazyLock::new(Mutex::default);

fn starts_of_instance(rig_instance: &str) -> Vec<Instant> {
    INSTANCE_STARTS
        .lock()
        .unwrap()
        .get(rig_instance)
        .cloned()
        .unwrap_or_default()
}

static INSTANCE_STARTS: LazyLock<Mutex<HashMap<String, Vec<Instant>>>> =
    LazyLock::new(Mutex::default);

/// Count runs per task and per instance; take `sleepMs` if set (default 20 ms).
#[register]
async fn counted(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let now = Instant::now();
    STARTS
        .lock()
        .unwrap()
        .entry(task.task_id().to_owned())
        .or_default()
        .push(now);
    INSTANCE_STARTS
        .lock()
        .unwrap()
        .entry(task.process_instance_id().unwrap_or_default().to_owned())
        .or_default()
        .push(now);
    let ms: Option<u64> = optional_variable_as(&task.get_variables()?, "sleepMs")?;
    tokio::time::sleep(Duration::from_millis(ms.unwrap_or(20))).await;
    Ok(variables! { "by": task.worker_id().unwrap_or_default() })
}

fn counted_mapping(topic: &str) -> TaskMapping {
    TaskMapping::new(topic, "real_engine::workers::counted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_worker_picks_up_a_new_task_at_once() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("long_poll");
    let topic = rig.unique("long-poll");
    rig.deploy(&process(&key, &[Task::new(&topic)], None)).await;
    let cfg = bptl::runtime::WorkerConfig {
        async_response_timeout: Duration::from_secs(20),
        ..config()
    };
    let worker = rig.spawn_worker(
        TaskMappings::new([counted_mapping(&topic)]).unwrap(),
        cfg,
        |b| b,
    );
    let mut delays = Vec::new();
    for _ in 0..4 {
        // Let the worker park its long poll (and stay parked a while).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let asked = Instant::now();
        let instance = rig.start(&key, Variables::new()).await;
        wait_until("the unit starts", Duration::from_secs(10), || {
            !starts_of_instance(&instance).is_empty()
        })
        .await;
        delays.push(starts_of_instance(&instance)[0] - asked);
        rig.wait_completed(std::slice::from_ref(&instance), Duration::from_secs(10))
            .await;
    }
    let stats = worker.stop().await;
    assert_eq!(stats.completed, 4, "{stats:?}");
    // Well under a second, even on a cold engine; usually a few tens of milliseconds.
    let mut sorted = delays.clone();
    sorted.sort();
    assert!(
        sorted[3] < Duration::from_millis(1000) && sorted[1] < Duration::from_millis(400),
        "from the start of an instance to its unit running, with the worker parked: {delays:?} ({})",
        rig.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_run_one_task_twice() {
    let Some(rig) = Rig::new() else { return };
    let key = rig.unique("two_workers");
    let (a, b) = (rig.unique("two-a"), rig.unique("two-b"));
    rig.deploy(&process(&key, &[Task::new(&a), Task::new(&b)], None))
        .await;
    let instances = rig.start_many(&key, 30).await;
    let mappings = || TaskMappings::new([counted_mapping(&a), counted_mapping(&b)]).unwrap();
    let cfg = bptl::runtime::WorkerConfig {
        max_tasks: 4,
        ..config()
    };
    let one = rig.spawn_worker(mappings(), cfg.clone(), |b| b);
    let two = rig.spawn_worker(mappings(), cfg, |b| b);
    assert_ne!(one.handle.worker_id(), two.handle.worker_id());
    let (id_one, id_two) = (
        one.handle.worker_id().to_owned(),
        two.handle.worker_id().to_owned(),
    );
    rig.wait_completed(&instances, Duration::from_secs(60))
        .await;
    let (s1, s2) = (one.stop().await, two.stop().await);
    assert_eq!(s1.completed + s2.completed, 60, "{s1:?} {s2:?}");
    assert!(
        s1.completed > 0 && s2.completed > 0,
        "both worked: {s1:?} {s2:?}"
    );

    // Every task ran once, and the engine logged one success per task, by the worker that ran
    // it.
    let mut task_ids = Vec::new();
    for instance in &instances {
        let log = rig.task_log(instance).await;
        let successes: Vec<_> = log
            .iter()
            .filter(|l| l["successLog"] == json!(true))
            .collect();
        assert_eq!(successes.len(), 2, "{log:#?}");
        for s in successes {
            let worker = s["workerId"].as_str().unwrap();
            assert!(worker == id_one || worker == id_two, "{s}");
            task_ids.push(s["externalTaskId"].as_str().unwrap().to_owned());
        }
        assert!(
            log.iter().all(|l| l["failureLog"] != json!(true)),
            "{log:#?}"
        );
    }
    let starts = STARTS.lock().unwrap();
    for id in &task_ids {
        assert_eq!(starts.get(id).map(Vec::len), Some(1), "task {id}");
    }
}

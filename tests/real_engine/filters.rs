//! fetchAndLock's filters and orderings as our client sends them — tenant ids, business key,
//! process definition id/key/version tag, process variables, `usePriority`, `sorting`,
//! `includeExtensionProperties` — and the external-task queries; the worker's `use_priority`.

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bptl::camunda::{
    ExternalTask, ExternalTaskQuery, FetchAndLock, FetchSorting, FetchTopic, SortOrder,
};
use bptl::prelude::*;
use bptl::{TaskMapping, TaskMappings};
use serde_json::json;

use crate::support::*;

const LOCK: Duration = Duration::from_secs(30);

/// The scene: one topic, five instances of four processes.
struct Scene {
    topic: String,
    k1: String,
    k2: String,
    def1: String,
    /// k1 with business key bk-1 and region north.
    i1: String,
    /// k1 with business key bk-2 and region south.
    i2: String,
    /// k2 (priority 50).
    i3: String,
    /// k3 of tenant-a.
    ia: String,
    /// k4 of tenant-b.
    ib: String,
}

async fn scene(rig: &Rig) -> Scene {
    let topic = rig.unique("filtered");
    let (k1, k2, k3, k4) = (
        rig.unique("filter_one"),
        rig.unique("filter_two"),
        rig.unique("filter_tenant_a"),
        rig.unique("filter_tenant_b"),
    );
    let d1 = rig
        .deploy(&process(
            &k1,
            &[Task::new(&topic)
                .priority(5)
                .property("color", "red")
                .property("size", "L")],
            Some("v1"),
        ))
        .await;
    rig.deploy(&process(&k2, &[Task::new(&topic).priority(50)], None))
        .await;
    rig.deploy_tenant(&process(&k3, &[Task::new(&topic)], None), Some("tenant-a"))
        .await;
    rig.deploy_tenant(&process(&k4, &[Task::new(&topic)], None), Some("tenant-b"))
        .await;
    let def1 = d1
        .deployed_process_definitions
        .keys()
        .next()
        .unwrap()
        .clone();
    let i1 = rig
        .start_typed(
            &k1,
            json!({"region": {"value": "north", "type": "String"}}),
            Some("bk-1"),
        )
        .await;
    // Distinct creation times for the sorting checks.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let i2 = rig
        .start_typed(
            &k1,
            json!({"region": {"value": "south", "type": "String"}}),
            Some("bk-2"),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let i3 = rig.start_typed(&k2, json!({}), Some("bk-3")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ia = rig.start_in(&k3, Some("tenant-a"), json!({}), None).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ib = rig.start_in(&k4, Some("tenant-b"), json!({}), None).await;
    Scene {
        topic,
        k1,
        k2,
        def1,
        i1,
        i2,
        i3,
        ia,
        ib,
    }
}

/// Fetch with `request`, then unlock what came, so that the next fetch sees everything again.
async fn fetch(rig: &Rig, request: FetchAndLock) -> Vec<ExternalTask> {
    let tasks = rig.client.fetch_and_lock(&request).await.unwrap();
    for task in &tasks {
        rig.client.unlock(&task.id).await.unwrap();
    }
    tasks
}

async fn instances(rig: &Rig, topic: FetchTopic) -> BTreeSet<String> {
    fetch(rig, FetchAndLock::new("filter-worker", 20).topic(topic))
        .await
        .into_iter()
        .map(|t| t.process_instance_id.unwrap())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_filters_select_what_they_say() {
    let Some(rig) = Rig::new() else { return };
    let s = scene(&rig).await;
    let t = || FetchTopic::new(&s.topic, LOCK);

    assert_eq!(
        instances(&rig, t()).await,
        set(&[&s.i1, &s.i2, &s.i3, &s.ia, &s.ib])
    );
    assert_eq!(
        instances(&rig, t().business_key("bk-2")).await,
        set(&[&s.i2])
    );
    assert_eq!(
        instances(&rig, t().process_definition_key(&s.k2)).await,
        set(&[&s.i3])
    );
    assert_eq!(
        instances(&rig, t().process_definition_key_in([&s.k1, &s.k2])).await,
        set(&[&s.i1, &s.i2, &s.i3])
    );
    let mut by_id = t();
    by_id.process_definition_id = Some(s.def1.clone());
    assert_eq!(instances(&rig, by_id).await, set(&[&s.i1, &s.i2]));
    let mut by_ids = t();
    by_ids.process_definition_id_in = Some(vec![s.def1.clone()]);
    assert_eq!(instances(&rig, by_ids).await, set(&[&s.i1, &s.i2]));
    let mut by_tag = t();
    by_tag.process_definition_version_tag = Some("v1".into());
    assert_eq!(instances(&rig, by_tag).await, set(&[&s.i1, &s.i2]));
    assert_eq!(
        instances(&rig, t().tenant_id_in(["tenant-a"])).await,
        set(&[&s.ia])
    );
    assert_eq!(
        instances(&rig, t().tenant_id_in(["tenant-a", "tenant-b"])).await,
        set(&[&s.ia, &s.ib])
    );
    let mut untenanted = t();
    untenanted.without_tenant_id = true;
    assert_eq!(
        instances(&rig, untenanted).await,
        set(&[&s.i1, &s.i2, &s.i3])
    );
    assert_eq!(
        instances(&rig, t().process_variable("region", json!("south"))).await,
        set(&[&s.i2])
    );
    assert_eq!(
        instances(
            &rig,
            t().business_key("bk-1")
                .process_variable("region", json!("south"))
        )
        .await,
        BTreeSet::new(),
        "filters combine"
    );

    // What a fetched task says about itself.
    let tasks = fetch(
        &rig,
        FetchAndLock::new("filter-worker", 20).topic(t().include_extension_properties(true)),
    )
    .await;
    for task in &tasks {
        let instance = task.process_instance_id.as_deref().unwrap();
        if instance == s.i1 || instance == s.i2 {
            assert_eq!(
                task.extension_properties,
                [
                    ("color".to_owned(), "red".to_owned()),
                    ("size".to_owned(), "L".to_owned())
                ]
                .into(),
                "{task:?}"
            );
            assert_eq!(task.priority, 5);
            assert_eq!(task.process_definition_version_tag.as_deref(), Some("v1"));
            assert_eq!(task.process_definition_key.as_deref(), Some(s.k1.as_str()));
        } else {
            assert!(task.extension_properties.is_empty(), "{task:?}");
        }
        let tenant = task.tenant_id.as_deref();
        match instance {
            i if i == s.ia => assert_eq!(tenant, Some("tenant-a")),
            i if i == s.ib => assert_eq!(tenant, Some("tenant-b")),
            _ => assert_eq!(tenant, None),
        }
        if instance == s.i2 {
            assert_eq!(task.business_key.as_deref(), Some("bk-2"));
        }
        assert!(task.create_time.is_some(), "{task:?}");
        assert_eq!(task.worker_id.as_deref(), Some("filter-worker"));
        assert!(task.lock_expiration_time.is_some());
    }
    let plain = fetch(&rig, FetchAndLock::new("filter-worker", 20).topic(t())).await;
    assert!(
        plain.iter().all(|t| t.extension_properties.is_empty()),
        "extension properties only when asked for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_and_sorting_order_what_is_fetched() {
    let Some(rig) = Rig::new() else { return };
    let s = scene(&rig).await;
    let one = |req: FetchAndLock| req.topic(FetchTopic::new(&s.topic, LOCK));
    let first = |tasks: Vec<ExternalTask>| tasks[0].process_instance_id.clone().unwrap();

    let prioritized = fetch(&rig, one(FetchAndLock::new("w", 1).use_priority(true))).await;
    assert_eq!(first(prioritized), s.i3, "priority 50 first");
    let oldest = fetch(
        &rig,
        one(FetchAndLock::new("w", 1).sort(FetchSorting::create_time(SortOrder::Asc))),
    )
    .await;
    assert_eq!(first(oldest), s.i1);
    let newest = fetch(
        &rig,
        one(FetchAndLock::new("w", 1).sort(FetchSorting::create_time(SortOrder::Desc))),
    )
    .await;
    assert_eq!(first(newest), s.ib);
    // Priority first, then creation time among equals.
    let all = fetch(
        &rig,
        one(FetchAndLock::new("w", 10)
            .use_priority(true)
            .sort(FetchSorting::create_time(SortOrder::Desc))),
    )
    .await;
    let order: Vec<String> = all
        .into_iter()
        .map(|t| t.process_instance_id.unwrap())
        .collect();
    assert_eq!(
        order,
        [&s.i3, &s.i2, &s.i1, &s.ib, &s.ia].map(String::clone),
        "{order:?}"
    );

    // The external-task queries.
    let query = ExternalTaskQuery {
        topic_name: Some(s.topic.clone()),
        ..Default::default()
    };
    assert_eq!(rig.client.count_external_tasks(&query).await.unwrap(), 5);
    let tenants = ExternalTaskQuery {
        tenant_id_in: Some(vec!["tenant-a".into(), "tenant-b".into()]),
        ..query.clone()
    };
    assert_eq!(rig.client.count_external_tasks(&tenants).await.unwrap(), 2);
    let sorted = ExternalTaskQuery {
        sort_by: Some("taskPriority".into()),
        sort_order: Some(SortOrder::Desc),
        max_results: Some(2),
        ..query.clone()
    };
    let top = rig.client.list_external_tasks(&sorted).await.unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].priority, 50);
    let high = ExternalTaskQuery {
        priority_higher_than_or_equals: Some(5),
        ..query.clone()
    };
    assert_eq!(rig.client.count_external_tasks(&high).await.unwrap(), 3);
    let by_instance = ExternalTaskQuery {
        process_instance_id: Some(s.i2.clone()),
        ..query.clone()
    };
    let listed = rig.client.list_external_tasks(&by_instance).await.unwrap();
    assert_eq!(listed.len(), 1);
    let one_task = rig.client.get_external_task(&listed[0].id).await.unwrap();
    assert_eq!(one_task.business_key.as_deref(), Some("bk-2"));
    assert_eq!(one_task.topic_name, s.topic);
    let _ = &s.k2;
}

static ORDER: LazyLock<Mutex<Vec<i64>>> = LazyLock::new(Mutex::default);

/// Record the task's priority.
#[register]
async fn note_priority(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    ORDER.lock().unwrap().push(task.priority());
    Ok(Variables::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_use_priority_takes_the_highest_first() {
    let Some(rig) = Rig::new() else { return };
    let topic = rig.unique("prioritized");
    let mut instances = Vec::new();
    for priority in [1, 30, 10, 20] {
        let key = rig.unique(&format!("priority_{priority}"));
        rig.deploy(&process(
            &key,
            &[Task::new(&topic).priority(priority)],
            None,
        ))
        .await;
        instances.push(rig.start(&key, Variables::new()).await);
    }
    let cfg = bptl::runtime::WorkerConfig {
        max_tasks: 1,
        use_priority: true,
        ..config()
    };
    let worker = rig.spawn_worker(
        TaskMappings::new([TaskMapping::new(
            &topic,
            "real_engine::filters::note_priority",
        )])
        .unwrap(),
        cfg,
        |b| b,
    );
    rig.wait_completed(&instances, Duration::from_secs(30))
        .await;
    worker.stop().await;
    assert_eq!(*ORDER.lock().unwrap(), [30, 20, 10, 1]);
}

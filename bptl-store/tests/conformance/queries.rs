//! Listing and counting: filters, paging, process instances, business keys, stats, hourly counts.

use super::*;

pub(super) async fn list_filters_newest_first_and_pages(store: Arc<dyn TaskStore>) {
    let base = Timestamp::now();
    let mut saved = Vec::new();
    for i in 0..10 {
        let mut r = record(if i % 2 == 0 { "even" } else { "odd" });
        r.created_at = base + SignedDuration::from_secs(i);
        r.status = TaskStatus::ALL[i as usize % 5];
        r.process_instance_id = Some(format!("pi-{}", i % 3));
        if i == 9 {
            r.engine = "camunda".into();
        }
        store.save(&r).await.unwrap();
        saved.push(r);
    }
    let ids = |records: Vec<TaskRecord>| records.into_iter().map(|r| r.task_id).collect::<Vec<_>>();
    let newest_first: Vec<String> = saved.iter().rev().map(|r| r.task_id.clone()).collect();
    assert_eq!(
        ids(store.list(&TaskFilter::default()).await.unwrap()),
        newest_first
    );
    assert_eq!(
        ids(store.list(&TaskFilter::default().page(2, 3)).await.unwrap()),
        newest_first[2..5]
    );
    assert_eq!(
        ids(store
            .list(&TaskFilter {
                offset: 8,
                ..TaskFilter::default()
            })
            .await
            .unwrap()),
        newest_first[8..]
    );
    assert!(
        store
            .list(&TaskFilter::default().page(10, 5))
            .await
            .unwrap()
            .is_empty()
    );
    let check = |filter: TaskFilter| {
        let expected: Vec<String> = saved
            .iter()
            .rev()
            .filter(|r| filter.matches(r))
            .map(|r| r.task_id.clone())
            .collect();
        (filter, expected)
    };
    for (filter, expected) in [
        check(TaskFilter::default().topic("even")),
        check(TaskFilter::default().status(TaskStatus::Failed)),
        check(
            TaskFilter::default()
                .status(TaskStatus::Failed)
                .status(TaskStatus::Initial),
        ),
        check(TaskFilter::default().process_instance("pi-1")),
        check(TaskFilter::default().engine("camunda")),
        check(TaskFilter::default().since(base + SignedDuration::from_secs(7))),
        check(
            TaskFilter::default()
                .topic("odd")
                .status(TaskStatus::InProgress)
                .engine("memory"),
        ),
    ] {
        assert!(!expected.is_empty(), "{filter:?} selects something");
        assert_eq!(
            ids(store.list(&filter).await.unwrap()),
            expected,
            "{filter:?}"
        );
    }
    assert!(
        store
            .list(&TaskFilter::default().topic("none"))
            .await
            .unwrap()
            .is_empty()
    );

    // Equal creation instants: the later saved record comes first.
    let at = base + SignedDuration::from_hours(1);
    let (mut x, mut y) = (record("tie"), record("tie"));
    x.created_at = at;
    y.created_at = at;
    store.save(&x).await.unwrap();
    store.save(&y).await.unwrap();
    assert_eq!(
        ids(store
            .list(&TaskFilter::default().topic("tie"))
            .await
            .unwrap()),
        vec![y.task_id, x.task_id]
    );
}

pub(super) async fn stats_count_per_topic_and_status(store: Arc<dyn TaskStore>) {
    let old = Timestamp::now() - SignedDuration::from_hours(48);
    for (topic, status, n, created) in [
        ("b", TaskStatus::Completed, 3, None),
        ("b", TaskStatus::Initial, 1, None),
        ("a", TaskStatus::Failed, 2, None),
        ("a", TaskStatus::InProgress, 1, None),
        ("a", TaskStatus::Completed, 4, Some(old)),
    ] {
        for _ in 0..n {
            let mut r = record(topic);
            r.status = status;
            if let Some(at) = created {
                r.created_at = at;
            }
            store.save(&r).await.unwrap();
        }
    }
    let row = |topic: &str, status, count| StatsRow {
        topic: topic.into(),
        status,
        count,
    };
    assert_eq!(
        store.stats(None).await.unwrap(),
        vec![
            row("a", TaskStatus::InProgress, 1),
            row("a", TaskStatus::Failed, 2),
            row("a", TaskStatus::Completed, 4),
            row("b", TaskStatus::Initial, 1),
            row("b", TaskStatus::Completed, 3),
        ]
    );
    let day = Timestamp::now() - SignedDuration::from_hours(24);
    assert_eq!(
        store.stats(Some(day)).await.unwrap(),
        vec![
            row("a", TaskStatus::InProgress, 1),
            row("a", TaskStatus::Failed, 2),
            row("b", TaskStatus::Initial, 1),
            row("b", TaskStatus::Completed, 3),
        ]
    );
}

pub(super) async fn process_instances_that_end_alike_are_told_apart(store: Arc<dyn TaskStore>) {
    // Ids with the same last characters (UUIDs rarely, numeric ids often), one without any, and
    // ids shorter than those characters.
    let ids = [
        Some("11111111-aaaa-4aaa-8aaa-123456789abc"),
        Some("22222222-bbbb-4bbb-8bbb-123456789abc"),
        Some("1000012345678"),
        Some("2000012345678"),
        Some("42"),
        None,
    ];
    let mut saved = Vec::new();
    for (i, pi) in ids.iter().enumerate() {
        let mut r = record("alike");
        r.process_instance_id = pi.map(str::to_owned);
        r.status = TaskStatus::ALL[i % 5];
        store.save(&r).await.unwrap();
        saved.push(r);
    }
    for (pi, r) in ids.iter().zip(&saved) {
        let Some(pi) = pi else { continue };
        let found = store
            .list(&TaskFilter::default().process_instance(*pi))
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|f| &f.task_id).collect::<Vec<_>>(),
            vec![&r.task_id],
            "{pi}"
        );
    }
    assert!(
        store
            .list(&TaskFilter::default().process_instance("12345678"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(super) async fn list_filters_by_business_key(store: Arc<dyn TaskStore>) {
    for (i, key) in [Some("zaak-1"), Some("zaak-2"), None, Some("zaak-1")]
        .into_iter()
        .enumerate()
    {
        let mut r = record("bk");
        r.business_key = key.map(str::to_owned);
        r.created_at = Timestamp::now() + SignedDuration::from_secs(i as i64);
        store.save(&r).await.unwrap();
    }
    let hits = store
        .list(&TaskFilter::default().business_key("zaak-1"))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter()
            .all(|r| r.business_key.as_deref() == Some("zaak-1"))
    );
    assert!(hits[0].created_at > hits[1].created_at, "newest first");
    let none = store
        .list(&TaskFilter::default().business_key("zaak-9"))
        .await
        .unwrap();
    assert!(none.is_empty());
}

pub(super) async fn hourly_counts_outcomes_per_hour_of_fetching(store: Arc<dyn TaskStore>) {
    let this_hour = bptl_core::store::hour_of(Timestamp::now());
    let earlier = this_hour - SignedDuration::from_hours(3);
    let too_old = this_hour - SignedDuration::from_hours(30);
    for (at, status, error, n) in [
        (this_hour, TaskStatus::Completed, None, 3),
        (
            this_hour,
            TaskStatus::Failed,
            Some("BPMN error E1: rejected"),
            2,
        ),
        (this_hour, TaskStatus::Failed, Some("boom"), 1),
        (this_hour, TaskStatus::InProgress, None, 4),
        (
            earlier + SignedDuration::from_mins(59),
            TaskStatus::Failed,
            Some("boom"),
            2,
        ),
        (too_old, TaskStatus::Completed, None, 5),
    ] {
        for _ in 0..n {
            let mut r = record("hourly");
            r.status = status;
            r.execution_error = error.map(str::to_owned);
            r.created_at = at;
            store.save(&r).await.unwrap();
        }
    }
    let rows = store
        .hourly(Timestamp::now() - SignedDuration::from_hours(24))
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            bptl_core::HourlyRow {
                hour: earlier,
                completed: 0,
                bpmn_errors: 0,
                failed: 2,
            },
            bptl_core::HourlyRow {
                hour: this_hour,
                completed: 3,
                bpmn_errors: 2,
                failed: 1,
            },
        ]
    );
}

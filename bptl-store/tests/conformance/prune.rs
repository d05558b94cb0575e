//! Pruning and erasure: old completed and failed records, retention, a process instance.

use super::*;

pub(super) async fn prune_deletes_only_old_completed_records_with_their_timelines(
    store: Arc<dyn TaskStore>,
) {
    let cutoff = Timestamp::now();
    let old = cutoff - SignedDuration::from_hours(24 * 31);
    seeded_then_pruned(&*store, old, cutoff, TaskStatus::Completed).await;
    // The helper behind `prune --older-than` and `store.retention`.
    assert_eq!(
        bptl_store::prune_older_than(&*store, std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    let mut two_hours = record("p");
    two_hours.status = TaskStatus::Completed;
    two_hours.updated_at = Timestamp::now() - SignedDuration::from_hours(2);
    store.save(&two_hours).await.unwrap();
    assert_eq!(
        bptl_store::prune_older_than(&*store, std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.get(&two_hours.key()).await.unwrap(), None);
}

pub(super) async fn prune_failed_deletes_only_old_failed_records_with_their_timelines(
    store: Arc<dyn TaskStore>,
) {
    let cutoff = Timestamp::now();
    let old = cutoff - SignedDuration::from_hours(24 * 91);
    seeded_then_pruned(&*store, old, cutoff, TaskStatus::Failed).await;
    // `store.retention_failed` as the worker applies it: failed records older than it go,
    // completed ones of the same age stay (their retention is not set).
    let two_hours_ago = Timestamp::now() - SignedDuration::from_hours(2);
    let mut failed = record("p");
    failed.status = TaskStatus::Failed;
    failed.updated_at = two_hours_ago;
    store.save(&failed).await.unwrap();
    let mut completed = record("p");
    completed.status = TaskStatus::Completed;
    completed.updated_at = two_hours_ago;
    store.save(&completed).await.unwrap();
    let retention = bptl_store::Retention {
        completed: None,
        failed: Some(std::time::Duration::from_secs(3600)),
    };
    let pruning = bptl_store::spawn_retention(
        Arc::clone(&store),
        retention,
        std::time::Duration::from_secs(3600),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.get(&failed.key()).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not prune the failed record"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    pruning.abort();
    assert!(store.get(&completed.key()).await.unwrap().is_some());
    assert_eq!(
        bptl_store::prune_failed_older_than(&*store, std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
}

pub(super) async fn erasing_a_process_instance_deletes_all_its_records_and_timelines(
    store: Arc<dyn TaskStore>,
) {
    let mut erased = Vec::new();
    let mut kept = Vec::new();
    for instance in [Some("pi-erase"), Some("pi-erase-2"), Some("PI-ERASE"), None] {
        for status in TaskStatus::ALL {
            let mut r = record("p");
            r.status = status;
            r.process_instance_id = instance.map(str::to_owned);
            store.save(&r).await.unwrap();
            store
                .append_timelines(&[
                    (
                        r.key(),
                        entry(EventKind::Note, "personal", json!({"name": "x"})),
                    ),
                    (r.key(), entry(EventKind::Note, "more", json!(null))),
                ])
                .await
                .unwrap();
            if instance == Some("pi-erase") {
                erased.push(r);
            } else {
                kept.push(r);
            }
        }
    }
    let n = u64::try_from(erased.len()).unwrap();
    assert_eq!(store.erase_process_instance("pi-erase").await.unwrap(), n);
    assert_eq!(store.erase_process_instance("pi-erase").await.unwrap(), 0);
    for r in &erased {
        assert_eq!(store.get(&r.key()).await.unwrap(), None);
        assert!(store.timeline(&r.key()).await.unwrap().is_empty());
    }
    let listed = store
        .list(&TaskFilter::default().process_instance("pi-erase"))
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    for r in &kept {
        assert_eq!(store.get(&r.key()).await.unwrap().as_ref(), Some(r));
        assert_eq!(store.timeline(&r.key()).await.unwrap().len(), 2);
    }
    // A task of the instance stored again later starts with an empty timeline.
    store.save(&erased[0]).await.unwrap();
    assert!(store.timeline(&erased[0].key()).await.unwrap().is_empty());
}

/// One record of every status, old (`old`) and fresh (after `cutoff`), each with a timeline
/// entry; prunes `pruned` records older than `cutoff` (twice: the second prunes nothing) and
/// checks that exactly the old one of that status went, with its timeline.
async fn seeded_then_pruned(
    store: &dyn TaskStore,
    old: Timestamp,
    cutoff: Timestamp,
    pruned: TaskStatus,
) {
    let prune = |cutoff| async move {
        match pruned {
            TaskStatus::Completed => store.prune_completed(cutoff).await.unwrap(),
            TaskStatus::Failed => store.prune_failed(cutoff).await.unwrap(),
            other => panic!("no prune for {other:?}"),
        }
    };
    let mut keep = Vec::new();
    let mut gone = Vec::new();
    for status in TaskStatus::ALL {
        for updated in [old, cutoff + SignedDuration::from_secs(1)] {
            let mut r = record("p");
            r.status = status;
            r.updated_at = updated;
            store.save(&r).await.unwrap();
            store
                .append_timeline(&r.key(), &entry(EventKind::Note, "x", json!(null)))
                .await
                .unwrap();
            if status == pruned && updated == old {
                gone.push(r.key());
            } else {
                keep.push(r.key());
            }
        }
    }
    assert_eq!(prune(cutoff).await, 1);
    assert_eq!(prune(cutoff).await, 0);
    for key in &gone {
        assert_eq!(store.get(key).await.unwrap(), None);
        assert!(store.timeline(key).await.unwrap().is_empty());
    }
    for key in &keep {
        assert!(store.get(key).await.unwrap().is_some());
        assert_eq!(store.timeline(key).await.unwrap().len(), 1);
    }
}

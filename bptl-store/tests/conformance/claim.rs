//! The claim: whether the unit runs, alone and racing.

use super::*;

pub(super) async fn claim_decides_whether_the_unit_runs(store: Arc<dyn TaskStore>) {
    // A new task runs.
    let first = record("c");
    let Claim::Run {
        record: claimed,
        previous: None,
    } = store.claim(&first).await.unwrap()
    else {
        panic!("a new task runs, and there was no record before");
    };
    assert_eq!(claimed.status, TaskStatus::InProgress);
    assert_eq!(claimed.executions, 1);
    assert_eq!(
        store.get(&first.key()).await.unwrap(),
        Some(claimed.clone())
    );

    // Abandoned in progress (a crash): it runs again, counted, under the new worker.
    let mut again = first.clone();
    again.worker_id = "worker-2".into();
    again.created_at = Timestamp::now() + SignedDuration::from_secs(60);
    again.lock_expires_at = Some(Timestamp::now() + SignedDuration::from_mins(10));
    let Claim::Run {
        record: rerun,
        previous: Some(TaskStatus::InProgress),
    } = store.claim(&again).await.unwrap()
    else {
        panic!("an abandoned task runs again, and the claim says it was in progress");
    };
    assert_eq!(rerun.executions, 2);
    assert_eq!(rerun.worker_id, "worker-2");
    assert_eq!(rerun.lock_expires_at, again.lock_expires_at);
    assert_eq!(rerun.created_at, first.created_at, "created_at stays");
    assert_eq!(store.get(&first.key()).await.unwrap(), Some(rerun.clone()));

    // Performed: never again, whoever asks; nothing changes.
    let mut performed = rerun.clone();
    performed.status = TaskStatus::Performed;
    performed.result_variables = Some(variables! { "doubled": 42 });
    store.save(&performed).await.unwrap();
    for worker in ["worker-1", "worker-3"] {
        let mut asking = first.clone();
        asking.worker_id = worker.into();
        assert_eq!(
            store.claim(&asking).await.unwrap(),
            Claim::Performed(performed.clone())
        );
    }
    let mut completed = performed.clone();
    completed.status = TaskStatus::Completed;
    store.save(&completed).await.unwrap();
    assert_eq!(
        store.claim(&first).await.unwrap(),
        Claim::Performed(completed)
    );
    assert_eq!(
        store.get(&first.key()).await.unwrap().unwrap().executions,
        2
    );

    // Failed (the engine retries it): runs again, the old error cleared.
    let mut failed = record("c");
    failed.status = TaskStatus::Failed;
    failed.execution_error = Some("boom".into());
    failed.executions = 1;
    store.save(&failed).await.unwrap();
    let Claim::Run {
        record: retry,
        previous: Some(TaskStatus::Failed),
    } = store.claim(&failed).await.unwrap()
    else {
        panic!("a failed task is retried, and the claim says it had failed");
    };
    assert_eq!((retry.executions, retry.execution_error), (2, None));

    // Reset by an operator (`execute --force`): runs again.
    assert!(
        store
            .reset_status(&first.key(), TaskStatus::Initial)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.claim(&first).await.unwrap(),
        Claim::Run { record, previous: Some(TaskStatus::Initial) } if record.executions == 3
    ));
}

pub(super) async fn concurrent_claims_of_one_task_are_serial(store: Arc<dyn TaskStore>) {
    // 16 claims of the same new task at once: each sees the previous one (no lost update).
    let r = record("race");
    let claims = (0..16).map(|i| {
        let store = Arc::clone(&store);
        let mut mine = r.clone();
        mine.worker_id = format!("worker-{i}");
        tokio::spawn(async move { store.claim(&mine).await.unwrap() })
    });
    let mut executions = Vec::new();
    for claim in claims {
        match claim.await.unwrap() {
            Claim::Run { record, .. } => executions.push(record.executions),
            Claim::Performed(_) => panic!("nothing was performed"),
        }
    }
    executions.sort_unstable();
    assert_eq!(executions, (1..=16).collect::<Vec<u32>>());
    assert_eq!(store.get(&r.key()).await.unwrap().unwrap().executions, 16);
}

pub(super) async fn concurrent_claims_never_rerun_a_performed_task(store: Arc<dyn TaskStore>) {
    // Many tasks; for each, one worker performs while others claim: a claim that comes after
    // the result is stored must say Performed, and the stored result is never lost.
    let mut handles = Vec::new();
    for _ in 0..20 {
        let r = record("race2");
        let Claim::Run {
            record: mut mine, ..
        } = store.claim(&r).await.unwrap()
        else {
            panic!("new");
        };
        let store_a = Arc::clone(&store);
        let performer = tokio::spawn(async move {
            mine.status = TaskStatus::Performed;
            mine.result_variables = Some(variables! { "ok": true });
            store_a.save(&mine).await.unwrap();
        });
        let claimers: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                let r = r.clone();
                tokio::spawn(async move { store.claim(&r).await.unwrap() })
            })
            .collect();
        handles.push((r, performer, claimers));
    }
    for (r, performer, claimers) in handles {
        performer.await.unwrap();
        for c in claimers {
            if let Claim::Performed(p) = c.await.unwrap() {
                assert_eq!(p.result_variables, Some(variables! { "ok": true }));
            }
        }
        // A claim either ran before the result was stored (and the performer's save replaced
        // it) or found the result: in no order is the stored result lost.
        let stored = store.get(&r.key()).await.unwrap().unwrap();
        assert_eq!(stored.status, TaskStatus::Performed, "{stored:?}");
        assert_eq!(stored.result_variables, Some(variables! { "ok": true }));
        assert_eq!(store.claim(&r).await.unwrap(), Claim::Performed(stored));
    }
}

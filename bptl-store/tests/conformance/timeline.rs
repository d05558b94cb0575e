//! Timelines: order, unknown keys, batches.

use super::*;

pub(super) async fn timeline_is_ordered_and_drops_unknown_keys(store: Arc<dyn TaskStore>) {
    let a = record("a");
    let b = record("b");
    store.save(&a).await.unwrap();
    store.save(&b).await.unwrap();
    let kinds = [
        EventKind::Status,
        EventKind::Request,
        EventKind::EngineError,
        EventKind::LockExtended,
        EventKind::Callback,
        EventKind::Recovery,
        EventKind::Note,
    ];
    let mut expected = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        // Same instant for all: the order of appending decides.
        let e = TimelineEntry {
            at: Timestamp::UNIX_EPOCH,
            kind,
            message: format!("event {i}"),
            data: if i % 2 == 0 {
                json!({"i": i, "url": "http://x/?…"})
            } else {
                serde_json::Value::Null
            },
        };
        store.append_timeline(&a.key(), &e).await.unwrap();
        store
            .append_timeline(&b.key(), &entry(EventKind::Note, "other", json!(null)))
            .await
            .unwrap();
        expected.push(e);
    }
    assert_eq!(store.timeline(&a.key()).await.unwrap(), expected);
    assert_eq!(store.timeline(&b.key()).await.unwrap().len(), kinds.len());
    let unknown = TaskKey::new("memory", "unknown");
    store
        .append_timeline(&unknown, &entry(EventKind::Note, "lost", json!(null)))
        .await
        .unwrap();
    assert!(store.timeline(&unknown).await.unwrap().is_empty());
}

pub(super) async fn batched_timeline_entries_keep_their_order(store: Arc<dyn TaskStore>) {
    let (a, b) = (record("batch"), record("batch"));
    store.save(&a).await.unwrap();
    store.save(&b).await.unwrap();
    let unknown = TaskKey::new("memory", "nobody");
    // More entries than one statement takes, interleaved between two records and an unknown
    // key (whose entries are dropped).
    let entries: Vec<(TaskKey, TimelineEntry)> = (0..150)
        .map(|i| {
            let key = match i % 3 {
                0 => a.key(),
                1 => b.key(),
                _ => unknown.clone(),
            };
            (key, entry(EventKind::Note, &format!("n{i}"), json!(i)))
        })
        .collect();
    store.append_timelines(&entries).await.unwrap();
    store.append_timelines(&[]).await.unwrap();
    for (key, rest) in [(a.key(), 0), (b.key(), 1)] {
        let got: Vec<_> = store
            .timeline(&key)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        let want: Vec<_> = (0..150)
            .filter(|i| i % 3 == rest)
            .map(|i| format!("n{i}"))
            .collect();
        assert_eq!(got, want);
    }
    assert!(store.timeline(&unknown).await.unwrap().is_empty());
}

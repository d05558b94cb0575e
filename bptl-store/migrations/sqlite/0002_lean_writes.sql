-- Fewer pages written per task (measured: the WAL writes dominated the store's cost).
--
-- The timeline refers to its record by the record's `seq` instead of (engine, task_id): its
-- index then grows at the end, like the records do, instead of touching a random page for
-- every entry (task ids are UUIDs). Entries of unknown records are never inserted (the insert
-- selects the record's seq), and pruning deletes a record's entries with it.
CREATE TABLE bptl_timeline_by_seq (
    id       INTEGER PRIMARY KEY,
    task_seq INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    data     TEXT    NOT NULL
);

INSERT INTO bptl_timeline_by_seq (id, task_seq, at, kind, message, data)
SELECT tl.id, t.seq, tl.at, tl.kind, tl.message, tl.data
FROM bptl_timeline tl
JOIN bptl_tasks t ON t.engine = tl.engine AND t.task_id = tl.task_id;

DROP TABLE bptl_timeline;
ALTER TABLE bptl_timeline_by_seq RENAME TO bptl_timeline;
CREATE INDEX bptl_timeline_task ON bptl_timeline (task_seq);

-- Listing by status uses bptl_tasks_prune (status, updated_at); this second status index only
-- doubled the work of every status change.
DROP INDEX IF EXISTS bptl_tasks_status;


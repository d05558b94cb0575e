-- Timeline entries refer to their record by its row number (bptl_tasks.seq) instead of its
-- engine and random task id, so that the index finding a task's entries grows at its end as
-- records are created, instead of taking an insert at a random place for every entry. Row
-- numbers are never reused (AUTOINCREMENT), so an entry never attaches to a later record.
-- The business-key index leaves out records without one.
CREATE TABLE bptl_tasks_new (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    engine              TEXT    NOT NULL,
    task_id             TEXT    NOT NULL,
    topic               TEXT    NOT NULL,
    worker_id           TEXT    NOT NULL,
    process_instance_id TEXT,
    business_key        TEXT,
    priority            INTEGER NOT NULL DEFAULT 0,
    retries             INTEGER,
    lock_expires_at     INTEGER,
    variables           TEXT    NOT NULL,
    status              TEXT    NOT NULL
        CHECK (status IN ('initial', 'in_progress', 'performed', 'failed', 'completed')),
    result_variables    TEXT,
    execution_error     TEXT,
    engine_error        TEXT,
    executions          INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    reported_at         INTEGER,
    UNIQUE (engine, task_id)
);
INSERT INTO bptl_tasks_new SELECT * FROM bptl_tasks;

CREATE TABLE bptl_timeline_new (
    id       INTEGER PRIMARY KEY,
    task_seq INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    data     TEXT    NOT NULL
);
INSERT INTO bptl_timeline_new (id, task_seq, at, kind, message, data)
    SELECT l.id, t.seq, l.at, l.kind, l.message, l.data
    FROM bptl_timeline l JOIN bptl_tasks t ON t.engine = l.engine AND t.task_id = l.task_id;

DROP TABLE bptl_timeline;
DROP TABLE bptl_tasks;
ALTER TABLE bptl_tasks_new RENAME TO bptl_tasks;
ALTER TABLE bptl_timeline_new RENAME TO bptl_timeline;

CREATE INDEX bptl_tasks_created ON bptl_tasks (created_at DESC, seq DESC);
CREATE INDEX bptl_tasks_status_created ON bptl_tasks (status, created_at DESC, seq DESC);
CREATE INDEX bptl_tasks_topic ON bptl_tasks (topic, created_at);
CREATE INDEX bptl_tasks_process_instance ON bptl_tasks (process_instance_id);
CREATE INDEX bptl_tasks_business_key ON bptl_tasks (business_key, created_at DESC)
    WHERE business_key IS NOT NULL;
CREATE INDEX bptl_timeline_task ON bptl_timeline (task_seq, id);

-- Task records and their timelines (SQLite), the baseline schema.
-- Instants are nanoseconds since the Unix epoch (UTC), so that they round-trip exactly; JSON is
-- stored as text, losslessly. Row numbers are never reused (AUTOINCREMENT): newest first by
-- `seq`, a task's timeline entries in the order they were appended by `id`, and an entry never
-- attaches to a later record.
CREATE TABLE bptl_tasks (
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

CREATE INDEX bptl_tasks_created ON bptl_tasks (created_at DESC, seq DESC);
CREATE INDEX bptl_tasks_status_created ON bptl_tasks (status, created_at DESC, seq DESC);
CREATE INDEX bptl_tasks_topic ON bptl_tasks (topic, created_at);
CREATE INDEX bptl_tasks_process_instance ON bptl_tasks (process_instance_id);
CREATE INDEX bptl_tasks_business_key ON bptl_tasks (business_key, created_at DESC)
    WHERE business_key IS NOT NULL;

-- One row per entry, referring to its record by row number (the index finding a task's entries
-- grows at its end as records are created). The store checks the reference itself: an entry of
-- an unknown record is not inserted, and a record's entries are deleted with it.
CREATE TABLE bptl_timeline (
    id       INTEGER PRIMARY KEY,
    task_seq INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    message  TEXT    NOT NULL,
    data     TEXT    NOT NULL
);

CREATE INDEX bptl_timeline_task ON bptl_timeline (task_seq, id);

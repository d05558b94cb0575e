-- Task records and their timelines (SQLite), the baseline schema.
-- Instants are nanoseconds since the Unix epoch (UTC) so that they round-trip exactly; JSON is
-- stored as text, losslessly. Row ids grow at the end (max + 1): newest first by `seq`, and
-- a task's timeline entries in the order they were appended by `id`.
CREATE TABLE IF NOT EXISTS bptl_tasks (
    seq                 INTEGER PRIMARY KEY,
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

-- Records by status (operators, recovery, pruning) are found through the index
-- bptl_tasks_status_created of migration 2.
CREATE INDEX IF NOT EXISTS bptl_tasks_created ON bptl_tasks (created_at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS bptl_tasks_topic ON bptl_tasks (topic, created_at);
CREATE INDEX IF NOT EXISTS bptl_tasks_process_instance ON bptl_tasks (process_instance_id);

CREATE TABLE IF NOT EXISTS bptl_timeline (
    id      INTEGER PRIMARY KEY,
    engine  TEXT    NOT NULL,
    task_id TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    message TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    FOREIGN KEY (engine, task_id) REFERENCES bptl_tasks (engine, task_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS bptl_timeline_task ON bptl_timeline (engine, task_id, id);

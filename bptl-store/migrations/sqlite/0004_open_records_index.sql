-- Fewer index writes per record. The store writes most records once, already completed (a task
-- claimed, performed and completed within one write-through interval is one upsert):
-- * the status index covers only records that are not completed: the few an operator lists by
--   status and the ones recovery reads; completed records are pruned through the creation index;
-- * no AUTOINCREMENT: new rows are numbered max(seq) + 1 without a write to sqlite_sequence
--   (the timeline refers to rows by seq, and pruning deletes a record's timeline with it).
CREATE TABLE bptl_tasks_v4 (
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

INSERT INTO bptl_tasks_v4 (seq, engine, task_id, topic, worker_id, process_instance_id,
    business_key, priority, retries, lock_expires_at, variables, status, result_variables,
    execution_error, engine_error, executions, created_at, updated_at, reported_at)
SELECT seq, engine, task_id, topic, worker_id, process_instance_id, business_key, priority,
    retries, lock_expires_at, variables, status, result_variables, execution_error,
    engine_error, executions, created_at, updated_at, reported_at
FROM bptl_tasks;

DROP TABLE bptl_tasks;
ALTER TABLE bptl_tasks_v4 RENAME TO bptl_tasks;

CREATE INDEX bptl_tasks_created ON bptl_tasks (created_at DESC, seq DESC);
CREATE INDEX bptl_tasks_topic ON bptl_tasks (topic, created_at);
CREATE INDEX bptl_tasks_process_instance ON bptl_tasks (process_instance_id);
CREATE INDEX bptl_tasks_open ON bptl_tasks (status, created_at) WHERE status <> 'completed';

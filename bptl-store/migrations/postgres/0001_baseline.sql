-- Task records and their timelines (PostgreSQL), the baseline schema.
-- Instants are nanoseconds since the Unix epoch (UTC), so that they round-trip exactly; JSON is
-- stored as text, losslessly (cast to jsonb to query it: variables::jsonb).
CREATE TABLE bptl_tasks (
    seq                 BIGSERIAL PRIMARY KEY,
    engine              TEXT    NOT NULL,
    task_id             TEXT    NOT NULL,
    topic               TEXT    NOT NULL,
    worker_id           TEXT    NOT NULL,
    process_instance_id TEXT,
    business_key        TEXT,
    priority            BIGINT  NOT NULL DEFAULT 0,
    retries             INTEGER,
    lock_expires_at     BIGINT,
    variables           TEXT    NOT NULL,
    status              TEXT    NOT NULL
        CHECK (status IN ('initial', 'in_progress', 'performed', 'failed', 'completed')),
    result_variables    TEXT,
    execution_error     TEXT,
    engine_error        TEXT,
    executions          BIGINT  NOT NULL DEFAULT 0,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    reported_at         BIGINT,
    UNIQUE (engine, task_id)
);

CREATE INDEX bptl_tasks_created ON bptl_tasks (created_at DESC, seq DESC);
CREATE INDEX bptl_tasks_status ON bptl_tasks (status, created_at);
CREATE INDEX bptl_tasks_topic ON bptl_tasks (topic, created_at);
CREATE INDEX bptl_tasks_process_instance ON bptl_tasks (process_instance_id);
CREATE INDEX bptl_tasks_prune ON bptl_tasks (status, updated_at);
CREATE INDEX bptl_tasks_business_key ON bptl_tasks (business_key, created_at DESC)
    WHERE business_key IS NOT NULL;

-- One row per entry, referring to its record by row number (the index finding a task's entries
-- grows at its end as records are created); deleted with its record.
CREATE TABLE bptl_timeline (
    id       BIGSERIAL PRIMARY KEY,
    task_seq BIGINT NOT NULL REFERENCES bptl_tasks (seq) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    kind     TEXT   NOT NULL,
    message  TEXT   NOT NULL,
    data     TEXT   NOT NULL
);

CREATE INDEX bptl_timeline_record ON bptl_timeline (task_seq, id);

-- The intent log's bookkeeping (see the SQLite store's documentation): for each process whose
-- writes reach the database through its log, the last log generation written through. A row
-- whose owner is gone marks a log to replay from the next generation on.
CREATE TABLE bptl_log_owners (
    owner      TEXT    PRIMARY KEY,
    generation INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

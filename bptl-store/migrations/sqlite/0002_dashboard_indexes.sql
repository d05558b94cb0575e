-- The dashboard's task list: one status newest first, and records by business key.
CREATE INDEX IF NOT EXISTS bptl_tasks_status_created ON bptl_tasks (status, created_at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS bptl_tasks_business_key ON bptl_tasks (business_key, created_at DESC);

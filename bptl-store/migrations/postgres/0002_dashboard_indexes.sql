-- The dashboard's task list: records by business key, newest first.
CREATE INDEX IF NOT EXISTS bptl_tasks_business_key ON bptl_tasks (business_key, created_at DESC);

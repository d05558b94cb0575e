-- Timeline entries refer to their record by its row number (bptl_tasks.seq) instead of its
-- engine and random task id, so that the index finding a task's entries grows at its end as
-- records are created. The business-key index leaves out records without one.
ALTER TABLE bptl_timeline ADD COLUMN task_seq BIGINT;
UPDATE bptl_timeline l SET task_seq = t.seq
    FROM bptl_tasks t WHERE t.engine = l.engine AND t.task_id = l.task_id;
DELETE FROM bptl_timeline WHERE task_seq IS NULL;
ALTER TABLE bptl_timeline ALTER COLUMN task_seq SET NOT NULL;
-- Dropping the columns drops their foreign key and the index bptl_timeline_task with them.
ALTER TABLE bptl_timeline DROP COLUMN engine, DROP COLUMN task_id;
ALTER TABLE bptl_timeline
    ADD FOREIGN KEY (task_seq) REFERENCES bptl_tasks (seq) ON DELETE CASCADE;
CREATE INDEX bptl_timeline_record ON bptl_timeline (task_seq, id);

DROP INDEX IF EXISTS bptl_tasks_business_key;
CREATE INDEX bptl_tasks_business_key ON bptl_tasks (business_key, created_at DESC)
    WHERE business_key IS NOT NULL;

-- Records by process instance without an index on process instance ids. Those ids are random,
-- and inserting at a random place of a large index cost a third of writing a record. Instead,
-- one small row per record holds the last 8 characters of its process instance id (random for
-- UUIDs, the fast-changing digits for numeric ids), numbered like the record: new rows go at the
-- end, and a lookup scans these rows (tens of milliseconds per million records), then reads the
-- few records whose id ends the same.
DROP INDEX bptl_tasks_process_instance;

CREATE TABLE bptl_process_instances (
    seq  INTEGER PRIMARY KEY,
    tail TEXT    NOT NULL
);

INSERT INTO bptl_process_instances (seq, tail)
SELECT seq, substr(process_instance_id, -8) FROM bptl_tasks
WHERE process_instance_id IS NOT NULL;

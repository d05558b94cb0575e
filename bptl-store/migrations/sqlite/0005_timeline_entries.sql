-- A row of the timeline may hold several entries of its task: the first in its own columns, the
-- ones that followed it in `entries`, a JSON array of [at, kind, message, data] arrays (at in
-- nanoseconds since the epoch, data as JSON). The store writes the entries a task recorded
-- between two write-throughs (typically all of a short task's) as one row. NULL: one entry.
ALTER TABLE bptl_timeline ADD COLUMN entries TEXT;

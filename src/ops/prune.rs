//! `prune`: delete old completed records, or every record of a process instance.

use std::io::Write;
use std::time::Duration;

use bptl_core::store::TaskStore;

use super::OpsError;

/// `prune --older-than AGE`: delete completed records (and timelines) last updated more than
/// `older_than` ago; returns how many.
pub async fn prune(
    store: &dyn TaskStore,
    older_than: Duration,
    out: &mut impl Write,
) -> Result<u64, OpsError> {
    let n = bptl_store::prune_older_than(store, older_than).await?;
    writeln!(
        out,
        "{n} completed task record(s) older than {} deleted",
        bptl_core::duration::format_duration(older_than)
    )?;
    Ok(n)
}

/// `prune --process-instance ID`: delete every record of the process instance `id`, whatever
/// its status, and their timelines; returns how many records.
pub async fn erase_process_instance(
    store: &dyn TaskStore,
    id: &str,
    out: &mut impl Write,
) -> Result<u64, OpsError> {
    let n = store.erase_process_instance(id).await?;
    writeln!(
        out,
        "{n} task record(s) of process instance {id} deleted, with their timelines"
    )?;
    Ok(n)
}

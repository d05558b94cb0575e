//! `tasks` (the stored records, a page at a time) and `tasks show ID` (one task in full).

use std::io::Write;

use bptl_core::store::{TaskFilter, TaskStore};

use super::format::{indent, pretty, table, when, when_opt};
use super::{OpsError, find};

/// `tasks`: the records passing `filter`, newest first, one line each, and how to see the next
/// page.
pub async fn tasks(
    store: &dyn TaskStore,
    filter: &TaskFilter,
    out: &mut impl Write,
) -> Result<(), OpsError> {
    let records = store.list(filter).await?;
    if records.is_empty() {
        writeln!(out, "no stored tasks match")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.key().to_string(),
                r.topic.clone(),
                r.status.to_string(),
                r.executions.to_string(),
                r.process_instance_id.clone().unwrap_or_else(|| "-".into()),
                when(r.created_at),
                when(r.updated_at),
                r.worker_id.clone(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "ID",
            "TOPIC",
            "STATUS",
            "RUNS",
            "PROCESS INSTANCE",
            "FETCHED (UTC)",
            "UPDATED (UTC)",
            "WORKER",
        ],
        &rows,
    )?;
    let shown = records.len();
    match filter.limit {
        Some(limit) if shown == limit => writeln!(
            out,
            "{shown} task(s) from #{}; next page: --offset {}",
            filter.offset + 1,
            filter.offset + shown
        )?,
        _ => writeln!(out, "{shown} task(s)")?,
    }
    Ok(())
}

/// `tasks show ID`: everything about one task: fields, variables, results, errors, timeline.
pub async fn show(store: &dyn TaskStore, id: &str, out: &mut impl Write) -> Result<(), OpsError> {
    let r = find(store, id).await?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    writeln!(out, "task            {}", r.key())?;
    writeln!(out, "topic           {}", r.topic)?;
    writeln!(out, "status          {}", r.status)?;
    writeln!(out, "runs            {}", r.executions)?;
    writeln!(out, "worker          {}", r.worker_id)?;
    writeln!(out, "process         {}", opt(&r.process_instance_id))?;
    writeln!(out, "business key    {}", opt(&r.business_key))?;
    writeln!(out, "priority        {}", r.priority)?;
    writeln!(
        out,
        "retries         {}",
        r.retries.map_or("-".into(), |n| n.to_string())
    )?;
    writeln!(out, "lock expires    {}", when_opt(r.lock_expires_at))?;
    writeln!(out, "fetched         {}", when(r.created_at))?;
    writeln!(out, "updated         {}", when(r.updated_at))?;
    writeln!(out, "reported        {}", when_opt(r.reported_at))?;
    writeln!(out, "variables:")?;
    write!(out, "{}", indent(&pretty(&r.variables)))?;
    writeln!(out, "result variables:")?;
    match &r.result_variables {
        Some(vars) => write!(out, "{}", indent(&pretty(&vars.to_json())))?,
        None => writeln!(out, "    -")?,
    }
    if let Some(e) = &r.execution_error {
        writeln!(out, "execution error:")?;
        write!(out, "{}", indent(e))?;
    }
    if let Some(e) = &r.engine_error {
        writeln!(out, "engine error:")?;
        write!(out, "{}", indent(e))?;
    }
    let timeline = store.timeline(&r.key()).await?;
    writeln!(out, "timeline ({} event(s)):", timeline.len())?;
    for entry in timeline {
        writeln!(
            out,
            "    {}  {:<13} {}",
            when(entry.at),
            entry.kind.as_str(),
            entry.message
        )?;
        if !entry.data.is_null() {
            writeln!(out, "        {}", entry.data)?;
        }
    }
    Ok(())
}

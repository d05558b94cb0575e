//! `stats`: counts per topic and status.

use std::io::Write;

use bptl_core::TaskStatus;
use bptl_core::store::TaskStore;
use jiff::Timestamp;

use super::OpsError;
use super::format::{table, when};

/// `stats`: counts per topic and status of the records fetched since `since` (the CLI passes
/// the last 24 hours by default), with totals.
pub async fn stats(
    store: &dyn TaskStore,
    since: Option<Timestamp>,
    out: &mut impl Write,
) -> Result<(), OpsError> {
    let rows = store.stats(since).await?;
    match since {
        Some(at) => writeln!(out, "tasks fetched since {} UTC", when(at))?,
        None => writeln!(out, "all stored tasks")?,
    }
    if rows.is_empty() {
        writeln!(out, "no stored tasks")?;
        return Ok(());
    }
    let mut topics: Vec<String> = rows.iter().map(|r| r.topic.clone()).collect();
    topics.dedup();
    let count = |topic: Option<&str>, status: Option<TaskStatus>| -> u64 {
        rows.iter()
            .filter(|r| topic.is_none_or(|t| r.topic == t) && status.is_none_or(|s| r.status == s))
            .map(|r| r.count)
            .sum()
    };
    let mut header = vec!["TOPIC"];
    header.extend(TaskStatus::ALL.iter().map(TaskStatus::as_str));
    header.push("total");
    let mut table_rows: Vec<Vec<String>> = topics
        .iter()
        .map(|topic| {
            let mut row = vec![topic.clone()];
            row.extend(
                TaskStatus::ALL
                    .iter()
                    .map(|s| count(Some(topic), Some(*s)).to_string()),
            );
            row.push(count(Some(topic), None).to_string());
            row
        })
        .collect();
    let mut total = vec!["(all topics)".to_owned()];
    total.extend(
        TaskStatus::ALL
            .iter()
            .map(|s| count(None, Some(*s)).to_string()),
    );
    total.push(count(None, None).to_string());
    table_rows.push(total);
    table(out, &header, &table_rows)?;
    Ok(())
}

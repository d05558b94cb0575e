//! `[[schedules]]`: cron schedules creating tasks (README, "Schedules"), read and checked with
//! every problem naming its key (`schedules[1].cron`).

use std::collections::BTreeMap;

use bptl_core::{TaskMapping, Value, Variables};
use serde::Deserialize;

use super::ConfigError;
use crate::schedule::{CatchUp, ENGINE_TYPE, Schedule};

/// One `[[schedules]]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct ScheduleModel {
    name: Option<String>,
    cron: Option<String>,
    timezone: Option<String>,
    topic: Option<String>,
    variables: BTreeMap<String, serde_json::Value>,
    active: Option<bool>,
    catch_up: Option<String>,
}

/// The schedules of `models`, checked against the task mappings (a schedule's topic needs a
/// mapping with `engine = "schedule"`).
pub(super) fn schedules(
    models: Vec<ScheduleModel>,
    mappings: &[TaskMapping],
    problems: &mut Vec<ConfigError>,
) -> Vec<Schedule> {
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut schedules = Vec::new();
    for (i, m) in models.into_iter().enumerate() {
        let path = format!("schedules[{i}]");
        let before = problems.len();
        let schedule = schedule(&path, m, mappings, problems);
        if let Some(s) = schedule.filter(|_| problems.len() == before) {
            if let Some(first) = names.get(s.name()) {
                problems.push(ConfigError::new(
                    format!("{path}.name"),
                    format!(
                        "the name '{}' is taken by schedules[{first}]: each schedule needs its own (its ticks are NAME@TIME)",
                        s.name()
                    ),
                ));
                continue;
            }
            names.insert(s.name().to_owned(), i);
            schedules.push(s);
        }
    }
    schedules
}

fn schedule(
    path: &str,
    m: ScheduleModel,
    mappings: &[TaskMapping],
    problems: &mut Vec<ConfigError>,
) -> Option<Schedule> {
    let mut problem = |key: &str, message: String| {
        problems.push(ConfigError::new(format!("{path}.{key}"), message));
    };
    let name = match m.name {
        None => {
            problem(
                "name",
                "missing: a name, unique among the schedules (its ticks' task ids are NAME@TIME)"
                    .to_owned(),
            );
            None
        }
        Some(n) if n.trim().is_empty() || n.contains('@') => {
            problem(
                "name",
                format!(
                    "'{n}' is not a schedule name: write a non-empty name without '@', e.g. \"nightly-report\""
                ),
            );
            None
        }
        Some(n) => Some(n),
    };
    let topic = match m.topic {
        None => {
            problem(
                "topic",
                "missing: the topic its tasks are created on (mapped with engine = \"schedule\")"
                    .to_owned(),
            );
            None
        }
        Some(t) => {
            if let Some(message) = unmapped(&t, mappings) {
                problem("topic", message);
            }
            Some(t)
        }
    };
    let cron = match m.cron {
        None => {
            problem("cron", "missing: a cron expression, e.g. \"0 2 * * *\" (5 fields) or \"*/30 * * * * *\" (6, seconds first)".to_owned());
            None
        }
        Some(c) => Some(c),
    };
    let mut variables = Variables::new();
    for (var, json) in m.variables {
        match typed_or_plain(&var, json) {
            Ok(value) => {
                variables.insert(var, value);
            }
            Err(message) => problem(&format!("variables.{var}"), message),
        }
    }
    let catch_up = match m.catch_up.as_deref().map(str::parse::<CatchUp>) {
        None => CatchUp::default(),
        Some(Ok(c)) => c,
        Some(Err(message)) => {
            problem("catch_up", message);
            CatchUp::default()
        }
    };
    let mut schedule = match Schedule::new(name?, &cron?, topic?) {
        Ok(s) => s,
        Err(message) => {
            problem("cron", message);
            return None;
        }
    };
    if let Some(zone) = m.timezone {
        schedule = match schedule.time_zone(&zone) {
            Ok(s) => s,
            Err(message) => {
                problem("timezone", message);
                return None;
            }
        };
    }
    Some(
        schedule
            .variables(variables)
            .active(m.active.unwrap_or(true))
            .catch_up(catch_up),
    )
}

/// Why `topic` cannot carry a schedule's tasks (`None`: a mapping with `engine = "schedule"`
/// maps it).
fn unmapped(topic: &str, mappings: &[TaskMapping]) -> Option<String> {
    match mappings.iter().find(|m| m.topic == topic) {
        Some(m) if m.engine == ENGINE_TYPE => None,
        Some(m) => Some(format!(
            "the topic '{topic}' is mapped for engine '{}': a schedule's topic needs a mapping with engine = \"{ENGINE_TYPE}\" (topics are unique, so give the schedule a topic of its own)",
            m.engine
        )),
        None => Some(format!(
            "no [[task_mappings]] maps the topic '{topic}': add one with topic = \"{topic}\", engine = \"{ENGINE_TYPE}\" and the unit as callback"
        )),
    }
}

/// A variable as written: Camunda's typed form (`{ type = "Long", value = 5 }`, with an
/// optional `valueInfo`), or a plain value (a string, number, boolean, list or table).
fn typed_or_plain(name: &str, json: serde_json::Value) -> Result<Value, String> {
    let typed = json.as_object().is_some_and(|fields| {
        fields
            .get("type")
            .and_then(serde_json::Value::as_str)
            .and_then(bptl_camunda::variables::canonical_type)
            .is_some()
            && fields
                .keys()
                .all(|k| matches!(k.as_str(), "type" | "value" | "valueInfo"))
    });
    if typed {
        bptl_camunda::variables::from_typed(name, &json).map_err(|e| e.problem)
    } else {
        Ok(Value::from(json))
    }
}

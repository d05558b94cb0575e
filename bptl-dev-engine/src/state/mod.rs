//! The engine state: deployments, process instances, external tasks, incidents, history.
//!
//! Everything lives behind one mutex in [`super::EngineCore`]; these functions run with the
//! lock held and never block.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::watch;

use bptl_core::DateValue;

use super::bpmn::ProcessModel;
use super::error::RestError;
use index::TopicQueue;

use super::variables::{StoredVariable, VariableContext, Variables, parse_variables};

mod deploy;
mod fetch;
mod history;
mod index;
mod instances;
mod render;
mod tasks;

pub(crate) use deploy::{Deployed, DeploymentRequest, DeploymentResource};
pub(crate) use fetch::{Locked, validate_fetch};
pub use history::DEFAULT_HISTORY_LIMIT;
pub(crate) use history::HistoryLimit;
use history::{ActiveInstances, Ended, HistoryIds, set_local_history, set_variables};

/// Camunda cuts incident messages to this many characters.
const MAX_INCIDENT_MESSAGE: usize = 666;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Milliseconds since the epoch as a date in the system time zone, as Camunda answers dates.
pub(crate) fn date_value(ms: i64) -> DateValue {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let offset = jiff::tz::TimeZone::system().to_offset(timestamp);
    DateValue { timestamp, offset }
}

/// Formats milliseconds since the epoch as a Camunda date in the system time zone (with the
/// one Camunda date formatter, [`DateValue::to_camunda_string`]).
pub(crate) fn format_date(ms: i64) -> String {
    date_value(ms).to_camunda_string()
}

/// A random UUID-shaped id, like Camunda's default id generator.
pub(crate) fn new_id() -> String {
    let v: u128 = rand::random();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The state of a process instance as the history reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstanceState {
    /// Running.
    Active,
    /// Ended normally (also after an uncaught BPMN error).
    Completed,
    /// Cancelled through the REST API (`DELETE /process-instance/{id}`).
    ExternallyTerminated,
}

impl InstanceState {
    /// Camunda's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Completed => "COMPLETED",
            Self::ExternallyTerminated => "EXTERNALLY_TERMINATED",
        }
    }
}

/// A deployed process definition.
#[derive(Debug)]
pub(crate) struct Definition {
    pub id: String,
    pub key: String,
    pub version: i64,
    pub resource: String,
    pub deployment_id: String,
    pub model: ProcessModel,
}

#[derive(Debug)]
struct Deployment {
    id: String,
    name: Option<String>,
    source: Option<String>,
    time: i64,
    resources: Vec<(String, String)>,
    definitions: Vec<String>,
}

/// A variable local to a task's execution, as history keeps it.
#[derive(Debug)]
struct LocalVar {
    var: StoredVariable,
    meta: HistoryVar,
    activity_instance_id: String,
}

#[derive(Debug)]
struct HistoryVar {
    id: String,
    create_time: i64,
}

#[derive(Debug)]
struct Instance {
    id: String,
    definition: Arc<Definition>,
    business_key: Option<String>,
    variables: Variables,
    var_meta: HashMap<String, HistoryVar>,
    /// Variables set locally on a task's execution (complete's and failure's
    /// `localVariables`), by (name, execution id): history lists them, as Camunda does.
    local_history: BTreeMap<(String, String), LocalVar>,
    state: InstanceState,
    start_time: i64,
    end_time: Option<i64>,
    delete_reason: Option<String>,
    open_task: Option<String>,
}

impl Instance {
    /// When the history of an ended instance is due for removal: its end plus the
    /// definition's history time to live (Camunda's default removal-time strategy `end`).
    fn removal_time(&self) -> Option<i64> {
        let days = self.definition.model.history_ttl_days?;
        self.end_time
            .map(|end| end.saturating_add(days.saturating_mul(86_400_000)))
    }
}

#[derive(Debug)]
struct Task {
    id: String,
    seq: u64,
    topic: String,
    priority: i64,
    instance_id: String,
    definition: Arc<Definition>,
    activity_id: String,
    activity_instance_id: String,
    execution_id: String,
    business_key: Option<String>,
    create_time: i64,
    worker_id: Option<String>,
    lock_expiration: Option<i64>,
    retries: Option<i64>,
    error_message: Option<String>,
    error_details: Option<String>,
    local_variables: Variables,
    incident: Option<String>,
}

impl Task {
    fn fetchable(&self, now: i64) -> bool {
        self.lock_expiration.is_none_or(|l| l <= now) && self.retries_left()
    }

    fn retries_left(&self) -> bool {
        self.retries.is_none_or(|r| r > 0)
    }
}

#[derive(Debug, Clone)]
struct Incident {
    id: String,
    time: i64,
    message: Option<String>,
    task_id: String,
    activity_id: String,
    execution_id: String,
    instance_id: String,
    definition_id: String,
}

/// Filters of `GET /external-task` (and the count).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskQuery {
    pub external_task_id: Option<String>,
    pub topic_name: Option<String>,
    pub worker_id: Option<String>,
    pub locked: Option<bool>,
    pub not_locked: Option<bool>,
    pub with_retries_left: Option<bool>,
    pub no_retries_left: Option<bool>,
    pub process_instance_id: Option<String>,
    pub activity_id: Option<String>,
    pub process_definition_id: Option<String>,
    pub process_definition_key: Option<String>,
    pub first_result: Option<usize>,
    pub max_results: Option<usize>,
}

/// What happened to the task set: topics that have newly fetchable work.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct Effects {
    /// Topics whose parked fetches should re-query.
    pub topics: HashSet<String>,
    /// New lock deadlines (ms) after which tasks may become fetchable (the timer's wake-up).
    pub deadlines: Vec<i64>,
    /// Whether an instance ended.
    pub instance_ended: bool,
}

impl Effects {
    fn merge(&mut self, other: Effects) {
        self.topics.extend(other.topics);
        self.deadlines.extend(other.deadlines);
        self.instance_ended |= other.instance_ended;
    }
}

/// The whole engine state.
#[derive(Debug, Default)]
pub(crate) struct State {
    deployments: Vec<Deployment>,
    definitions: HashMap<String, Arc<Definition>>,
    versions: HashMap<String, Vec<Arc<Definition>>>,
    /// The running instances and the kept history of ended ones (see [`history`]).
    instances: HashMap<String, Instance>,
    /// The running instances, indexed.
    active: ActiveInstances,
    /// The ended instances in `instances`, oldest first.
    ended: Ended,
    /// How many ended instances are kept.
    history_limit: HistoryLimit,
    /// Historic variable instances by id.
    history_ids: HistoryIds,
    tasks: HashMap<String, Task>,
    /// The fetchable tasks per topic (see [`index`]).
    queues: HashMap<String, TopicQueue>,
    /// Execution id → the id of the task it runs.
    executions: HashMap<String, String>,
    incidents: BTreeMap<(i64, String), Incident>,
    incident_keys: HashMap<String, (i64, String)>,
    signals: HashMap<String, watch::Sender<()>>,
    /// Pending lock deadlines: (expiry ms, task id), for locks that end in the future.
    deadlines: BTreeSet<(i64, String)>,
    seq: u64,
}

impl State {
    /// An empty state that keeps the history of at most `history_limit` ended instances.
    pub(crate) fn new(history_limit: HistoryLimit) -> Self {
        Self {
            history_limit,
            ..Self::default()
        }
    }

    /// The change signal of a topic.
    pub(crate) fn signal(&mut self, topic: &str) -> &watch::Sender<()> {
        self.signals
            .entry(topic.to_string())
            .or_insert_with(|| watch::channel(()).0)
    }

    /// Subscribes to the change signals of topics.
    pub(crate) fn subscribe(&mut self, topics: &[String]) -> Vec<watch::Receiver<()>> {
        topics.iter().map(|t| self.signal(t).subscribe()).collect()
    }

    /// Notifies parked fetches of the given topics.
    pub(crate) fn notify(&mut self, topics: &HashSet<String>) {
        for t in topics {
            if let Some(s) = self.signals.get(t) {
                s.send_replace(());
            }
        }
    }
}

fn string_var(value: Option<&str>) -> StoredVariable {
    StoredVariable {
        type_name: "String",
        value: value.map_or(Value::Null, |v| Value::String(v.to_string())),
        value_info: Map::new(),
        data: None,
    }
}

/// Parses variables of a request; errors are answered as Camunda does in `context`.
pub(crate) fn request_variables(
    raw: Option<&Value>,
    context: VariableContext<'_>,
) -> Result<Vec<(String, StoredVariable)>, RestError> {
    parse_variables(raw).map_err(|e| e.into_rest(context))
}

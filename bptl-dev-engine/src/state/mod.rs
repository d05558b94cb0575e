//! The engine state: deployments, process instances, external tasks, incidents, history.
//!
//! Everything lives behind one mutex in [`super::EngineCore`]; these functions run with the
//! lock held and never block.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use bptl_core::DateValue;

use super::bpmn::{NodeKind, ProcessModel, parse_bpmn};
use super::error::RestError;
use super::variables::{StoredVariable, VariableContext, Variables, parse_variables};

mod fetch;
mod render;
mod tasks;

pub(crate) use fetch::validate_fetch;

/// Camunda cuts incident messages to this many characters.
const MAX_INCIDENT_MESSAGE: usize = 666;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Formats milliseconds since the epoch as a Camunda date in the system time zone (with the
/// one Camunda date formatter, [`DateValue::to_camunda_string`]).
pub(crate) fn format_date(ms: i64) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let offset = jiff::tz::TimeZone::system().to_offset(timestamp);
    DateValue { timestamp, offset }.to_camunda_string()
}

fn opt_date(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(format_date(m)))
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
    /// New lock deadlines (ms) after which tasks may become fetchable.
    pub deadlines: Vec<(i64, String)>,
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

/// A file submitted for deployment.
#[derive(Debug, Clone)]
pub(crate) struct DeploymentResource {
    pub name: String,
    pub content: String,
}

/// Options of a deployment.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeploymentRequest {
    pub name: Option<String>,
    pub source: Option<String>,
    pub duplicate_filtering: bool,
    pub changed_only: bool,
    pub resources: Vec<DeploymentResource>,
}

/// The whole engine state.
#[derive(Debug, Default)]
pub(crate) struct State {
    deployments: Vec<Deployment>,
    definitions: HashMap<String, Arc<Definition>>,
    versions: HashMap<String, Vec<Arc<Definition>>>,
    instances: HashMap<String, Instance>,
    active_instances: usize,
    tasks: HashMap<String, Task>,
    /// Open tasks per topic, ordered by priority (desc) then creation (asc).
    topic_index: HashMap<String, BTreeMap<(Reverse<i64>, u64), String>>,
    incidents: BTreeMap<(i64, String), Incident>,
    incident_keys: HashMap<String, (i64, String)>,
    signals: HashMap<String, watch::Sender<()>>,
    /// Pending lock deadlines: (expiry ms, task id).
    pub deadlines: BinaryHeap<Reverse<(i64, String)>>,
    seq: u64,
}

impl State {
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

    /// Whether a task would be fetchable now and its lock ended at exactly `deadline`.
    pub(crate) fn expired_topic(&self, task_id: &str, deadline: i64, now: i64) -> Option<String> {
        let task = self.tasks.get(task_id)?;
        (task.lock_expiration == Some(deadline) && task.fetchable(now)).then(|| task.topic.clone())
    }

    // ----- deployments -----

    /// Deploys resources; returns the deployment JSON.
    pub(crate) fn deploy(&mut self, req: DeploymentRequest) -> Result<Value, RestError> {
        let mut resources = req.resources;
        if req.duplicate_filtering {
            let previous = |res: &DeploymentResource| -> Option<&str> {
                self.deployments
                    .iter()
                    .rev()
                    .filter(|d| d.name == req.name)
                    .find_map(|d| {
                        d.resources
                            .iter()
                            .find(|(n, _)| n == &res.name)
                            .map(|(_, c)| c.as_str())
                    })
            };
            let changed: Vec<bool> = resources
                .iter()
                .map(|r| previous(r) != Some(r.content.as_str()))
                .collect();
            if !changed.iter().any(|c| *c) {
                if let Some(d) = self.deployments.iter().rev().find(|d| d.name == req.name) {
                    let mut out = self.deployment_json(d, false);
                    out["deployedProcessDefinitions"] = Value::Null;
                    return Ok(out);
                }
            } else if req.changed_only {
                resources = resources
                    .into_iter()
                    .zip(changed)
                    .filter_map(|(r, c)| c.then_some(r))
                    .collect();
            }
        }
        let mut parsed = Vec::new();
        let mut problems = Vec::new();
        for res in &resources {
            let lower = res.name.to_ascii_lowercase();
            if !(lower.ends_with(".bpmn") || lower.ends_with(".bpmn20.xml")) {
                continue;
            }
            match parse_bpmn(&res.content) {
                Ok(models) => parsed.extend(models.into_iter().map(|m| (res.name.clone(), m))),
                Err(errs) => problems.extend(
                    errs.into_iter()
                        .map(|e| format!("* {e} | resource {}", res.name)),
                ),
            }
        }
        if !problems.is_empty() {
            return Err(RestError::parse(format!(
                "ENGINE-09005 Could not parse BPMN process. Errors: \n{}",
                problems.join("\n")
            )));
        }
        let mut keys = HashSet::new();
        for (_, model) in &parsed {
            if !keys.insert(model.key.clone()) {
                return Err(RestError::parse(format!(
                    "ENGINE-09005 Could not parse BPMN process. Errors: \n* The deployment contains definitions with the same key '{}' (id attribute), this is not allowed",
                    model.key
                )));
            }
        }
        let deployment_id = new_id();
        let mut ids = Vec::new();
        for (resource, model) in parsed {
            let versions = self.versions.entry(model.key.clone()).or_default();
            let version = versions.last().map_or(1, |d| d.version + 1);
            let def = Arc::new(Definition {
                id: format!("{}:{}:{}", model.key, version, new_id()),
                key: model.key.clone(),
                version,
                resource,
                deployment_id: deployment_id.clone(),
                model,
            });
            versions.push(def.clone());
            ids.push(def.id.clone());
            self.definitions.insert(def.id.clone(), def);
        }
        let deployment = Deployment {
            id: deployment_id,
            name: req.name,
            source: req.source,
            time: now_ms(),
            resources: resources.into_iter().map(|r| (r.name, r.content)).collect(),
            definitions: ids,
        };
        let out = self.deployment_json(&deployment, true);
        self.deployments.push(deployment);
        Ok(out)
    }

    /// The latest definition of a key.
    pub(crate) fn latest(&self, key: &str) -> Result<Arc<Definition>, RestError> {
        self.versions
            .get(key)
            .and_then(|v| v.last().cloned())
            .ok_or_else(|| {
                RestError::not_found(format!(
                    "No matching process definition with key: {key} and no tenant-id"
                ))
            })
    }

    /// A definition by id.
    pub(crate) fn definition(&self, id: &str) -> Result<Arc<Definition>, RestError> {
        self.definitions
            .get(id)
            .cloned()
            .ok_or_else(|| RestError::not_found(format!("No matching definition with id {id}")))
    }

    // ----- instances -----

    /// Starts an instance; returns its JSON and the effects.
    pub(crate) fn start_instance(
        &mut self,
        def: Arc<Definition>,
        variables: Vec<(String, StoredVariable)>,
        business_key: Option<String>,
    ) -> (Value, Effects) {
        let now = now_ms();
        let id = new_id();
        let mut instance = Instance {
            id: id.clone(),
            definition: def.clone(),
            business_key: business_key.clone(),
            variables: Variables::new(),
            var_meta: HashMap::new(),
            local_history: BTreeMap::new(),
            state: InstanceState::Active,
            start_time: now,
            end_time: None,
            delete_reason: None,
            open_task: None,
        };
        set_variables(&mut instance, variables, now);
        self.instances.insert(id.clone(), instance);
        self.active_instances += 1;
        let start = def.model.start.clone();
        let effects = self.advance(&id, &start);
        let ended = self
            .instances
            .get(&id)
            .is_none_or(|i| i.state != InstanceState::Active);
        let out = json!({
            "id": id,
            "definitionId": def.id,
            "definitionKey": def.key,
            "businessKey": business_key,
            "caseInstanceId": null,
            "ended": ended,
            "suspended": false,
            "tenantId": null,
            "links": [],
        });
        (out, effects)
    }

    /// Moves an instance on from `from` along its outgoing flow.
    fn advance(&mut self, instance_id: &str, from: &str) -> Effects {
        let mut effects = Effects::default();
        let Some(instance) = self.instances.get(instance_id) else {
            return effects;
        };
        let def = instance.definition.clone();
        let target = def.model.next.get(from).cloned();
        match target
            .as_ref()
            .and_then(|t| def.model.nodes.get(t).map(|n| (t, n)))
        {
            Some((activity, NodeKind::ServiceTask(task))) => {
                self.seq += 1;
                let now = now_ms();
                let id = new_id();
                let t = Task {
                    id: id.clone(),
                    seq: self.seq,
                    topic: task.topic.clone(),
                    priority: task.priority,
                    instance_id: instance_id.to_string(),
                    definition: def.clone(),
                    activity_id: activity.clone(),
                    activity_instance_id: format!("{activity}:{}", new_id()),
                    execution_id: new_id(),
                    business_key: instance.business_key.clone(),
                    create_time: now,
                    worker_id: None,
                    lock_expiration: None,
                    retries: None,
                    error_message: None,
                    error_details: None,
                    local_variables: Variables::new(),
                    incident: None,
                };
                self.topic_index
                    .entry(t.topic.clone())
                    .or_default()
                    .insert((Reverse(t.priority), t.seq), id.clone());
                effects.topics.insert(t.topic.clone());
                self.tasks.insert(id.clone(), t);
                if let Some(instance) = self.instances.get_mut(instance_id) {
                    instance.open_task = Some(id);
                }
            }
            Some((activity, NodeKind::Boundary(_) | NodeKind::Start)) => {
                // Not reachable through sequence flows in a valid model; treat as pass-through.
                let activity = activity.clone();
                effects.merge(self.advance(instance_id, &activity));
            }
            Some((_, NodeKind::End)) => {
                self.end_instance(instance_id, InstanceState::Completed, None);
                effects.instance_ended = true;
            }
            None => {
                self.end_instance(instance_id, InstanceState::Completed, None);
                effects.instance_ended = true;
            }
        }
        effects
    }

    fn end_instance(&mut self, instance_id: &str, state: InstanceState, reason: Option<String>) {
        let open_task = match self.instances.get_mut(instance_id) {
            Some(instance) if instance.state == InstanceState::Active => {
                instance.state = state;
                instance.end_time = Some(now_ms());
                instance.delete_reason = reason;
                instance.open_task.take()
            }
            _ => return,
        };
        self.active_instances = self.active_instances.saturating_sub(1);
        if let Some(task) = open_task {
            self.remove_task(&task);
        }
    }

    fn remove_task(&mut self, task_id: &str) -> Option<Task> {
        let task = self.tasks.remove(task_id)?;
        if let Some(index) = self.topic_index.get_mut(&task.topic) {
            index.remove(&(Reverse(task.priority), task.seq));
            if index.is_empty() {
                self.topic_index.remove(&task.topic);
            }
        }
        if let Some(incident) = &task.incident {
            self.remove_incident(incident);
        }
        if let Some(instance) = self.instances.get_mut(&task.instance_id)
            && instance.open_task.as_deref() == Some(task_id)
        {
            instance.open_task = None;
        }
        Some(task)
    }

    fn remove_incident(&mut self, id: &str) {
        if let Some(key) = self.incident_keys.remove(id) {
            self.incidents.remove(&key);
        }
    }

    fn active_instance(&self, id: &str) -> Result<&Instance, RestError> {
        self.instances
            .get(id)
            .filter(|i| i.state == InstanceState::Active)
            .ok_or_else(|| {
                RestError::invalid_not_found(format!(
                    "Process instance with id {id} does not exist"
                ))
            })
    }

    /// One variable of an active instance.
    pub(crate) fn instance_variable(
        &self,
        id: &str,
        name: &str,
    ) -> Result<StoredVariable, RestError> {
        let i = self.active_instance(id).map_err(|_| RestError {
            status: 500,
            kind: "RestException",
            message: format!(
                "Cannot get process instance variable {name}: execution {id} doesn't exist: execution is null"
            ),
            code: Some(0),
        })?;
        i.variables.get(name).cloned().ok_or_else(|| {
            RestError::invalid_not_found(format!(
                "process instance variable with name {name} does not exist"
            ))
        })
    }

    /// The state of an instance (also after it ended).
    pub(crate) fn instance_state(&self, id: &str) -> Option<InstanceState> {
        self.instances.get(id).map(|i| i.state)
    }

    /// The number of running instances.
    pub(crate) fn active_instance_count(&self) -> usize {
        self.active_instances
    }

    /// `DELETE /process-instance/{id}`.
    pub(crate) fn delete_instance(
        &mut self,
        id: &str,
        reason: Option<String>,
    ) -> Result<Effects, RestError> {
        self.active_instance(id).map_err(|_| RestError {
            code: Some(0),
            ..RestError::invalid_not_found(format!(
                "No process instance found for id '{id}': processInstance is null"
            ))
        })?;
        self.end_instance(id, InstanceState::ExternallyTerminated, reason);
        Ok(Effects {
            instance_ended: true,
            ..Effects::default()
        })
    }

    /// The variables local to an execution (a task's), `GET /execution/{id}/localVariables`.
    pub(crate) fn execution_local_variables(&self, id: &str) -> Result<&Variables, RestError> {
        self.tasks
            .values()
            .find(|t| t.execution_id == id)
            .map(|t| &t.local_variables)
            .ok_or_else(|| RestError {
                status: 500,
                kind: "NullValueException",
                message: format!("execution {id} doesn't exist: execution is null"),
                code: Some(0),
            })
    }

    /// One variable local to an execution, answered as Operaton 1.0 answers it.
    pub(crate) fn execution_local_variable(
        &self,
        id: &str,
        name: &str,
    ) -> Result<StoredVariable, RestError> {
        let vars = self.execution_local_variables(id).map_err(|_| RestError {
            status: 500,
            kind: "RestException",
            message: format!(
                "Cannot get execution variable {name}: execution {id} doesn't exist: execution is null"
            ),
            code: Some(0),
        })?;
        vars.get(name).cloned().ok_or_else(|| {
            RestError::invalid_not_found(format!(
                "execution variable with name {name} does not exist"
            ))
        })
    }

    /// A historic variable instance by its id (`GET /history/variable-instance/{id}/data`).
    pub(crate) fn history_variable(&self, id: &str) -> Result<StoredVariable, RestError> {
        self.instances
            .values()
            .find_map(|i| {
                let process_scope = i
                    .var_meta
                    .iter()
                    .find(|(_, m)| m.id == id)
                    .and_then(|(name, _)| i.variables.get(name));
                let local = || {
                    i.local_history
                        .values()
                        .find(|l| l.meta.id == id)
                        .map(|l| &l.var)
                };
                process_scope.or_else(local).cloned()
            })
            .ok_or_else(|| {
                RestError::invalid_not_found(format!(
                    "Historic variable instance with Id '{id}' does not exist."
                ))
            })
    }

    // ----- external tasks -----
}

fn string_var(value: Option<&str>) -> StoredVariable {
    StoredVariable {
        type_name: "String",
        value: value.map_or(Value::Null, |v| Value::String(v.to_string())),
        value_info: Map::new(),
        data: None,
    }
}

fn set_variables(instance: &mut Instance, variables: Vec<(String, StoredVariable)>, now: i64) {
    for (name, var) in variables {
        instance
            .var_meta
            .entry(name.clone())
            .or_insert_with(|| HistoryVar {
                id: new_id(),
                create_time: now,
            });
        instance.variables.insert(name, var);
    }
}

/// Records variables set locally on `task`'s execution for the history.
fn set_local_history(
    instance: &mut Instance,
    task: &Task,
    local: &[(String, StoredVariable)],
    now: i64,
) {
    for (name, var) in local {
        let key = (name.clone(), task.execution_id.clone());
        match instance.local_history.get_mut(&key) {
            Some(existing) => existing.var = var.clone(),
            None => {
                instance.local_history.insert(
                    key,
                    LocalVar {
                        var: var.clone(),
                        meta: HistoryVar {
                            id: new_id(),
                            create_time: now,
                        },
                        activity_instance_id: task.activity_instance_id.clone(),
                    },
                );
            }
        }
    }
}

/// Parses variables of a request; errors are answered as Camunda does in `context`.
pub(crate) fn request_variables(
    raw: Option<&Value>,
    context: VariableContext<'_>,
) -> Result<Vec<(String, StoredVariable)>, RestError> {
    parse_variables(raw).map_err(|e| e.into_rest(context))
}

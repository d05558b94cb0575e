//! The external-task requests: fetchAndLock and its topics, failure, BPMN error, queries.

use std::time::Duration;

use bptl_core::Variables;
use serde::{Serialize, Serializer};

use super::millis;
use crate::wire::{FetchAndLockBody, SortingBody, TopicBody};

/// `Some(true)` for `true`: a `false` flag is left out of the request (Camunda's default).
fn flag(b: bool) -> Option<bool> {
    b.then_some(true)
}

impl From<FetchTopic> for TopicBody {
    fn from(t: FetchTopic) -> Self {
        TopicBody {
            topic_name: Some(t.topic_name),
            lock_duration: Some(millis(t.lock_duration)),
            variables: t.variables,
            local_variables: flag(t.local_variables),
            business_key: t.business_key,
            process_definition_id: t.process_definition_id,
            process_definition_id_in: t.process_definition_id_in,
            process_definition_key: t.process_definition_key,
            process_definition_key_in: t.process_definition_key_in,
            process_definition_version_tag: t.process_definition_version_tag,
            without_tenant_id: flag(t.without_tenant_id),
            tenant_id_in: t.tenant_id_in,
            process_variables: t.process_variables,
            deserialize_values: flag(t.deserialize_values),
            include_extension_properties: flag(t.include_extension_properties),
        }
    }
}

impl From<FetchAndLock> for FetchAndLockBody {
    fn from(r: FetchAndLock) -> Self {
        let sorting = r
            .sorting
            .into_iter()
            .map(|s| SortingBody {
                sort_by: Some(s.sort_by),
                sort_order: Some(
                    match s.sort_order {
                        SortOrder::Asc => "asc",
                        SortOrder::Desc => "desc",
                    }
                    .to_owned(),
                ),
            })
            .collect::<Vec<_>>();
        FetchAndLockBody {
            worker_id: Some(r.worker_id),
            max_tasks: Some(i64::from(r.max_tasks)),
            use_priority: flag(r.use_priority),
            async_response_timeout: r.async_response_timeout.map(millis),
            sorting: (!sorting.is_empty()).then_some(sorting),
            topics: Some(r.topics.into_iter().map(TopicBody::from).collect()),
        }
    }
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// A sort criterion of fetchAndLock (Camunda 7.21+); Camunda sorts by `createTime` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchSorting {
    /// The field, `createTime`.
    pub sort_by: String,
    /// The direction.
    pub sort_order: SortOrder,
}

impl FetchSorting {
    /// Sort by creation time.
    pub fn create_time(order: SortOrder) -> Self {
        Self {
            sort_by: "createTime".to_owned(),
            sort_order: order,
        }
    }
}

/// One topic of a [`FetchAndLock`] request, with its filters.
///
/// ```
/// use bptl_camunda::FetchTopic;
/// use std::time::Duration;
/// let topic = FetchTopic::new("createOrder", Duration::from_secs(60))
///     .variables(["orderId"])
///     .business_key("order-7");
/// assert_eq!(
///     serde_json::to_value(&topic).unwrap(),
///     serde_json::json!({"topicName": "createOrder", "lockDuration": 60000,
///         "variables": ["orderId"], "businessKey": "order-7"})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "TopicBody")]
pub struct FetchTopic {
    /// The topic name.
    pub topic_name: String,
    /// How long fetched tasks stay locked (must be > 0).
    pub lock_duration: Duration,
    /// Only these variables (`None`: all).
    pub variables: Option<Vec<String>>,
    /// Only the task's local variables.
    pub local_variables: bool,
    /// Only tasks of process instances with this business key.
    pub business_key: Option<String>,
    /// Only tasks of this process definition.
    pub process_definition_id: Option<String>,
    /// Only tasks of these process definitions.
    pub process_definition_id_in: Option<Vec<String>>,
    /// Only tasks of process definitions with this key.
    pub process_definition_key: Option<String>,
    /// Only tasks of process definitions with one of these keys.
    pub process_definition_key_in: Option<Vec<String>>,
    /// Only tasks of process definitions with this version tag.
    pub process_definition_version_tag: Option<String>,
    /// Only tasks without a tenant.
    pub without_tenant_id: bool,
    /// Only tasks of these tenants.
    pub tenant_id_in: Option<Vec<String>>,
    /// Only tasks whose process variables equal these values (plain JSON values).
    pub process_variables: Option<serde_json::Map<String, serde_json::Value>>,
    /// Ask for Object values deserialized (this client reads both forms).
    pub deserialize_values: bool,
    /// Include the service task's extension properties (Camunda 7.14+).
    pub include_extension_properties: bool,
}

impl FetchTopic {
    /// A topic with a lock duration and no filters.
    pub fn new(topic_name: impl Into<String>, lock_duration: Duration) -> Self {
        Self {
            topic_name: topic_name.into(),
            lock_duration,
            variables: None,
            local_variables: false,
            business_key: None,
            process_definition_id: None,
            process_definition_id_in: None,
            process_definition_key: None,
            process_definition_key_in: None,
            process_definition_version_tag: None,
            without_tenant_id: false,
            tenant_id_in: None,
            process_variables: None,
            deserialize_values: false,
            include_extension_properties: false,
        }
    }

    /// Fetch only these variables.
    pub fn variables<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.variables = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Fetch only local variables.
    pub fn local_variables(mut self, local: bool) -> Self {
        self.local_variables = local;
        self
    }

    /// Only tasks of instances with this business key.
    pub fn business_key(mut self, key: impl Into<String>) -> Self {
        self.business_key = Some(key.into());
        self
    }

    /// Only tasks of this process definition key.
    pub fn process_definition_key(mut self, key: impl Into<String>) -> Self {
        self.process_definition_key = Some(key.into());
        self
    }

    /// Only tasks of these process definition keys.
    pub fn process_definition_key_in<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        keys: I,
    ) -> Self {
        self.process_definition_key_in = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Only tasks of these tenants.
    pub fn tenant_id_in<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.tenant_id_in = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Only tasks whose process variable `name` equals `value`.
    pub fn process_variable(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.process_variables
            .get_or_insert_with(Default::default)
            .insert(name.into(), value);
        self
    }

    /// Include extension properties.
    pub fn include_extension_properties(mut self, include: bool) -> Self {
        self.include_extension_properties = include;
        self
    }
}

/// A fetchAndLock request: `POST /external-task/fetchAndLock`.
///
/// ```
/// use bptl_camunda::{FetchAndLock, FetchTopic};
/// use std::time::Duration;
/// let request = FetchAndLock::new("aWorkerId", 2)
///     .use_priority(true)
///     .topic(FetchTopic::new("createOrder", Duration::from_secs(10)).variables(["orderId"]));
/// assert_eq!(
///     serde_json::to_value(&request).unwrap(),
///     serde_json::json!({"workerId": "aWorkerId", "maxTasks": 2, "usePriority": true,
///         "topics": [{"topicName": "createOrder", "lockDuration": 10000, "variables": ["orderId"]}]})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "FetchAndLockBody")]
pub struct FetchAndLock {
    /// The worker id the tasks are locked for.
    pub worker_id: String,
    /// At most this many tasks (0 answers `[]`).
    pub max_tasks: u32,
    /// Highest priority first.
    pub use_priority: bool,
    /// Long-poll this long when no task is available (`None`: answer at once; Camunda's
    /// maximum is 30 minutes).
    pub async_response_timeout: Option<Duration>,
    /// Sorting (Camunda 7.21+).
    pub sorting: Vec<FetchSorting>,
    /// The topics.
    pub topics: Vec<FetchTopic>,
}

impl FetchAndLock {
    /// A request for up to `max_tasks` tasks, without topics yet.
    pub fn new(worker_id: impl Into<String>, max_tasks: u32) -> Self {
        Self {
            worker_id: worker_id.into(),
            max_tasks,
            use_priority: false,
            async_response_timeout: None,
            sorting: Vec::new(),
            topics: Vec::new(),
        }
    }

    /// Add a topic.
    pub fn topic(mut self, topic: FetchTopic) -> Self {
        self.topics.push(topic);
        self
    }

    /// Highest priority first.
    pub fn use_priority(mut self, use_priority: bool) -> Self {
        self.use_priority = use_priority;
        self
    }

    /// Long-poll up to `timeout` when no task is available.
    pub fn long_poll(mut self, timeout: Duration) -> Self {
        self.async_response_timeout = Some(timeout);
        self
    }

    /// Add a sort criterion.
    pub fn sort(mut self, sorting: FetchSorting) -> Self {
        self.sorting.push(sorting);
        self
    }
}

/// A failure report: `POST /external-task/{id}/failure`.
///
/// `retries` is always sent (Camunda reads an absent value as 0, an immediate incident).
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRequest {
    /// The worker holding the lock.
    pub worker_id: String,
    /// The message (shown in the incident, cut by Camunda to 666 characters).
    pub error_message: String,
    /// Longer details, e.g. the error chain.
    pub error_details: Option<String>,
    /// Retries left; 0 raises an incident.
    pub retries: i32,
    /// When the task may be fetched again.
    pub retry_timeout: Duration,
    /// Process variables to set.
    pub variables: Variables,
    /// Local variables to set.
    pub local_variables: Variables,
}

impl FailureRequest {
    /// A failure with a message, the retries left and the retry timeout.
    pub fn new(
        worker_id: impl Into<String>,
        error_message: impl Into<String>,
        retries: i32,
        retry_timeout: Duration,
    ) -> Self {
        Self {
            worker_id: worker_id.into(),
            error_message: error_message.into(),
            error_details: None,
            retries,
            retry_timeout,
            variables: Variables::new(),
            local_variables: Variables::new(),
        }
    }

    /// Set the details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.error_details = Some(details.into());
        self
    }

    /// Set process variables.
    pub fn variables(mut self, variables: Variables) -> Self {
        self.variables = variables;
        self
    }

    /// Set local variables.
    pub fn local_variables(mut self, variables: Variables) -> Self {
        self.local_variables = variables;
        self
    }
}

/// A BPMN error: `POST /external-task/{id}/bpmnError`.
#[derive(Debug, Clone, PartialEq)]
pub struct BpmnErrorRequest {
    /// The worker holding the lock.
    pub worker_id: String,
    /// The error code the boundary event matches.
    pub error_code: String,
    /// A message.
    pub error_message: Option<String>,
    /// Variables to set.
    pub variables: Variables,
}

impl BpmnErrorRequest {
    /// A BPMN error with a code.
    pub fn new(worker_id: impl Into<String>, error_code: impl Into<String>) -> Self {
        Self {
            worker_id: worker_id.into(),
            error_code: error_code.into(),
            error_message: None,
            variables: Variables::new(),
        }
    }

    /// Set the message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.error_message = Some(message.into());
        self
    }

    /// Set variables.
    pub fn variables(mut self, variables: Variables) -> Self {
        self.variables = variables;
        self
    }
}

/// Filters of `GET /external-task` and `GET /external-task/count`.
///
/// ```
/// use bptl_camunda::ExternalTaskQuery;
/// let query = ExternalTaskQuery { topic_name: Some("createOrder".into()), locked: Some(true),
///     ..Default::default() };
/// assert_eq!(
///     serde_json::to_value(&query).unwrap(),
///     serde_json::json!({"topicName": "createOrder", "locked": true})
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalTaskQuery {
    /// Only this task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_task_id: Option<String>,
    /// Only tasks of this topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// Only tasks locked by this worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Only tasks with a valid lock (`Some(true)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// Only tasks without a valid lock (`Some(true)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_locked: Option<bool>,
    /// Only tasks with retries left (`Some(true)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_retries_left: Option<bool>,
    /// Only tasks without retries left (`Some(true)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_retries_left: Option<bool>,
    /// Only tasks of this process instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_instance_id: Option<String>,
    /// Only tasks of this process definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_definition_id: Option<String>,
    /// Only tasks of this activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    /// Only tasks of this execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Only tasks of these tenants (comma-separated on the wire).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "comma_separated"
    )]
    pub tenant_id_in: Option<Vec<String>>,
    /// Only active tasks (`Some(true)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Only suspended tasks (`Some(true)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// Only tasks with a priority ≥ this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_higher_than_or_equals: Option<i64>,
    /// Only tasks with a priority ≤ this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_lower_than_or_equals: Option<i64>,
    /// Sort by (`id`, `lockExpirationTime`, `processInstanceId`, `taskPriority`, ...);
    /// needs `sort_order`. Ignored by the count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// The sort direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// Paging: the first result. Ignored by the count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_result: Option<u32>,
    /// Paging: at most this many results. Ignored by the count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
}

fn comma_separated<S: Serializer>(values: &Option<Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
    match values {
        Some(v) => s.serialize_str(&v.join(",")),
        None => s.serialize_none(),
    }
}

impl ExternalTaskQuery {
    /// The query without sorting and paging, for the count.
    pub(crate) fn for_count(&self) -> Self {
        Self {
            sort_by: None,
            sort_order: None,
            first_result: None,
            max_results: None,
            ..self.clone()
        }
    }
}

//! [`ExternalTask`]: a task fetched from Camunda, as work units receive it.

use std::any::Any;
use std::collections::BTreeMap;

use bptl_core::{BaseTask, DateValue, FileValue, UnitError, Value, Variables};
use jiff::Timestamp;
use serde::Deserialize;

use crate::client::CamundaClient;
use crate::error::CamundaError;
use crate::variables::variables_from_typed_map;
use crate::wire::ExternalTaskBody;

/// An external task as Camunda describes it (fetchAndLock, `GET /external-task/{id}`).
///
/// Implements [`BaseTask`], so work units read it like any task; downcast a `&dyn BaseTask` with
/// `task.downcast_ref::<ExternalTask>()` to reach the Camunda fields.
///
/// ```
/// use bptl_camunda::ExternalTask;
/// use bptl_core::{BaseTask, Value};
///
/// let task = ExternalTask::from_json(serde_json::json!({
///     "id": "t1", "topicName": "createOrder", "workerId": "w1", "priority": 4,
///     "lockExpirationTime": "2015-10-06T16:34:42.000+0200",
///     "variables": {"orderId": {"type": "String", "value": "1234", "valueInfo": {}}}
/// })).unwrap();
/// assert_eq!(task.topic_name(), "createOrder");
/// assert_eq!(task.get_variables().unwrap().get("orderId"), Some(&Value::from("1234")));
/// assert!(task.is_expired());
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "ExternalTaskBody")]
#[non_exhaustive]
pub struct ExternalTask {
    /// The external task id.
    pub id: String,
    /// The topic.
    pub topic_name: String,
    /// The worker holding the lock, if locked.
    pub worker_id: Option<String>,
    /// The process instance.
    pub process_instance_id: Option<String>,
    /// The process definition id.
    pub process_definition_id: Option<String>,
    /// The process definition key.
    pub process_definition_key: Option<String>,
    /// The process definition's version tag.
    pub process_definition_version_tag: Option<String>,
    /// The process instance's business key.
    pub business_key: Option<String>,
    /// The BPMN activity id of the service task.
    pub activity_id: Option<String>,
    /// The activity instance id.
    pub activity_instance_id: Option<String>,
    /// The execution id.
    pub execution_id: Option<String>,
    /// The priority (higher first when fetching with `usePriority`).
    pub priority: i64,
    /// Retries left; `None` until the first failure.
    pub retries: Option<i32>,
    /// The tenant, if any.
    pub tenant_id: Option<String>,
    /// When the lock expires, if locked.
    pub lock_expiration_time: Option<DateValue>,
    /// When the task was created (Camunda 7.21+).
    pub create_time: Option<DateValue>,
    /// The service task's extension properties (with `includeExtensionProperties`).
    pub extension_properties: BTreeMap<String, String>,
    /// The message of the last failure.
    pub error_message: Option<String>,
    /// The details of the last failure (only on `GET /external-task/{id}/errorDetails`, and in
    /// fetchAndLock answers of some versions).
    pub error_details: Option<String>,
    /// Whether the task is suspended.
    pub suspended: bool,
    /// The variables exactly as fetched: `{"name": {"value", "type", "valueInfo"}}`.
    pub variables: serde_json::Map<String, serde_json::Value>,
}

impl TryFrom<ExternalTaskBody> for ExternalTask {
    type Error = String;

    /// Reads the wire body: absent or `null` fields are `None` (empty, 0, `false` for the
    /// topic, priority, extension properties, suspension and variables); dates must be in
    /// Camunda's format.
    fn try_from(b: ExternalTaskBody) -> Result<Self, String> {
        let date = |text: Option<String>| -> Result<Option<DateValue>, String> {
            text.map(|t| DateValue::parse(&t).map_err(|e| e.to_string()))
                .transpose()
        };
        let retries = b
            .retries
            .map(|r| i32::try_from(r).map_err(|_| format!("retries {r} is out of range")))
            .transpose()?;
        Ok(Self {
            id: b.id,
            topic_name: b.topic_name.unwrap_or_default(),
            worker_id: b.worker_id,
            process_instance_id: b.process_instance_id,
            process_definition_id: b.process_definition_id,
            process_definition_key: b.process_definition_key,
            process_definition_version_tag: b.process_definition_version_tag,
            business_key: b.business_key,
            activity_id: b.activity_id,
            activity_instance_id: b.activity_instance_id,
            execution_id: b.execution_id,
            priority: b.priority.unwrap_or_default(),
            retries,
            tenant_id: b.tenant_id,
            lock_expiration_time: date(b.lock_expiration_time)?,
            create_time: date(b.create_time)?,
            extension_properties: b.extension_properties.unwrap_or_default(),
            error_message: b.error_message,
            error_details: b.error_details.flatten(),
            suspended: b.suspended.unwrap_or_default(),
            variables: b.variables.unwrap_or_default(),
        })
    }
}

impl ExternalTask {
    /// Read a task from Camunda's JSON.
    pub fn from_json(json: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(json)
    }

    /// Whether the lock has expired (expiry ≤ now). A task that is not locked is not expired.
    pub fn is_expired(&self) -> bool {
        self.is_expired_at(Timestamp::now())
    }

    /// Whether the lock has expired at `now`.
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.lock_expiration_time
            .is_some_and(|expiry| expiry.timestamp <= now)
    }

    /// The variables as [`Value`]s, with the error naming a variable that cannot be read.
    pub fn variables(&self) -> Result<Variables, crate::variables::VariableError> {
        variables_from_typed_map(&self.variables)
    }

    /// Download the content of the File variable `name` from the task's process instance.
    ///
    /// The metadata (file name, MIME type, encoding) comes from the fetched variable when it
    /// is there; the content from the task's own scope
    /// (`GET /execution/{executionId}/localVariables/{name}/data`) when the variable is local to
    /// it, else from `GET /process-instance/{id}/variables/{name}/data`.
    pub async fn download_file(
        &self,
        client: &CamundaClient,
        name: &str,
    ) -> Result<FileValue, CamundaError> {
        let Some(process_instance_id) = self.process_instance_id.as_deref() else {
            return Err(CamundaError::Config(format!(
                "external task {} has no process instance to download the file '{name}' from",
                self.id
            )));
        };
        let mut file = match self.variables.get(name) {
            Some(typed) => match crate::variables::from_typed(name, typed)? {
                Value::File(file) => file,
                other => {
                    return Err(CamundaError::Variable(crate::variables::VariableError {
                        name: name.to_owned(),
                        problem: format!("is {}, not a File", other.describe()),
                    }));
                }
            },
            None => FileValue {
                filename: name.to_owned(),
                mime_type: None,
                encoding: None,
                content: None,
            },
        };
        // The nearest scope first: the task's own execution holds a variable of the task's
        // scope (input mappings, local variables), which the process instance's variables do
        // not show (404 "process instance variable with name ... does not exist").
        if let Some(execution_id) = self
            .execution_id
            .as_deref()
            .filter(|e| *e != process_instance_id)
        {
            match client
                .get_execution_local_variable_data(execution_id, name)
                .await
            {
                Ok(content) => {
                    file.content = Some(content);
                    return Ok(file);
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        file.content = Some(
            client
                .get_process_variable_data(process_instance_id, name)
                .await?,
        );
        Ok(file)
    }
}

impl BaseTask for ExternalTask {
    fn task_id(&self) -> &str {
        &self.id
    }

    fn topic_name(&self) -> &str {
        &self.topic_name
    }

    fn get_variables(&self) -> Result<Variables, UnitError> {
        self.variables().map_err(UnitError::other)
    }

    fn variable(&self, name: &str) -> Option<Result<Value, UnitError>> {
        self.variables
            .get(name)
            .map(|typed| crate::variables::from_typed(name, typed).map_err(UnitError::other))
    }

    fn engine_type(&self) -> &str {
        "camunda"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn process_instance_id(&self) -> Option<&str> {
        self.process_instance_id.as_deref()
    }

    fn business_key(&self) -> Option<&str> {
        self.business_key.as_deref()
    }

    fn lock_expires_at(&self) -> Option<Timestamp> {
        self.lock_expiration_time.map(|d| d.timestamp)
    }

    fn worker_id(&self) -> Option<&str> {
        self.worker_id.as_deref()
    }

    fn retries(&self) -> Option<i32> {
        self.retries
    }

    fn priority(&self) -> i64 {
        self.priority
    }

    fn raw_variables(&self) -> serde_json::Value {
        serde_json::Value::Object(self.variables.clone())
    }
}
